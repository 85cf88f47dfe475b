"""Research protocols as named sets of param changes (``presets.yaml``), each run as a DVC
experiment: the experiment then holds every value in ``dvc exp show`` and MLflow, and
``params.yaml`` keeps the everyday defaults."""

from pathlib import Path

import yaml

from mnist_vae import dvc_command, project
from mnist_vae.config import spell
from mnist_vae.errors import PipelineError


def load(path: Path | None = None) -> dict[str, dict]:
    """Every preset of ``path`` (the project's presets.yaml, by default) with its changes;
    YAML merge keys have been applied."""
    return yaml.safe_load(_file(path).read_text())


def changes(name: str, path: Path | None = None) -> dict:
    path = _file(path)
    presets = load(path)
    if name not in presets:
        raise PipelineError(f"{path}: no preset {name!r}; expected one of {', '.join(presets)}")
    return presets[name]


def exp_run(name: str, values: dict, extra: tuple[str, ...] = (), queue: bool = False):
    """The ``dvc exp run`` arguments, the experiment named after the preset; ``extra``
    changes (``KEY=VALUE``) come last, so they win over the preset's. It runs outside the
    workspace (queued, or ``--temp``), which keeps its params.yaml: one preset's values
    never leak into the next."""
    args = dvc_command.set_options(sets(values) + extra)
    return ["exp", "run", "-n", name, *args, "--queue" if queue else "--temp"]


def sets(values: dict) -> tuple[str, ...]:
    """The changes as ``dvc exp run -S`` takes them, spelled as params.yaml spells them."""
    return tuple(f"{key}={spell(value)}" for key, value in values.items())


def run(name: str, extra: tuple[str, ...], queue: bool, path: Path | None = None) -> None:
    dvc_command.run(*exp_run(name, changes(name, path), extra, queue))


def _file(path: Path | None) -> Path:
    return path or project.root() / "presets.yaml"
