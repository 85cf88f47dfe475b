"""TensorFlow's start-up lines, kept off a stage's output.

Loading TensorFlow's native libraries prints lines through absl before anything has read
``TF_CPP_MIN_LOG_LEVEL``: absl's warning that "All log messages before
absl::InitializeLog() are written to STDERR", oneDNN's note on round-off, the CPU
feature guard, and, on a machine with no GPU, the CUDA probe's "Could not find cuda
drivers". To a newcomer they read as failures, twice per stage. So the first import of
``tensorflow`` runs with the process's stderr (file descriptor 2, which C++ writes to)
caught; those lines are dropped and every other line is written back. A failing import
still shows its traceback. ``TF_CPP_MIN_LOG_LEVEL`` set below 3 shows them all.
"""

import contextlib
import importlib.machinery
import os
import sys
import tempfile
from collections.abc import Iterator
from importlib.abc import MetaPathFinder

NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "] oneDNN custom operations are on.",
    "] Could not find cuda drivers on your machine",
    "] This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
)


class _QuietLoader(importlib.machinery.SourceFileLoader):
    def exec_module(self, module):
        with _dropping_noise():
            super().exec_module(module)


class _Finder(MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = _QuietLoader(spec.loader.name, spec.loader.path)
        return spec


@contextlib.contextmanager
def _dropping_noise() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not any(n in line for n in NOISE))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def install() -> None:
    """Once, and only where the user has not asked for TensorFlow's log."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") != "3":
        return
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
