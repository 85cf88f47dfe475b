"""Fitting the VAE with Keras's own ``fit``, on whatever device the backend sees."""

import math
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from mnist_vae import data, model
from mnist_vae.config import ModelConfig, TrainConfig

EpochHook = Callable[[int, dict[str, float]], None]


def build(model_config: ModelConfig, seed: int) -> model.VAE:
    """An untrained VAE whose initial weights depend on ``seed`` alone."""
    keras.utils.set_random_seed(seed)
    return model.build_vae(model_config, seed=seed)


def fit(
    vae: model.VAE,
    config: TrainConfig,
    train: data.Split,
    val: data.Split,
    on_epoch_end: Sequence[EpochHook] = (),
    verbose: int | str = "auto",
) -> dict[str, float]:
    """Fits ``vae`` on the training split, scoring the validation split after every epoch.

    Args:
        vae: a model from ``build``; its config says how to binarize the images and
            whether the digit labels are needed.
        config: the optimiser, batch size, epochs and seed.
        train: the training images and labels.
        val: the validation images and labels.
        on_epoch_end: called as ``hook(epoch, metrics)`` after each epoch, ``epoch``
            counting from 1 and ``metrics`` holding the train and ``val_`` losses.
        verbose: Keras's progress display: "auto", 0, 1 (a bar) or 2 (a line per epoch).

    Returns:
        The speed: seconds per epoch (validation included) and training examples per
        second.
    """
    binarize = vae.config.binarize
    labels = vae.config.conditional
    if binarize == "dynamic":
        x, y = _DynamicBinarization(train, config.batch_size, config.seed, labels), None
    else:
        x = data.as_inputs(train.images, binarize, config.seed)
        y = train.labels if labels else None
    val_x = data.as_inputs(val.images, binarize, config.seed + 1)
    validation = (val_x, val.labels) if labels else (val_x,)
    vae.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    hooks = [
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, hook=hook: hook(epoch + 1, _floats(logs))
        )
        for hook in on_epoch_end
    ]
    start = time.perf_counter()
    vae.fit(
        x,
        y,
        validation_data=validation,
        batch_size=None if binarize == "dynamic" else config.batch_size,
        epochs=config.epochs,
        shuffle=True,
        callbacks=hooks,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    return {
        "epoch_seconds": seconds / config.epochs,
        "examples_per_second": len(train.labels) * config.epochs / seconds,
    }


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
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = data.sample_pixels(self.x[rows], self.rng)
        return (x,) if self.y is None else (x, self.y[rows])

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(len(self.x))


def device() -> str:
    """Names the device training runs on, as the backend sees it (a GPU when there is one)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return f"tensorflow:{gpus[0].name}" if gpus else "tensorflow:CPU"
    if backend == "jax":
        import jax

        first = jax.devices()[0]
        return f"jax:{first.platform}:{first.device_kind}"
    return backend


def _floats(logs: dict) -> dict[str, float]:
    return {name: float(value) for name, value in logs.items()}
