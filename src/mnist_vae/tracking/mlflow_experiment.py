"""Where the MLflow store is, and the experiment every run of the pipeline goes to.

Opening it checks the store first (down, damaged or read-only: one line), and closes
the runs that dead processes left RUNNING.
"""

import json
import logging
import os
import time
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from mnist_vae import project
from mnist_vae.tracking import orphans, store
from mnist_vae.tracking.run_log import LOST

EXPERIMENT = "mnist-vae"
VIEW, VIEW_NAME = "mnist-vae", "mnist-vae: test metrics"
"""The runs table's shared view: the UI opens it at ``#/experiments/ID/runs?``
``viewStateShareKey=mnist-vae`` (the README links it), and lists it under Views."""
COLUMNS = [
    *(f"metrics.`test.{name}`" for name in ("neg_elbo", "iw_nll", "active_units")),
    *(f"params.`train.{name}`" for name in ("latent_dim", "hidden_size", "learning_rate")),
]


def store_root() -> Path:
    """The folder of a local run's store: the project's root (``project.root``), also when
    ``dvc exp run --queue`` runs in a temporary copy.

    DVC sets ``DVC_ROOT`` to the original repository for queued experiments, so their
    runs land in the same store as the others.
    """
    dvc_root = os.environ.get("DVC_ROOT")
    return Path(dvc_root).resolve() if dvc_root else project.root()


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the SQLite file ``mlflow.db`` at the root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store_root() / 'mlflow.db'}"


def configure() -> str:
    """Checks the store, points MLflow at it and its experiment, creating them when
    missing, and closes the runs that dead processes left RUNNING.

    With a local store, artifacts go to ``mlartifacts/`` at the root; a tracking server
    keeps its own artifact location. The experiment is marked as model training, so the
    UI opens on its runs, charts and models rather than on its GenAI views, and carries a
    shared view of its runs table (``VIEW``): MLflow 3 keeps one as the experiment's tag
    ``mlflow.sharedViewState.<key>``.

    Returns:
        The experiment's id.

    Raises:
        StoreError: the store is down, damaged or read-only.
    """
    uri = tracking_uri()
    # "Creating initial MLflow database tables...": the store's business, not the user's.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    store.fail_fast()
    store.check_sqlite(uri)
    mlflow.set_tracking_uri(uri)
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME", EXPERIMENT)
    try:
        with store.created(uri):
            if store.retrying(mlflow.get_experiment_by_name, name) is None:
                local = not uri.startswith(("http://", "https://", "databricks"))
                location = (store_root() / "mlartifacts").as_uri() if local else None
                tags = {"mlflow.experimentKind": "custom_model_development", **_view()}
                store.retrying(
                    mlflow.create_experiment, name, artifact_location=location, tags=tags
                )
        experiment_id = mlflow.set_experiment(name).experiment_id
        orphans.close(MlflowClient(uri), experiment_id)
    except LOST as error:
        raise store.unreachable(uri, error) from None
    return experiment_id


def _view() -> dict[str, str]:
    """The shared view's tag, in the envelope the UI's own "Save as new view" writes:
    sorted by test -ELBO, best first, with ``COLUMNS``."""
    state = {"orderByKey": COLUMNS[0], "orderByAsc": True, "selectedColumns": COLUMNS}
    now = int(time.time() * 1000)
    envelope = {"name": VIEW_NAME, "createdAt": now, "updatedAt": now, "state": json.dumps(state)}
    return {f"mlflow.sharedViewState.{VIEW}": json.dumps(envelope)}
