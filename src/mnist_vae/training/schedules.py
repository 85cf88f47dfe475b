"""What changes with the epoch: the learning rate (constant, Burda et al.'s stages, or
stages of one's own), and the bound trained on (the ELBO first, for a fine-tune).

The rate is set once at the start of each epoch, as the IWAE paper's schedule is written
in epochs; the optimizer's rate is a variable, so changing it recompiles nothing. The
bound is fixed when the training step is traced, so each stretch under one bound is
fitted by its own compiled step (``objective_phases``).
"""

import dataclasses
import re

from mnist_vae.config import ModelConfig, TrainConfig

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


def due(epoch: int, every: int, epochs: int) -> bool:
    """Whether a hook that acts every ``every`` epochs acts after ``epoch``: it always
    acts after the last, so that a run ends with its final state written."""
    return epoch % every == 0 or epoch == epochs


class Stepper:
    """An epoch hook that sets the rate of the epoch to come; ``start`` sets the first."""

    def __init__(self, optimizer, train_config: TrainConfig):
        self.optimizer = optimizer
        self.train_config = train_config

    def start(self, epoch: int) -> None:
        self.optimizer.learning_rate = rate(self.train_config, epoch)

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        self.start(epoch + 1)


def objective_at(model_config: ModelConfig, train_config: TrainConfig, epoch: int):
    """The model config trained on at ``epoch``: the ELBO's up to ``elbo_epochs``, then
    ``model_config`` itself."""
    if epoch > train_config.elbo_epochs:
        return model_config
    return dataclasses.replace(model_config, objective="elbo")


def objective_phases(train_config: TrainConfig, initial_epoch: int) -> list[tuple[int, int]]:
    """The (first, last) epochs of each stretch under one bound, from ``initial_epoch`` + 1
    to ``epochs``."""
    switch = min(max(train_config.elbo_epochs, initial_epoch), train_config.epochs)
    stretches = [(initial_epoch, switch), (switch, train_config.epochs)]
    return [(start + 1, end) for start, end in stretches if end > start]
