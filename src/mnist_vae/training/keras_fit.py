"""Fitting through Keras's own ``fit``, with the pipeline's per-epoch hooks as callbacks,
dynamic binarization as a ``PyDataset``, and the epoch loops' progress line (with the
time left) in place of Keras's own."""

import time

import keras
import numpy as np

from mnist_vae.config import TrainConfig
from mnist_vae.mnist import data
from mnist_vae.runtime.epoch_progress import Progress


def fit(
    vae,
    train_config: TrainConfig,
    train: data.Split,
    val: data.Split,
    on_epoch_end,
    verbose,
    initial_epoch: int = 0,
) -> None:
    """``training.fit`` through Keras's own ``fit``: the loop every backend and
    ``tf.distribute`` support."""
    binarize = vae.model_config.binarize
    labels = vae.model_config.conditional
    hooks = [
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, hook=hook: hook(epoch + 1, _floats(logs))
        )
        for hook in on_epoch_end
    ]
    if binarize == "dynamic":
        x, y = (
            _DynamicBinarization(train, train_config.batch_size, train_config.seed, labels),
            None,
        )
        hooks.append(keras.callbacks.LambdaCallback(on_epoch_begin=x.start))
    else:
        x = data.as_inputs(train.images, binarize, train_config.seed)
        y = train.labels if labels else None
    if verbose:
        hooks.append(_ProgressLine(Progress(train_config.epochs)))
    val_x = data.validation_inputs(val, binarize, train_config.seed)
    vae.fit(
        x,
        y,
        validation_data=(val_x, val.labels) if labels else (val_x,),
        batch_size=None if binarize == "dynamic" else train_config.batch_size,
        epochs=train_config.epochs,
        initial_epoch=initial_epoch,
        shuffle=binarize != "dynamic",  # a PyDataset's own order, not Keras's
        callbacks=hooks,
        verbose=0,
    )


class _ProgressLine(keras.callbacks.Callback):
    """One line per epoch, after the hooks, as the epoch loops print it."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        self.progress.report(epoch + 1, seconds, _floats(logs))


class _DynamicBinarization(keras.utils.PyDataset):
    """Shuffles, and samples every batch's pixels anew, as in the IWAE paper.

    Epoch e's order comes from (seed, e) and each batch's pixels from (seed, e, batch)
    alone, as in the epoch loop. So a stretch that starts later (a resumed run, a
    fine-tune's second bound) goes on with its epochs' own draws, and no batch depends on
    which batches Keras read before it (it reads some to learn their shape).
    """

    def __init__(self, split: data.Split, batch_size: int, seed: int, labels: bool):
        super().__init__()
        self.x = data.as_inputs(split.images)
        self.y = split.labels if labels else None
        self.batch_size = batch_size
        self.seed = seed
        self.start(0)

    def start(self, epoch: int, logs=None) -> None:
        """Draws the order of ``epoch``, counted from 0 as Keras's callbacks count."""
        self.epoch = epoch
        self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        x = data.sample_pixels(self.x[rows], rng)
        return (x,) if self.y is None else (x, self.y[rows])


def _floats(logs: dict) -> dict[str, float]:
    return {name: float(value) for name, value in logs.items()}
