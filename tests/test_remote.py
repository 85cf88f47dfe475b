"""Shared storage: the DVC outputs round-trip through a remote, byte for byte."""

import hashlib
import shutil

import pytest
from pipeline_repo import dvc, make_repo, ran

pytestmark = pytest.mark.slow

OUTPUTS = (
    "data/prepared/train.npz",
    "data/prepared/test.npz",
    "models/vae.keras",
    "models/mlflow_run.json",
    "plots/reconstructions.png",
    "plots/samples.png",
    "data/samples.npz",
)


def test_push_then_pull_into_an_empty_cache_restores_every_output(tmp_path, mnist_dir):
    repo = make_repo(tmp_path / "repo")
    dvc(repo, "repro")
    dvc(repo, "remote", "add", "--default", "shared", str(tmp_path / "remote"))
    before = {name: _digest(repo / name) for name in OUTPUTS}

    dvc(repo, "push")
    shutil.rmtree(repo / ".dvc" / "cache")
    for folder in ("data", "models", "plots"):
        shutil.rmtree(repo / folder)
    dvc(repo, "pull")

    assert {name: _digest(repo / name) for name in OUTPUTS} == before
    assert ran(dvc(repo, "repro")) == []


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
