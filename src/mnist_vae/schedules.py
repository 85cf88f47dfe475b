"""The learning rate by epoch: constant, Burda et al.'s stages, or stages of one's own.

The rate is set once at the start of each epoch, as the IWAE paper's schedule is written
in epochs; the optimizer's rate is a variable, so changing it recompiles nothing.
"""

import re

from mnist_vae.config import TrainConfig

PAPER_STAGES = 8


def stages(train_config: TrainConfig) -> list[tuple[int, float]]:
    """The schedule as (epochs, learning rate) stages; the last one goes on for ever."""
    if train_config.schedule == "constant":
        return [(1, train_config.learning_rate)]
    if train_config.schedule == "iwae":
        return [(3**i, train_config.learning_rate * 10 ** (-i / 7)) for i in range(PAPER_STAGES)]
    return [
        (int(epochs), float(rate))
        for epochs, rate in re.findall(r"([0-9]+):([^,]+)", train_config.schedule)
    ]


def rate(train_config: TrainConfig, epoch: int) -> float:
    """The learning rate of ``epoch``, counting from 1."""
    end = 0
    for epochs, value in stages(train_config):
        end += epochs
        if epoch <= end:
            return value
    return value


def total_epochs(train_config: TrainConfig) -> int:
    """The epochs that the schedule's stages span, which a preset matches ``epochs`` to."""
    return sum(epochs for epochs, _ in stages(train_config))


class Stepper:
    """An epoch hook that sets the rate of the epoch to come; ``start`` sets the first."""

    def __init__(self, optimizer, train_config: TrainConfig):
        self.optimizer = optimizer
        self.train_config = train_config

    def start(self, epoch: int) -> None:
        self.optimizer.learning_rate = rate(self.train_config, epoch)

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        self.start(epoch + 1)
