"""What a run's speed depends on, and what it decides: the CPU, the device, the memory
used, the precision ``auto`` resolves to and the distribution strategy.

These describe the machine, not the model. They are logged to MLflow (as metrics and
tags of the run), never to the metric files that ``dvc metrics diff`` compares, so that
a rerun on another machine does not show up as a change in review.
"""

import contextlib
import os
import resource
from pathlib import Path

from mnist_vae.errors import PipelineError

XLA_GPU_DETERMINISM = "--xla_gpu_deterministic_ops=true"


def device() -> str:
    """Names the device training runs on, as the backend sees it (a GPU when there is one)."""
    import keras

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


def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` shows it, e.g. ``AMD EPYC``."""
    return cpu_info().get("model name", "unknown")


def cpu_flags() -> frozenset[str]:
    return frozenset(cpu_info().get("flags", "").split())


def speed_flags() -> list[str]:
    """Of the instruction sets that decide a CPU's training speed here, those it has: the
    benchmarks print them beside every figure."""
    flags = cpu_flags()
    return [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]


def peak_memory_mb() -> float:
    """This process's peak resident memory so far (Linux reports it in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_info() -> dict[str, str]:
    """The first processor's entries of ``/proc/cpuinfo``; empty where there is none."""
    entries = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            entries[key.strip()] = value.strip()
    return entries


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
