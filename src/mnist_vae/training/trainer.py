"""Building and fitting the VAE, as fast as the hardware allows.

Two loops share one model and one loss. The ``epoch`` loop (TensorFlow or JAX, one device)
compiles each whole epoch: the data sits on the device, is shuffled there, and no Python
runs between steps. ``fit`` is Keras's own loop, for the other backends and for several
GPUs under ``tf.distribute.MirroredStrategy``.
"""

import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from mnist_vae.config import ModelConfig, TrainConfig
from mnist_vae.mnist import data
from mnist_vae.runtime import execution
from mnist_vae.training import divergence, keras_fit, schedules
from mnist_vae.vae import model

EpochHook = Callable[[int, dict[str, float]], None]


def build(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train: data.Split | None = None,
    devices=None,
) -> model.VAE:
    """A compiled, untrained VAE whose initial weights depend on ``train_config.seed``
    alone (and on ``train``'s pixel means, under ``output_bias: data_mean``).

    Args:
        model_config: the architecture.
        train_config: the seed, the precision policy, determinism, the optimiser and the
            output bias's start.
        train: the training split; needed only under ``output_bias: data_mean``.
        devices: the devices to train on; by default every visible GPU. With more than
            one, the model is mirrored across them.
    """
    if train_config.deterministic:
        execution.make_deterministic()
    keras.utils.set_random_seed(train_config.seed)
    strategy = execution.strategy(devices)
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    # XLA cannot place a step across mirrored replicas' variables.
    xla = train_config.jit_compile and strategy is None
    with scope, model.dtype_policy(execution.resolved_precision(train_config.precision, xla)):
        vae = model.build_vae(model_config, seed=train_config.seed)
        if train_config.output_bias == "data_mean":
            _start_output_bias(vae, train)
        vae.compile(
            optimizer=keras.optimizers.Adam(
                train_config.learning_rate,
                beta_1=train_config.adam_beta_1,
                beta_2=train_config.adam_beta_2,
                epsilon=train_config.adam_epsilon,
            ),
            # Keras's own XLA serves its fit alone: the epoch loop compiles itself. Keras
            # refuses XLA under op determinism and warns that it does, which the epoch
            # loop's log must not say.
            jit_compile=xla and not uses_epoch_loop(vae, train_config),
        )
    return vae


def _start_output_bias(vae: model.VAE, train: data.Split) -> None:
    """Starts the decoder where a model of no latent code is best, at each pixel's mean:
    the first epochs then learn structure instead of the average digit (Burda et al.)."""
    mean = np.clip(data.as_inputs(train.images).mean(axis=0), 0.001, 0.999)
    vae.decoder.get_layer("logits").bias.assign(np.log(mean / (1.0 - mean)).astype("float32"))


def fit(
    vae: model.VAE,
    train_config: TrainConfig,
    train: data.Split,
    val: data.Split,
    on_epoch_end: Sequence[EpochHook] = (),
    verbose: int | str = "auto",
    initial_epoch: int = 0,
) -> dict[str, float]:
    """Fits ``vae`` on the training split, scoring the validation split after every epoch.

    Args:
        vae: a model from ``build``; its model_config says how to binarize the images and
            whether the digit labels are needed.
        train_config: the batch size, epochs, seed and loop.
        train: the training images and labels.
        val: the validation images and labels.
        on_epoch_end: called as ``hook(epoch, metrics)`` after each epoch, ``epoch``
            counting from 1 and ``metrics`` holding the train and ``val_`` losses; never
            with a loss that is not finite, since training stops there.
        verbose: progress display: 0 (none), 1 (a bar), 2 (a line per epoch) or "auto".
        initial_epoch: the epochs already trained, by a run this one resumes.

    Under ``train_config.elbo_epochs``, the first epochs train on the ELBO and the rest
    on ``vae``'s own objective, each stretch with a step compiled for its bound; ``vae``
    ends with the config of its last epoch.

    Returns:
        The speed: seconds per epoch (validation included) and training examples per
        second.

    Raises:
        Diverged: a loss became NaN or infinite.
    """
    start = time.perf_counter()
    stepper = schedules.Stepper(vae.optimizer, train_config)
    stepper.start(initial_epoch + 1)
    on_epoch_end = [
        functools.partial(divergence.check, vae.model_config, train_config),
        stepper,
        *on_epoch_end,
    ]
    model_config = vae.model_config
    for first, last in schedules.objective_phases(train_config, initial_epoch):
        vae.train_on(schedules.objective_at(model_config, train_config, first))
        phase = dataclasses.replace(train_config, epochs=last)
        if uses_epoch_loop(vae, train_config):
            _epoch_loop()(vae, phase, train, val).run(on_epoch_end, verbose, first - 1)
        else:
            keras_fit.fit(vae, phase, train, val, on_epoch_end, verbose, first - 1)
    seconds = time.perf_counter() - start
    epochs = train_config.epochs - initial_epoch
    return {
        "epoch_seconds": seconds / epochs,
        "examples_per_second": len(train.labels) * epochs / seconds,
    }


def uses_epoch_loop(vae: model.VAE, train_config: TrainConfig) -> bool:
    """Whether ``fit`` takes a compiled epoch loop: on JAX (one device, the default), or
    on TensorFlow with one device."""
    if train_config.loop != "epoch":
        return False
    backend = keras.backend.backend()
    if backend == "jax":
        return True
    return backend == "tensorflow" and vae.distribute_strategy.num_replicas_in_sync == 1


def _epoch_loop():
    """The backend's loop class, imported only when used: each imports its framework."""
    if keras.backend.backend() == "jax":
        from mnist_vae.training.jax_epoch_loop import JaxLoop

        return JaxLoop
    from mnist_vae.training.tf_epoch_loop import TensorFlowLoop

    return TensorFlowLoop
