"""A user's bad day through ``dvc repro``, in one small repo: a typo in ``params.yaml``,
refused on one line naming ``section.key`` (the same refusals without DVC:
``test_cli.py``), and a ``dvc`` killed alone, whose stage stops. Neither leaves anything
in ``dvc.lock`` or the MLflow registry."""

import signal
import subprocess

import psutil
import pytest
import yaml
from pipeline_repo import dvc, git, make_repo, set_params, user_env
from reaping import started
from stage_processes import store_client, store_runs, wait_for

from mnist_vae.runtime.parent_watch import SHELLS

pytestmark = pytest.mark.slow

BAD = [
    ({"latent_dim": 2.5}, "train.latent_dim = 2.5, expected an integer >= 1"),
    ({"conditional": "yes"}, 'train.conditional = "yes", expected true or false'),
    ({"learning_rate": [0.001]}, "train.learning_rate = [0.001], expected a number > 0"),
    ({"seed": None}, "train.seed is missing"),
    ({"latent_dimm": 4}, "train.latent_dimm is not a parameter of this stage"),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory, mnist_dir):
    repo = make_repo(tmp_path_factory.mktemp("params") / "repo")
    dvc(repo, "repro", "prepare")
    return repo


@pytest.mark.parametrize(("change", "refused"), BAD)
def test_a_bad_value_in_params_yaml_stops_dvc_repro_on_one_line(repo, change, refused):
    lock = (repo / "dvc.lock").read_text()
    if None in change.values():
        params = yaml.safe_load((repo / "params.yaml").read_text())
        del params["train"][next(iter(change))]
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    else:
        set_params(repo, {"train": change})
    try:
        result = subprocess.run(
            ["dvc", "repro"], cwd=repo, capture_output=True, text=True, env=user_env()
        )
    finally:
        git(repo, "checkout", "params.yaml")

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert errors == [f"Error: params.yaml: {refused}"], result.stderr
    assert (repo / "dvc.lock").read_text() == lock
    assert not (repo / "models" / "vae.keras").exists()
    assert store_client(repo / "mlflow.db").search_registered_models() == []
    assert store_runs(repo / "mlflow.db") == []


def test_a_stage_whose_dvc_was_killed_alone_stops_and_registers_nothing(repo):
    """As ``timeout`` or a CI runner does it: SIGTERM to the process it started, not to
    the process group. The stage ends KILLED within the grace a scheduler gives (30 s)."""
    set_params(repo, {"train": {"epochs": 100000}})
    lock = (repo / "dvc.lock").read_text()
    process = started(subprocess.Popen(
        ["dvc", "repro"], cwd=repo, env=user_env(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    ))  # fmt: skip
    try:
        history = repo / "metrics" / "history.csv"
        wait_for(lambda: history.is_file() and history.read_text().count("\n") >= 2, process,
                 "the train stage's first epoch")  # fmt: skip
        # Without $SHELL, DVC starts the stage through `sh -c`, which stays its parent.
        children = psutil.Process(process.pid).children(recursive=True)
        (stage,) = [p for p in children if "stages/train.py" in " ".join(p.cmdline())
                    and p.name() not in SHELLS]  # fmt: skip
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        gone, _ = psutil.wait_procs([stage], timeout=30)
    finally:
        git(repo, "checkout", "params.yaml")

    assert gone, "the train stage outlived its dvc by 30 s"
    (run,) = store_runs(repo / "mlflow.db")
    assert run.info.status == "KILLED"
    assert run.data.tags["failure_reason"] == "interrupted (SIGTERM)"
    assert store_client(repo / "mlflow.db").search_registered_models() == []
    assert (repo / "dvc.lock").read_text() == lock
    assert not (repo / "models" / "vae.keras").exists()
