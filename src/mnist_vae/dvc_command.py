"""``dvc`` run as its own command, as a user would run it: the commands that drive DVC
(the seed band, the presets) share how it runs and how its failure reads."""

import subprocess

from mnist_vae.errors import PipelineError


def run(*args: str, capture: bool = False) -> str:
    """Runs ``dvc ARGS`` with its output shown, or returned where ``capture`` is set.

    Raises:
        PipelineError: naming the command, its exit status and, captured, its last line.
    """
    command = ["dvc", *args]
    done = subprocess.run(command, capture_output=capture, text=True)
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines() if capture else []
        detail = f": {lines[-1]}" if lines else ""
        raise PipelineError(f"{' '.join(command)} failed (exit {done.returncode}){detail}")
    return done.stdout
