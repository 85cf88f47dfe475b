"""Where XLA keeps the programs it compiled, so that the next process loads them instead.

Each stage compiles its steps anew: on a 2-core AMD EPYC Zen 3 that is 3-4 s of a train
stage on tiny data, and about 10 s of the default's first epoch. TensorFlow (through
``TF_XLA_FLAGS``) and JAX (through ``JAX_COMPILATION_CACHE_DIR``) can keep the compiled
programs on disk. A program compiled for one CPU may use instructions another lacks, so
the folder is keyed by everything that decides what the compiler emits: the CPU's
vendor, family, model and flags, the compilers' installed files and the user's own XLA
flags.
Machines of one kind may share a folder; machines of two kinds never share an entry.

A loaded program is the program the compiler would have emitted, so the numbers are the
same whether it was compiled or loaded (the pipeline test's forced rerun checks the
bytes). Set ``MNIST_VAE_XLA_CACHE`` to another folder, or to nothing to compile afresh
in every process; the folder may be deleted at any time.
"""

import hashlib
import importlib.util
import os
import re
from pathlib import Path

from mnist_vae.runtime import machine

VARIABLE = "MNIST_VAE_XLA_CACHE"
TF_FLAG = "--tf_xla_persistent_cache_directory"
# What the compilers' output depends on, of the first processor's /proc/cpuinfo entries.
CPU_ENTRIES = ("vendor_id", "cpu family", "model", "model name", "flags")


def configure(environ=os.environ) -> None:
    """Points TensorFlow and JAX at this machine kind's folder, unless the user chose."""
    root = environ.get(VARIABLE, str(default_root(environ)))
    if not root or TF_FLAG in environ.get("TF_XLA_FLAGS", ""):
        return
    folder = Path(root) / key(environ)
    tf_flags = f"{environ.get('TF_XLA_FLAGS', '')} {TF_FLAG}={folder / 'tensorflow'}"
    environ["TF_XLA_FLAGS"] = tf_flags.strip()
    environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(folder / "jax"))


def default_root(environ=os.environ) -> Path:
    cache = environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "mnist-vae" / "xla"


def key(environ=os.environ, cpu: dict[str, str] | None = None) -> str:
    """A folder name that reads as the CPU and differs wherever compiled code may."""
    cpu = machine.cpu_info() if cpu is None else cpu
    decides = {
        "cpu": {entry: cpu.get(entry, "") for entry in CPU_ENTRIES},
        "compilers": {name: _installed(name) for name in ("tensorflow", "jax", "jaxlib")},
        "flags": [environ.get(name, "") for name in ("TF_XLA_FLAGS", "XLA_FLAGS")],
    }
    digest = hashlib.sha256(repr(decides).encode()).hexdigest()[:16]
    name = re.sub(r"[^a-z0-9]+", "-", cpu.get("model name", "unknown cpu").lower()).strip("-")
    return f"{name}-{digest}"


def _installed(package: str) -> str:
    """Where the package is and when it was written: another version is other files.

    Its files, not ``importlib.metadata``'s version, which would cost every stage's
    ``--help`` about 75 ms of imports (email, json) on a Zen 3 before any work."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return "absent"
    written = os.stat(spec.origin)
    return f"{spec.origin}:{written.st_size}:{written.st_mtime_ns}"
