"""What the backend is told to do on this machine: the precision ``auto`` resolves to,
bit-for-bit determinism, the distribution strategy, whole-function compilation.

Decisions, where ``machine`` holds the facts they are made from.
"""

import os

from mnist_vae.errors import PipelineError
from mnist_vae.runtime.machine import cpu_flags, device

XLA_GPU_DETERMINISM = "--xla_gpu_deterministic_ops=true"


def resolved_precision(precision: str, xla: bool, flags: frozenset[str] | None = None) -> str:
    """The dtype policy ``precision`` names; ``auto`` is ``mixed_bfloat16`` where
    TensorFlow trains on a CPU with AMX without XLA, and ``float32`` elsewhere.

    On AMX, oneDNN runs the bf16 products at twice float32's speed, but XLA's bf16 path
    does not pay: under XLA, bf16 is 16-17% slower than float32 on the same AMX CPU
    (docs/performance.md), so ``auto`` follows XLA. Without AMX a CPU's bf16 products gain
    nothing (slower on an AMD EPYC with AVX512-BF16), and a GPU's float32 products already
    run on its tensor cores (TF32), so there ``auto`` keeps float32. bf16's cost in test
    -ELBO is within the seed band (docs/model-and-metrics.md, reproducible numbers), but
    it makes the default config's arithmetic depend on the CPU, so neither it nor
    ``auto`` is the default.

    Args:
        precision: a ``TrainConfig.precision``.
        xla: whether XLA compiles the training step's products.
        flags: the CPU's feature flags; by default read from ``/proc/cpuinfo``.
    """
    import keras

    if precision != "auto":
        return precision
    if xla or keras.backend.backend() != "tensorflow" or device() != "tensorflow:CPU":
        return "float32"
    flags = cpu_flags() if flags is None else flags
    return "mixed_bfloat16" if "amx_bf16" in flags else "float32"


def make_deterministic() -> None:
    """Makes the backend's ops repeat bit for bit, on GPUs too, where reductions and
    autotuned kernels may otherwise differ from run to run.

    TensorFlow takes this at any time, for the graphs it optimizes afterwards. Its ops'
    determinism is not enough there: with grappler's constant folding on, the epoch loop
    without XLA over a full training set gave other numbers from run to run, in one
    process and across processes (over a few thousand images it did not show; which fold
    does it is not found). Without that pass, and with XLA, it repeats; docs/performance.md.

    XLA under JAX reads its flags once, when JAX starts its first device, so the flag goes
    into ``XLA_FLAGS`` before that; a JAX whose GPU started earlier without it cannot be
    made deterministic, and says so.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        tf.config.optimizer.set_experimental_options({"constant_folding": False})
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if backend == "jax" and XLA_GPU_DETERMINISM not in flags:
        from jax._src import xla_bridge

        if xla_bridge.backends_are_initialized() and xla_bridge.default_backend() == "gpu":
            raise PipelineError(
                f"train.deterministic: JAX started its GPU before XLA_FLAGS held "
                f"{XLA_GPU_DETERMINISM}; set it in the environment, or deterministic: false"
            )
        os.environ["XLA_FLAGS"] = f"{flags} {XLA_GPU_DETERMINISM}".strip()


def strategy(devices):
    """A MirroredStrategy over ``devices`` (by default the visible GPUs) when several."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if devices is None:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    return tf.distribute.MirroredStrategy(devices) if len(devices) > 1 else None


def compiled(function):
    """``function`` compiled whole by the backend (XLA through ``tf.function`` or
    ``jax.jit``), which fuses its elementwise chains into single passes over memory;
    unchanged on other backends. Its inputs' shapes are fixed per compilation."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(function)
    return function
