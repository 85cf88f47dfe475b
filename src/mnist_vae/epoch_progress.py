"""What the compiled epoch loops of both backends share: the validation batch and the
progress line, which reads as Keras's own ``fit`` prints it."""

import sys

VALIDATION_BATCH = 1000


def report(epoch: int, epochs: int, seconds: float, metrics: dict[str, float]) -> None:
    values = " - ".join(f"{name}: {value:.4f}" for name, value in metrics.items())
    print(f"Epoch {epoch}/{epochs} - {seconds:.1f}s - {values}", file=sys.stdout, flush=True)
