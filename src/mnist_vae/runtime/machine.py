"""What a run's speed depends on: the CPU, the device and the memory used.

These describe the machine, not the model. They are logged to MLflow (as metrics and
tags of the run), never to the metric files that ``dvc metrics diff`` compares, so that
a rerun on another machine does not show up as a change in review.
"""

import contextlib
import resource
from pathlib import Path


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
