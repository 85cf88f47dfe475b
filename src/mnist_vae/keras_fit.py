"""Fitting through Keras's own ``fit``, with the pipeline's per-epoch hooks as callbacks
and dynamic binarization as a ``PyDataset``."""

import keras
import numpy as np

from mnist_vae import data
from mnist_vae.config import TrainConfig


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
    if binarize == "dynamic":
        x, y = (
            _DynamicBinarization(train, train_config.batch_size, train_config.seed, labels),
            None,
        )
    else:
        x = data.as_inputs(train.images, binarize, train_config.seed)
        y = train.labels if labels else None
    val_x = data.validation_inputs(val, binarize, train_config.seed)
    hooks = [
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, hook=hook: hook(epoch + 1, _floats(logs))
        )
        for hook in on_epoch_end
    ]
    vae.fit(
        x,
        y,
        validation_data=(val_x, val.labels) if labels else (val_x,),
        batch_size=None if binarize == "dynamic" else train_config.batch_size,
        epochs=train_config.epochs,
        initial_epoch=initial_epoch,
        shuffle=True,
        callbacks=hooks,
        verbose=verbose,
    )


class _DynamicBinarization(keras.utils.PyDataset):
    """Shuffles, and samples every batch's pixels anew, as in the IWAE paper."""

    def __init__(self, split: data.Split, batch_size: int, seed: int, labels: bool):
        super().__init__()
        self.x = data.as_inputs(split.images)
        self.y = split.labels if labels else None
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(self.x))

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = data.sample_pixels(self.x[rows], self.rng)
        return (x,) if self.y is None else (x, self.y[rows])

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.x))


def _floats(logs: dict) -> dict[str, float]:
    return {name: float(value) for name, value in logs.items()}
