"""Fitting the VAE with Keras's own ``fit``, on whatever device the backend sees."""

import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from mnist_vae import model
from mnist_vae.config import ModelConfig, TrainConfig

EpochHook = Callable[[int, dict[str, float]], None]


def train(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_x: np.ndarray,
    val_x: np.ndarray,
    on_epoch_end: Sequence[EpochHook] = (),
    verbose: int | str = "auto",
) -> tuple[model.VAE, dict[str, float]]:
    """Builds and fits a VAE from seeded weights.

    Args:
        model_config: the architecture.
        train_config: the optimiser, batch size, epochs and seed.
        train_x: training inputs, float32 ``(n, 784)`` in [0, 1].
        val_x: validation inputs of the same form, scored after every epoch.
        on_epoch_end: called as ``hook(epoch, metrics)`` after each epoch, ``epoch``
            counting from 1 and ``metrics`` holding the train and ``val_`` losses.
        verbose: Keras's progress display: "auto", 0, 1 (a bar) or 2 (a line per epoch).

    Returns:
        The trained model, and its speed: seconds per epoch (validation included) and
        training examples per second.
    """
    keras.utils.set_random_seed(train_config.seed)
    vae = model.build_vae(model_config, seed=train_config.seed)
    vae.compile(optimizer=keras.optimizers.Adam(train_config.learning_rate))
    hooks = [
        keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, hook=hook: hook(epoch + 1, _floats(logs))
        )
        for hook in on_epoch_end
    ]
    start = time.perf_counter()
    vae.fit(
        train_x,
        validation_data=(val_x,),
        batch_size=train_config.batch_size,
        epochs=train_config.epochs,
        shuffle=True,
        callbacks=hooks,
        verbose=verbose,
    )
    seconds = time.perf_counter() - start
    return vae, {
        "epoch_seconds": seconds / train_config.epochs,
        "examples_per_second": len(train_x) * train_config.epochs / seconds,
    }


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
