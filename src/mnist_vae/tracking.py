"""MLflow: where the store is, and the one run that a pipeline execution logs into.

train opens the run and writes its id to a small file that DVC tracks; evaluate and
generate read that file and log into the same run.
"""

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.pyfunc
import numpy as np
from mlflow.exceptions import MlflowException

from mnist_vae import provenance, store
from mnist_vae.atomic import write_json
from mnist_vae.errors import PipelineError

EXPERIMENT = "mnist-vae"
REGISTERED_MODEL = "mnist-vae"
_log = logging.getLogger(__name__)


def project_root() -> Path:
    """The repository root, also when ``dvc exp run --queue`` runs in a temporary copy.

    DVC sets ``DVC_ROOT`` to the original repository for queued experiments, so their
    runs land in the same store as the others.
    """
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the SQLite file ``mlflow.db`` at the root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def configure() -> None:
    """Points MLflow at the store and experiment, creating them when missing.

    With a local store, artifacts go to ``mlartifacts/`` at the root; a tracking server
    keeps its own artifact location. The experiment is marked as model training, so the
    UI opens on its runs, charts and models rather than on its GenAI views.
    """
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
    with store.created(uri):
        if store.retrying(mlflow.get_experiment_by_name, name) is None:
            local = not uri.startswith(("http://", "https://", "databricks"))
            location = (project_root() / "mlartifacts").as_uri() if local else None
            kind = {"mlflow.experimentKind": "custom_model_development"}
            store.retrying(mlflow.create_experiment, name, artifact_location=location, tags=kind)
    mlflow.set_experiment(name)


@contextlib.contextmanager
def start_run(params: dict, tags: dict[str, str]) -> Iterator[mlflow.ActiveRun]:
    """Opens the pipeline's run, tagged after the DVC experiment when there is one."""
    configure()
    dvc_tags = {
        "dvc.exp_name": os.environ.get("DVC_EXP_NAME"),
        "dvc.baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV"),
    }
    tags = {**tags, **{k: v for k, v in dvc_tags.items() if v}}
    with _active(params, run_name=provenance.run_name(), tags=tags) as run:
        yield run


@contextlib.contextmanager
def resume_run(run_file: str | os.PathLike, stage: str, params: dict) -> Iterator:
    """Logs a later stage into the run that trained the model.

    MLflow params cannot change, so when this stage reruns with params that differ from
    those the run holds (only generate's changed, say), it logs into a child run of it,
    named after the stage. A run missing from this store (the model came from a DVC remote)
    gets a new run that names it.
    """
    configure()
    run_id = read_run_file(run_file)
    try:
        logged = mlflow.get_run(run_id).data.params
    except MlflowException:
        _log.warning(
            "run %s is not in %s; logging %s into a new run", run_id, tracking_uri(), stage
        )
        with start_run(params, {"source_run_id": run_id}) as run:
            yield run
        return
    if any(logged.get(key, str(value)) != str(value) for key, value in params.items()):
        with _active(params, run_name=stage, parent_run_id=run_id) as run:
            yield run
        return
    with _active(params, run_id=run_id) as run:
        yield run


@contextlib.contextmanager
def _active(params: dict, **start) -> Iterator[mlflow.ActiveRun]:
    """``mlflow.start_run(**start)`` with its params, ended as FINISHED or FAILED; each
    write is retried while a parallel writer holds the store."""
    run = store.retrying(mlflow.start_run, **start)
    status = "FAILED"
    try:
        store.retrying(mlflow.log_params, params)
        yield run
        status = "FINISHED"
    finally:
        store.retrying(mlflow.end_run, status)


def write_run_file(path: str | os.PathLike, run: mlflow.ActiveRun) -> None:
    write_json(path, {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id})


def read_run_file(path: str | os.PathLike) -> str:
    try:
        return json.loads(Path(path).read_text())["run_id"]
    except (OSError, ValueError, KeyError) as error:
        raise PipelineError(f"{path}: expected a JSON file with a run_id ({error})") from None


def log_model(model_path: str | os.PathLike, config) -> None:
    """Logs the saved VAE as a :class:`~mnist_vae.serving.Generator` and registers it as a
    new version of ``REGISTERED_MODEL``.

    The package goes with it as code, so the model loads without this repository. Naming
    the requirements spares MLflow its slow inference of them, which reloads the model in
    a subprocess.
    """
    from importlib.metadata import version

    import keras

    from mnist_vae import serving

    backend = keras.backend.backend()
    mlflow.pyfunc.log_model(
        name="model",
        python_model=Path(__file__).with_name("served_model.py"),
        artifacts={"vae": str(model_path)},
        code_paths=[str(Path(__file__).parent)],
        signature=serving.signature(config.latent_dim, config.conditional),
        input_example=serving.example(config.latent_dim, config.conditional),
        pip_requirements=[f"keras=={keras.__version__}", f"{backend}=={version(backend)}"],
        registered_model_name=REGISTERED_MODEL,
    )


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    store.retrying(mlflow.log_metrics, metrics, step=step)


def log_epoch(epoch: int, metrics: dict[str, float]) -> None:
    """Logs one epoch's losses with the epoch as their step, for MLflow's charts."""
    log_metrics(metrics, step=epoch)


class EpochSamples:
    """Logs the decodes of fixed latent points after every epoch, as one image per step,
    so the MLflow UI shows the samples sharpening as training goes on."""

    def __init__(self, vae, n: int, seed: int):
        from mnist_vae import sampling

        self.vae = vae
        self.z = sampling.prior_latents(n, vae.config.latent_dim, seed)
        self.digits = np.arange(n) % 10 if vae.config.conditional else None

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        from mnist_vae import plotting, sampling

        images = sampling.decode_means(self.vae, self.z, self.digits)
        canvas = plotting.tile(images, ncols=10)
        pixels = (canvas * 255).round().astype(np.uint8)
        store.retrying(mlflow.log_image, pixels, key="epoch_samples", step=epoch)


def prefixed(section: str, values: dict) -> dict:
    """Names and spells values as params.yaml and ``dvc exp show`` do (``train.latent_dim``,
    ``true``), so that the MLflow UI and DVC show the same params."""
    return {
        f"{section}.{key}": str(value).lower() if isinstance(value, bool) else value
        for key, value in values.items()
    }
