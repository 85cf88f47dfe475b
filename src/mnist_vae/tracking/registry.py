"""The MLflow model registry: every trained model is a version of one registered model,
and the ``champion`` alias names the version with the best test -ELBO among those whose
scores are comparable (``comparable``)."""

import contextlib
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow.pyfunc

from mnist_vae.scoring import comparable
from mnist_vae.tracking.run_log import RunLog

NAME = "mnist-vae"
# The package, logged whole with every model ("models from code"), and its served model.
PACKAGE = Path(__file__).parents[1]
METRIC = "test.neg_elbo"


@dataclass(frozen=True)
class Crowned:
    version: object  # mlflow's ModelVersion
    value: float
    among: int  # the versions that competed
    skipped: list[str]  # versions of the key whose run could not be read, and why


def crown(client, name: str, alias: str, key: dict[str, str], metric: str = METRIC) -> Crowned:
    """Points ``alias`` at the version of ``name`` whose run has the lowest ``metric``,
    the newest of equals (a rerun of the same pipeline registers the same scores again),
    and records ``key`` as the registered model's tag ``<alias>.key``.

    Only versions tagged with ``key`` compete, and of those only the ones whose run
    FINISHED with a finite ``metric``: NaN compares as neither better nor worse than
    anything, so a diverged model could otherwise win.

    Raises:
        PipelineError: no such version.
    """
    from mlflow.exceptions import MlflowException

    from mnist_vae.errors import PipelineError

    scored, skipped = [], []
    for version in client.search_model_versions(f"name = '{name}'"):
        if comparable.from_tags(version.tags) != key:
            continue
        run, why = _run(client, version.run_id)
        if run is None:
            skipped.append(f"version {version.version}: {why}")
            continue
        value = run.data.metrics.get(metric)
        if run.info.status == "FINISHED" and value is not None and math.isfinite(value):
            scored.append((value, int(version.version), version))
    if not scored:
        raise PipelineError(
            f"{name}: no registered version like {comparable.spelled(key)} has a FINISHED "
            f"run with a finite {metric}"
        )
    value, _, best = min(scored, key=lambda item: (item[0], -item[1]))
    try:
        client.set_registered_model_alias(name, alias, best.version)
        client.set_registered_model_tag(name, f"{alias}.key", comparable.spelled(key))
    except MlflowException as error:  # on a team server, an account that may not move it
        first_line = error.message.strip().split("\n")[0]
        raise PipelineError(f"{name}@{alias} was not moved: {first_line}") from None
    return Crowned(best, value, len(scored), skipped)


def _run(client, run_id: str):
    """The run, or None and why: a deleted run's version must not win, nor stop the
    crowning of the others."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        return None, f"its run {run_id} cannot be read ({error.error_code})"
    if run.info.lifecycle_stage == "deleted":
        return None, f"its run {run_id} is deleted"
    return run, None


def key_of(client, name: str, version: str) -> dict[str, str]:
    """The comparability key of version ``version`` of ``name``."""
    from mnist_vae.errors import PipelineError

    found = comparable.from_tags(client.get_model_version(name, version).tags)
    if found is None:
        raise PipelineError(f"{name} version {version} has no comparable.* tags (never scored)")
    return found


def log_model(run: RunLog, model_path: str | os.PathLike, config) -> None:
    """Logs the saved VAE as a :class:`~mnist_vae.serving.Generator` and registers it as a
    new version of ``NAME``.

    The package goes with it as code, so the model loads without this repository. Naming
    the requirements spares MLflow its slow inference of them, which reloads the model in
    a subprocess.
    """
    from importlib.metadata import version

    import keras

    from mnist_vae import serving

    backend = keras.backend.backend()
    with _quiet_logging():
        run.call(
            "model",
            mlflow.pyfunc.log_model,
            name="model",
            python_model=PACKAGE / "served_model.py",
            artifacts={"vae": str(model_path)},
            code_paths=[str(PACKAGE)],
            signature=serving.signature(config.latent_dim, config.conditional),
            input_example=serving.example(config.latent_dim, config.conditional),
            pip_requirements=[f"keras=={keras.__version__}", f"{backend}=={version(backend)}"],
            registered_model_name=NAME,
        )


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """Without MLflow's INFO line that it validates the input example, which we built."""
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_log.level
    pyfunc_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        pyfunc_log.setLevel(level)
