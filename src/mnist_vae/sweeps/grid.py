"""A sweep's points, from DVC's own grid syntax (``-S train.latent_dim=2,8,20``, and
Hydra's ``range()`` and ``choice()``), expanded by DVC's own parser: a grid means here what
it means to ``dvc exp run --queue``. Each point is named after what it changes, so that
``dvc exp show`` and the MLflow UI say what each row is."""

import re
from dataclasses import dataclass

from mnist_vae.errors import PipelineError

PARAMS = "params.yaml"


@dataclass(frozen=True)
class Point:
    name: str
    changes: tuple[str, ...]  # KEY=VALUE, as ``dvc exp run -S`` takes them


def expand(sets: tuple[str, ...], base: tuple[str, ...] = (), prefix: str = "") -> list[Point]:
    """The grid of ``sets``, each point after the ``base`` changes (a preset's), named
    ``prefix`` then each swept key's last part and value (every key's, for one point)."""
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import get_hydra_sweeps

    if not sets:
        raise PipelineError("a sweep needs at least one -S KEY=VALUES")
    try:
        sweeps = get_hydra_sweeps(to_path_overrides(list(sets)))
    except Exception as error:  # Hydra's grammar errors, of several types
        raise PipelineError(f"-S {' '.join(sets)}: {str(error).splitlines()[0]}") from error
    grid = [tuple(_qualified(sweep)) for sweep in sweeps]
    swept = [i for i in range(len(grid[0])) if len({point[i] for point in grid}) > 1]
    swept = swept or list(range(len(grid[0])))  # one point: named after all it sets
    return [Point(_name(prefix, [point[i] for i in swept]), base + point) for point in grid]


def _qualified(sweep: dict[str, list[str]]) -> list[str]:
    return [
        change if path == PARAMS else f"{path}:{change}"
        for path, changes in sweep.items()
        for change in changes
    ]


def _name(prefix: str, changes: list[str]) -> str:
    """``latent_dim-2_learning_rate-0.001``: a git ref name, as DVC's experiment names
    must be."""
    parts = [prefix] if prefix else []
    for change in changes:
        key, value = change.split("=", 1)
        parts.append(f"{key.rsplit('.', 1)[-1]}-{value}")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts)).strip(".-")
