"""Fitting through Keras's own ``fit``, with the pipeline's per-epoch hooks as callbacks,
dynamic binarization as a ``PyDataset``, and the epoch loops' progress line (with the
time left) in place of Keras's own."""

import time

import keras

from mnist_vae.config import TrainConfig
from mnist_vae.mnist import data
from mnist_vae.runtime.epoch_progress import Progress
from mnist_vae.training import epoch_draws


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
    """Shuffles, and samples every batch's pixels anew, as in the IWAE paper, by the
    draws' rule (``epoch_draws``): no batch depends on which batches Keras read before it
    (it reads some to learn their shape)."""

    def __init__(self, split: data.Split, batch_size: int, seed: int, labels: bool):
        super().__init__()
        self.x = data.as_inputs(split.images)
        self.y = split.labels if labels else None
        self.batch_size = batch_size
        self.seed = seed
        self.start(0)

    def start(self, epoch: int, logs=None) -> None:
        """Draws the order of Keras's ``epoch``, which its callbacks count from 0."""
        self.epoch = epoch + 1
        self.order = epoch_draws.numpy_order(len(self.x), self.seed, self.epoch)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = epoch_draws.numpy_pixels(self.x[rows], self.seed, self.epoch, index)
        return (x,) if self.y is None else (x, self.y[rows])


def _floats(logs: dict) -> dict[str, float]:
    return {name: float(value) for name, value in logs.items()}
