"""Copies of the project in fresh git repos, for tests that run ``dvc`` for real."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import ROOT, mnist_folder

STAGES = ("prepare", "train", "evaluate", "generate")

# A few hundred real images and one short epoch: every stage runs in seconds.
SMALL = {
    "prepare": {"train_size": 300, "val_size": 100, "test_size": 100},
    "train": {"hidden_size": 32, "latent_dim": 4, "epochs": 1, "batch_size": 50},
    "evaluate": {"iw_samples": 10},
    "generate": {"n_samples": 16},
}


# Enough images and epochs that the model uses its latent space, so that a smaller one is
# worse beyond the seed's noise (160 against 172 nats, sigma about 2, measured on 4 seeds).
LEARNS = {
    "prepare": {"train_size": 2000, "val_size": 200, "test_size": 500},
    "train": {"hidden_size": 128, "latent_dim": 8, "epochs": 5, "learning_rate": 0.003},
}
# What the evaluate stage scores on the test set.
SCORES = {
    "neg_elbo",
    "neg_elbo_stderr",
    "iw_nll",
    "reconstruction_nll",
    "kl",
    "reconstruction_mse",
    "active_units",
}


def make_repo(repo: Path) -> Path:
    """Copies the project's tracked files (not its results) into a new repo, params SMALL."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if name.startswith(("tests/", "metrics/")) or name == "dvc.lock":
            continue
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    set_params(repo, SMALL)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "project")
    return repo


def learning_repo(repo: Path) -> Path:
    """A new repo of the project whose committed params are SMALL's, then LEARNS's."""
    make_repo(repo)
    set_params(repo, LEARNS)
    git(repo, "commit", "-qam", "a config that learns")
    return repo


def set_params(repo: Path, changes: dict) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in changes.items():
        params[section].update(values)
    (repo / "params.yaml").write_text(yaml.dump(params, Dumper=_Dumper, sort_keys=False))


class _Dumper(yaml.SafeDumper):
    """Quotes digit strings ("0123456789"), which DVC's YAML 1.2 parser reads as numbers."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="'" if value.isdigit() else None
    ),
)


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    return run(repo, "git", *identity, *args)


def dvc(repo: Path, *args: str, **env: str) -> str:
    return run(repo, "dvc", *args, **env)


def experiments(repo: Path) -> dict[str, dict]:
    """``dvc exp show --json`` as {experiment name: its data (params, metrics, outs)}."""
    shown = json.loads(dvc(repo, "exp", "show", "--json"))
    revs = [rev for row in shown for exp in row.get("experiments") or [] for rev in exp["revs"]]
    names = [rev["name"] for rev in revs]
    assert len(names) == len(set(names)), names
    return {rev["name"]: rev["data"] for rev in revs}


def ran(output: str) -> list[str]:
    """The stages a ``dvc repro`` or ``dvc exp run`` output says it ran, in order."""
    return [stage for stage in STAGES if f"Running stage '{stage}'" in output]


def run(repo: Path, *command: str, **env: str) -> str:
    """Runs as a user would: the store is the repo's own mlflow.db unless ``env`` names one."""
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=user_env(**env))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def user_env(**env: str) -> dict[str, str]:
    """This environment without the tests' MLflow store, plus ``env`` and the MNIST files."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DVC_ROOT")},
        **env,
    }
    env["MNIST_MIRROR"] = str(mnist_folder())
    # The stages' `python` must be the one running the tests, whatever the caller's PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env
