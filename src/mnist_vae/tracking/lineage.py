"""The splits a run saw, as MLflow datasets named by DVC.

MLflow's UI shows a run's datasets in its Dataset column, and ``log_inputs`` is how a run
says what it was trained and scored on. Each split's digest is DVC's own hash of the
folder that holds it, computed by DVC's library: for the pipeline's ``data/prepared``,
the hash ``dvc.lock`` records as prepare's output. Two runs on the same data show the
same digest, and a run's data can be found again in git and the DVC cache. The source
names the file and the git commit the run was made from.
"""

from pathlib import Path

from mlflow.data.dataset_source import DatasetSource
from mlflow.data.numpy_dataset import from_numpy
from mlflow.entities import DatasetInput, InputTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from mnist_vae.mnist import data
from mnist_vae.tracking import provenance
from mnist_vae.tracking.run_log import RunLog

CONTEXTS = {"train": "training", "val": "validation", "test": "testing"}


def log(run: RunLog, splits: dict[str, tuple[str, data.Split]]) -> None:
    """Logs each split, by its name in ``CONTEXTS``, from its file and arrays, as an input
    of ``run``."""
    rev = provenance.commit()
    folders = {Path(path).parent for path, _ in splits.values()}
    digests = {folder: dvc_hash(folder) for folder in folders}  # one hash a folder
    inputs = [
        DatasetInput(
            _dataset(name, path, split, rev, digests[Path(path).parent])._to_mlflow_entity(),
            tags=[InputTag(MLFLOW_DATASET_CONTEXT, CONTEXTS[name])],
        )
        for name, (path, split) in splits.items()
    ]
    run.call("datasets", run.client.log_inputs, run.run_id, datasets=inputs)


def _dataset(name: str, path: str, split: data.Split, rev: str, digest: str):
    source = DvcSource(str(path), rev)
    return from_numpy(split.images, source, split.labels, name=name, digest=digest)


def dvc_hash(folder: Path) -> str:
    """DVC's md5 of ``folder`` as ``dvc.lock`` writes it (``<md5>.dir``), by DVC's code."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem
    from dvc_objects.fs.memory import MemoryFileSystem

    staging = HashFileDB(MemoryFileSystem(), "/staging")
    _, _, tree = build(staging, str(folder), LocalFileSystem(), "md5", dry_run=True)
    return tree.hash_info.value


class DvcSource(DatasetSource):
    """A file of a DVC-tracked output, at the git commit a run was made from."""

    def __init__(self, path: str, rev: str):
        self.path = path
        self.rev = rev

    @staticmethod
    def _get_source_type() -> str:
        return "dvc"

    def load(self) -> str:
        """Where the file is in the workspace; ``dvc get . PATH --rev REV`` fetches it as
        it was at the revision, from the DVC cache or remote."""
        return self.path

    @staticmethod
    def _can_resolve(raw_source) -> bool:
        return False

    @classmethod
    def _resolve(cls, raw_source):
        raise NotImplementedError("a DVC source is made from its path and revision")

    def to_dict(self) -> dict:
        return {"path": self.path, "rev": self.rev}

    @classmethod
    def from_dict(cls, source_dict: dict) -> "DvcSource":
        return cls(source_dict["path"], source_dict["rev"])
