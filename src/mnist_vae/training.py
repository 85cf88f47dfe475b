"""Building and fitting the VAE, as fast as the hardware allows.

Two loops share one model and one loss. The ``epoch`` loop (TensorFlow, one device) runs
each whole epoch in one compiled function: the data sits in tensors on the device, is
shuffled there, and no Python runs between steps. ``fit`` is Keras's own loop, for the
other backends and for several GPUs under ``tf.distribute.MirroredStrategy``.
"""

import contextlib
import functools
import time
from collections.abc import Callable, Sequence

import keras
import numpy as np

from mnist_vae import data, divergence, machine, model
from mnist_vae.config import ModelConfig, TrainConfig

EpochHook = Callable[[int, dict[str, float]], None]


def build(model_config: ModelConfig, config: TrainConfig, devices=None) -> model.VAE:
    """A compiled, untrained VAE whose initial weights depend on ``config.seed`` alone.

    Args:
        model_config: the architecture.
        config: the seed, the precision policy, determinism and the optimiser.
        devices: the devices to train on; by default every visible GPU. With more than
            one, the model is mirrored across them.
    """
    keras.utils.set_random_seed(config.seed)
    if config.deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    strategy = _strategy(devices)
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    with scope, model.dtype_policy(resolved_precision(config.precision)):
        vae = model.build_vae(model_config, seed=config.seed)
        vae.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            # XLA cannot place a step across mirrored replicas' variables.
            jit_compile=config.jit_compile and strategy is None,
        )
    return vae


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
        config: the batch size, epochs, seed and loop.
        train: the training images and labels.
        val: the validation images and labels.
        on_epoch_end: called as ``hook(epoch, metrics)`` after each epoch, ``epoch``
            counting from 1 and ``metrics`` holding the train and ``val_`` losses; never
            with a loss that is not finite, since training stops there.
        verbose: progress display: 0 (none), 1 (a bar), 2 (a line per epoch) or "auto".

    Returns:
        The speed: seconds per epoch (validation included) and training examples per
        second.

    Raises:
        Diverged: a loss became NaN or infinite.
    """
    start = time.perf_counter()
    on_epoch_end = [functools.partial(divergence.check, vae.config, config), *on_epoch_end]
    if uses_epoch_loop(vae, config):
        from mnist_vae.epoch_loop import EpochLoop

        EpochLoop(vae, config, train, val).run(on_epoch_end, verbose)
    else:
        _keras_fit(vae, config, train, val, on_epoch_end, verbose)
    seconds = time.perf_counter() - start
    return {
        "epoch_seconds": seconds / config.epochs,
        "examples_per_second": len(train.labels) * config.epochs / seconds,
    }


def resolved_precision(precision: str, cpu_flags: frozenset[str] | None = None) -> str:
    """The dtype policy ``precision`` names; ``auto`` is ``mixed_bfloat16`` where
    TensorFlow trains on a CPU with AMX and ``float32`` elsewhere.

    On AMX, oneDNN runs the bf16 products at twice float32's speed; without AMX a CPU's
    bf16 products gain nothing (slower on an AMD EPYC with AVX512-BF16), and a GPU's
    float32 products already run on its tensor cores (TF32), so there ``auto`` keeps
    float32. bf16's cost in test -ELBO is within the seed band (README, reproducible
    numbers), but it makes the default config's arithmetic depend on the CPU, so neither
    it nor ``auto`` is the default.

    Args:
        precision: a ``TrainConfig.precision``.
        cpu_flags: the CPU's feature flags; by default read from ``/proc/cpuinfo``.
    """
    if precision != "auto":
        return precision
    if keras.backend.backend() != "tensorflow" or machine.device() != "tensorflow:CPU":
        return "float32"
    flags = machine.cpu_flags() if cpu_flags is None else cpu_flags
    return "mixed_bfloat16" if "amx_bf16" in flags else "float32"


def uses_epoch_loop(vae: model.VAE, config: TrainConfig) -> bool:
    """Whether ``fit`` takes the compiled epoch loop: TensorFlow on one device."""
    return (
        config.loop == "epoch"
        and keras.backend.backend() == "tensorflow"
        and vae.distribute_strategy.num_replicas_in_sync == 1
    )


def validation_inputs(vae: model.VAE, config: TrainConfig, val: data.Split) -> np.ndarray:
    """The validation images as the model sees them: binarized once, with a seed of their
    own, when the model binarizes."""
    return data.as_inputs(val.images, vae.config.binarize, config.seed + 1)


def _keras_fit(vae, config, train, val, on_epoch_end, verbose) -> None:
    binarize = vae.config.binarize
    labels = vae.config.conditional
    if binarize == "dynamic":
        x, y = _DynamicBinarization(train, config.batch_size, config.seed, labels), None
    else:
        x = data.as_inputs(train.images, binarize, config.seed)
        y = train.labels if labels else None
    val_x = validation_inputs(vae, config, val)
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
        batch_size=None if binarize == "dynamic" else config.batch_size,
        epochs=config.epochs,
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


def _strategy(devices):
    """A MirroredStrategy over ``devices`` (by default the visible GPUs) when several."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if devices is None:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    return tf.distribute.MirroredStrategy(devices) if len(devices) > 1 else None


def _floats(logs: dict) -> dict[str, float]:
    return {name: float(value) for name, value in logs.items()}
