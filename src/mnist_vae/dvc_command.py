"""``dvc`` run as its own command, as a user would run it, and the other programs the
``mnist-vae`` commands drive (git, Slurm's): they share how a program runs and how its
failure reads."""

import subprocess
from collections.abc import Iterable

from mnist_vae.errors import PipelineError


def run(*args: str, capture: bool = False) -> str:
    """Runs ``dvc ARGS`` with its output shown, or returned where ``capture`` is set."""
    return program("dvc", *args, capture=capture)


def program(*command: str, capture: bool = True, stdin: str | None = None) -> str:
    """Runs ``command``, ``stdin`` on its standard input; returns its output where
    ``capture`` is set, else shows it.

    Raises:
        PipelineError: naming the command, its exit status and, captured, its last line;
            or that the program is not installed.
    """
    try:
        done = subprocess.run(command, input=stdin, capture_output=capture, text=True)
    except FileNotFoundError:
        raise PipelineError(f"{command[0]}: not found on PATH") from None
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines() if capture else []
        detail = f": {lines[-1]}" if lines else ""
        raise PipelineError(f"{' '.join(command)} failed (exit {done.returncode}){detail}")
    return done.stdout


def set_options(changes: Iterable[str]) -> list[str]:
    """``-S CHANGE`` for each ``KEY=VALUE``, as ``dvc exp run`` takes them."""
    return [arg for change in changes for arg in ("-S", change)]
