"""Atomic file writes, so that an interrupted stage never leaves a half-written output.

DVC and MLflow take any file that exists at a declared path as good; writing to a
temporary sibling and renaming it into place makes each output appear whole or not at all.
"""

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` that replaces it only if the block succeeds.

    The temporary name keeps the suffix, because some writers (Keras, matplotlib) choose
    the format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(tmp)
    tmp.chmod(0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    # mkstemp makes files private (0600); outputs get the modes the user's umask gives.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
