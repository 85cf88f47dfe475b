"""Logging into one MLflow run by its id, so that a store lost mid-stage costs the logs
and never the stage's local outputs.

A tracking server that stops answering during training would otherwise end an hour's
training with a traceback and no model. After its first failed call, a ``RunLog`` stops
calling the store, notes each thing it could not log, and the stage raises one line
naming them once its local outputs are written.
"""

import time
from pathlib import Path

import requests
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mnist_vae.tracking import store

try:
    from sqlalchemy.exc import SQLAlchemyError
except ImportError:  # a client with no SQL store
    SQLAlchemyError = MlflowException

LOST = (MlflowException, requests.RequestException, SQLAlchemyError, OSError)


class RunLog:
    """The run ``run_id`` and what could not be logged into it."""

    def __init__(self, run_id: str, experiment_id: str, uri: str):
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.uri = uri
        self.client = MlflowClient(uri)
        self.lost: Exception | None = None
        self.missing: list[str] = []

    def params(self, values: dict) -> None:
        params = [Param(key, str(value)) for key, value in values.items()]
        self.call("params", self.client.log_batch, self.run_id, params=params)

    def tags(self, values: dict[str, str]) -> None:
        tags = [RunTag(key, value) for key, value in values.items()]
        self.call("tags", self.client.log_batch, self.run_id, tags=tags)

    def version_tags(self, values: dict[str, str]) -> None:
        """Tags the model versions registered from this run."""

        def tag_each() -> None:
            for version in self.client.search_model_versions(f"run_id = '{self.run_id}'"):
                for key, value in values.items():
                    self.client.set_model_version_tag(version.name, version.version, key, value)

        self.call("model version tags", tag_each)

    def metrics(self, values: dict[str, float], step: int = 0, what: str = "metrics") -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, step) for key, value in values.items()]
        self.call(what, self.client.log_batch, self.run_id, metrics=metrics)

    def artifact(self, path) -> None:
        self.call(Path(path).name, self.client.log_artifact, self.run_id, str(path))

    def image(self, pixels, key: str, step: int) -> None:
        self.call(f"epoch {step}", self.client.log_image, self.run_id, pixels, key=key, step=step)

    def call(self, what: str, function, *args, **kwargs) -> None:
        """``function(*args, **kwargs)``, unless the store was lost; then noted as missing."""
        if self.lost is None:
            try:
                store.retrying(function, *args, **kwargs)
                return
            except LOST as error:
                self.lost = error
        self.missing.append(what)

    def raise_if_lost(self) -> None:
        if self.lost is None:
            return
        raise store.StoreError(
            f"MLflow store {self.uri} stopped answering ({store.cause(self.lost)}); run "
            f"{self.run_id} lacks {_summary(self.missing)}; the local outputs are written"
        )


def _summary(missing: list[str]) -> str:
    """``epochs 5 to 12, metrics, loss_curves.png, model`` from what could not be logged."""
    epochs = sorted({int(what.split()[1]) for what in missing if what.startswith("epoch ")})
    others = dict.fromkeys(what for what in missing if not what.startswith("epoch "))
    spans = [f"epochs {epochs[0]} to {epochs[-1]}" if len(epochs) > 1 else f"epoch {epochs[0]}"]
    return ", ".join([*(spans if epochs else []), *others])
