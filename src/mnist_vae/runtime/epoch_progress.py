"""What the compiled epoch loops of both backends share: the validation batch and the
progress line, which reads as Keras's own ``fit`` prints it, plus the time left.

A line per epoch, with no carriage return, reads the same in a terminal and in a log file
(``dvc queue logs``, CI, a Slurm output file). The time left is the mean of this process's
epochs after its first, which also traces and compiles, times the epochs still to run.
"""

import statistics
import sys

VALIDATION_BATCH = 1000


class Progress:
    def __init__(self, epochs: int):
        self.epochs = epochs
        self.seconds: list[float] = []

    def report(self, epoch: int, seconds: float, metrics: dict[str, float]) -> None:
        self.seconds.append(seconds)
        steady = self.seconds[1:] or self.seconds
        left = statistics.fmean(steady) * (self.epochs - epoch)
        values = " - ".join(f"{name}: {value:.4f}" for name, value in metrics.items())
        print(
            f"Epoch {epoch}/{self.epochs} - {seconds:.1f}s - {values} - {duration(left)} left",
            file=sys.stdout,
            flush=True,
        )


def duration(seconds: float) -> str:
    """``2h 05m``, ``4m 10s`` or ``12s``: what a person reads at a glance."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
