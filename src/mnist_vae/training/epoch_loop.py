"""What both backends' compiled epoch loops share: the run from epoch to epoch, each
epoch's training and then its validation, the hooks after them, and the progress line.

A backend's loop says how one epoch trains and how validation scores, each a compiled
call that returns its metrics; the epochs are counted from 1, as the hooks and the
draws (``epoch_draws``) count them.
"""

import abc
import time

from mnist_vae.runtime.epoch_progress import Progress


class EpochLoop(abc.ABC):
    """Fits ``vae`` for ``train_config.epochs`` epochs, scoring validation after each."""

    def __init__(self, vae, train_config):
        self.vae = vae
        self.train_config = train_config
        self.dynamic = vae.model_config.binarize == "dynamic"

    def run(self, on_epoch_end, verbose, initial_epoch: int = 0) -> None:
        progress = Progress(self.train_config.epochs)
        for epoch in range(initial_epoch + 1, self.train_config.epochs + 1):
            start = time.perf_counter()
            metrics = self.train_epoch(epoch)
            metrics.update({f"val_{name}": value for name, value in self.validate().items()})
            for hook in on_epoch_end:
                hook(epoch, metrics)
            if verbose:
                progress.report(epoch, time.perf_counter() - start, metrics)

    @abc.abstractmethod
    def train_epoch(self, epoch: int) -> dict[str, float]:
        """Trains epoch ``epoch`` (from 1); returns its mean loss and terms."""

    @abc.abstractmethod
    def validate(self) -> dict[str, float]:
        """The validation loss and terms of the weights as they are now."""
