"""Failures stay failures: a diverged model, a signal, a dead process, a store that is down,
damaged or read-only, and damaged inputs each end on one line, with MLflow telling the
truth and nothing good lost. Real commands, real processes, real signals, real stores."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import train_args
from servers import Server, mlflow_command
from stage_processes import stage_process, store_client, store_runs, wait_for

from mnist_vae.vae import model_file
from stages.evaluate import evaluate
from stages.train import train


def _evaluate_args(root: Path, **changes) -> list[str]:
    values = {
        "--iw-samples": "5",
        "--batch-size": "100",
        "--seed": "0",
        "--model": root / "models" / "vae.keras",
        "--run-file": root / "models" / "run.json",
        "--test-data": root / "data" / "test.npz",
        "--metrics": root / "out" / "evaluate.json",
        "--per-image": root / "out" / "per_image.csv",
        "--per-digit": root / "out" / "per_digit.csv",
        "--latent-units": root / "out" / "latent_units.csv",
        "--reconstructions": root / "out" / "reconstructions.png",
        "--latent-space": root / "out" / "latent_space.png",
        "--interpolation": root / "out" / "interpolation.png",
    }
    return [str(x) for option in {**values, **changes}.items() for x in option]


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("changes", "suspect"),
    [
        ({"--learning-rate": "1000"}, "train.learning_rate (1000) may be too high"),
        (
            {"--likelihood": "gaussian", "--decoder-std": "1e-30"},
            "train.decoder_std (1e-30) too small",
        ),
    ],
)
def test_a_diverged_training_stops_and_saves_and_registers_nothing(
    prepared, mlflow_store, changes, suspect
):
    result = CliRunner().invoke(train, train_args(prepared / "data", prepared, **changes))

    assert result.exit_code == 1
    line = _last_line(result.output)
    assert line.startswith("Error: training diverged at epoch 1: "), line
    assert suspect in line and "no model was saved" in line
    assert not (prepared / "models").exists()
    (run,) = store_runs(mlflow_store)
    assert run.info.status == "FAILED"
    assert run.data.tags["failure_reason"].startswith("Diverged: training diverged at epoch 1")
    assert store_client(mlflow_store).search_model_versions("name = 'mnist-vae'") == []


def test_evaluate_refuses_a_model_with_non_finite_scores(trained, mlflow_store):
    """The training run keeps FINISHED; the failed evaluation is its tag, not its status."""
    path = trained / "models" / "vae.keras"
    vae = model_file.load(path)
    for weight in vae.decoder.weights:
        weight.assign(np.full(weight.shape, np.nan, np.float32))
    model_file.save(vae, path)

    result = CliRunner().invoke(evaluate, _evaluate_args(trained))

    assert result.exit_code == 1
    assert _last_line(result.output).startswith(f"Error: {path}: test scores not finite (")
    assert not (trained / "out").exists()
    (run,) = store_runs(mlflow_store)
    assert run.info.status == "FINISHED"
    assert run.data.tags["evaluate.status"] == "FAILED"
    assert "test scores not finite" in run.data.tags["evaluate.failure_reason"]
    assert not any(name.startswith("test.") for name in run.data.metrics)


@pytest.mark.parametrize(
    ("target", "damage", "message"),
    [
        ("models/vae.keras", 1000, "not a .keras zip archive (damaged or truncated); retrain"),
        ("data/test.npz", b"garbage" * 40, "not an npz archive (damaged or truncated); rerun"),
    ],
)
def test_a_damaged_input_file_is_named_on_one_line(trained, target, damage, message):
    path = trained / target
    if isinstance(damage, int):
        os.truncate(path, damage)
    else:
        path.write_bytes(damage)

    result = CliRunner().invoke(evaluate, _evaluate_args(trained))

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: {message}"), result.output
    assert result.output.count("\n") == 1
    assert not (trained / "out").exists()


def _train_process(root: Path, epochs: str = "100000") -> subprocess.Popen:
    """The train stage as DVC starts it: its own process, many epochs of a tiny model."""
    return stage_process("train", train_args(root / "data", root, **{"--epochs": epochs}))


def test_a_checkpoint_that_cannot_be_used_says_why_and_training_starts_afresh(trained):
    """A finished run's checkpoint, one of other params, then one truncated as a
    half-copied file would be: none is dropped in silence, and none stops the stage."""
    checkpoint = trained / "models" / "checkpoint.npz"
    finished = CliRunner().invoke(train, train_args(trained / "data", trained))
    other = train_args(trained / "data", trained, **{"--learning-rate": "0.02"})
    other_params = CliRunner().invoke(train, other)
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    damaged = CliRunner().invoke(train, train_args(trained / "data", trained))

    assert finished.exit_code == other_params.exit_code == damaged.exit_code == 0
    assert (
        f"{checkpoint} is of a finished run (2 epochs, 2 asked for); training from epoch 1"
        in finished.output
    )
    assert f"{checkpoint} was written under other params; training" in other_params.output
    assert f"{checkpoint} is unreadable (BadZipFile: " in damaged.output
    assert "; training from epoch 1" in damaged.output


def test_a_signal_during_training_ends_the_run_as_killed(prepared, mlflow_store):
    """SIGTERM before the first checkpoint: no model, only the history. (SIGINT, after a
    checkpoint, is in ``test_resume.py``.)"""
    signum = signal.SIGTERM
    process = _train_process(prepared)
    history = prepared / "metrics" / "history.csv"
    wait_for(
        lambda: history.is_file() and history.read_text().count("\n") >= 2,
        process,
        "first epoch in the history",
    )

    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 128 + signum
    assert _last_line(stderr) == f"Error: interrupted by {signum.name}"
    (run,) = store_runs(mlflow_store)
    assert run.info.status == "KILLED"
    assert run.data.tags["failure_reason"] == f"interrupted ({signum.name})"
    assert not (prepared / "models").exists()
    assert [p.name for p in (prepared / "metrics").iterdir()] == ["history.csv"]


def test_a_run_whose_process_died_is_closed_as_killed_when_the_store_is_next_opened(
    prepared, mlflow_store
):
    from mnist_vae import commands

    process = _train_process(prepared)
    wait_for(
        lambda: any(run.info.status == "RUNNING" for run in store_runs(mlflow_store)),
        process,
        "RUNNING run in the store",
    )
    process.kill()
    process.wait()
    (run,) = store_runs(mlflow_store)
    assert run.info.status == "RUNNING"

    CliRunner().invoke(commands.main, ["champion"])

    (run,) = store_runs(mlflow_store)
    assert run.info.status == "KILLED"
    assert run.data.tags["failure_reason"] == (
        f"process {process.pid} on {run.data.tags['process.host']} ended without closing the run"
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_an_interrupted_evaluation_leaves_the_training_run_finished(trained, mlflow_store, signum):
    """The evaluation's own outcome is the ``evaluate.status`` tag: KILLED by the stage
    itself on SIGTERM, and by the next stage to open the store after a SIGKILL."""
    from mnist_vae import commands

    (trained_run,) = store_runs(mlflow_store)
    slow = _evaluate_args(trained, **{"--iw-samples": "50000", "--batch-size": "1000"})
    process = stage_process("evaluate", slow)
    client = store_client(mlflow_store)
    run_id = trained_run.info.run_id
    wait_for(
        lambda: client.get_run(run_id).data.tags.get("evaluate.status") == "RUNNING",
        process,
        "evaluate.status RUNNING",
    )

    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    after_signal = client.get_run(run_id).data.tags["evaluate.status"]
    CliRunner().invoke(commands.main, ["champion"])

    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["evaluate.status"] == "KILLED"
    if signum == signal.SIGTERM:
        assert process.returncode == 128 + signum
        assert _last_line(stderr) == "Error: interrupted by SIGTERM"
        assert after_signal == "KILLED"
        assert run.data.tags["evaluate.failure_reason"] == "interrupted (SIGTERM)"
    else:
        assert process.returncode == -signum
        assert after_signal == "RUNNING"
        assert run.data.tags["evaluate.failure_reason"].startswith(f"process {process.pid} on ")
    assert not any(name.startswith("test.") for name in run.data.metrics)
    assert not (trained / "out").exists()


def test_an_unreachable_tracking_server_fails_fast_on_one_line(prepared, monkeypatch):
    """The line names the server, but never its password: it ends up in CI logs."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:s3cret@127.0.0.1:9")
    start = time.monotonic()

    result = CliRunner().invoke(train, train_args(prepared / "data", prepared))

    assert time.monotonic() - start < 30
    assert result.exit_code == 1
    assert "s3cret" not in result.output
    assert result.output == (
        "Error: MLflow store http://alice:***@127.0.0.1:9 did not answer ([Errno 111] "
        "Connection refused); start "
        "it, or point MLFLOW_TRACKING_URI at a running server (unset, the pipeline uses "
        "mlflow.db at the repository root)\n"
    )
    assert not (prepared / "metrics").exists()


def test_a_damaged_store_is_named_and_left_as_it_was(prepared, mlflow_store):
    CliRunner().invoke(train, train_args(prepared / "data", prepared, **{"--epochs": "1"}))
    os.truncate(mlflow_store, mlflow_store.stat().st_size // 2)
    damaged = mlflow_store.read_bytes()

    result = CliRunner().invoke(train, train_args(prepared / "data", prepared / "again"))

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {mlflow_store}: damaged MLflow store (")
    assert result.output.count("\n") == 1
    assert mlflow_store.read_bytes() == damaged
    assert not (prepared / "again").exists()


def test_a_read_only_store_is_named_before_training(prepared, mlflow_store):
    CliRunner().invoke(train, train_args(prepared / "data", prepared, **{"--epochs": "1"}))
    mlflow_store.chmod(0o444)
    immutable = (
        os.geteuid() == 0 and subprocess.run(["chattr", "+i", mlflow_store]).returncode == 0
    )
    try:
        if os.access(mlflow_store, os.W_OK) and not immutable:
            pytest.skip("root without chattr: no way to make the store read-only here")
        result = CliRunner().invoke(train, train_args(prepared / "data", prepared / "again"))
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", mlflow_store], check=True)

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {mlflow_store}: the MLflow store cannot be written (")
    assert result.output.count("\n") == 1
    assert not (prepared / "again").exists()


def test_a_server_lost_mid_training_costs_the_logs_not_the_model(prepared, monkeypatch):
    """The run stays RUNNING on the server, which cannot be told; once the server is back,
    the next stage to open the store closes it as KILLED."""
    from mnist_vae import commands

    command = [mlflow_command(), "server", "--backend-store-uri"]
    command += [f"sqlite:///{prepared / 'server.db'}", "--workers", "1"]
    server = Server(*command, ready="/health", cwd=prepared).wait()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    process = _train_process(prepared, epochs="12")
    client = store_client(server.url)

    def logged_epoch_two() -> bool:
        runs = store_runs(server.url)
        return bool(runs) and bool(
            [m for m in client.get_metric_history(runs[0].info.run_id, "loss_elbo") if m.step >= 2]
        )

    wait_for(logged_epoch_two, process, "epoch 2 logged to the server")
    server.stop()
    _, stderr = process.communicate(timeout=300)

    assert process.returncode == 1
    line = _last_line(stderr)
    assert line.startswith(f"Error: MLflow store {server.url} stopped answering ("), line
    assert line.endswith(", loss_curves.png, model; the local outputs are written"), line
    assert "lacks epochs " in line and " to 12, checkpoint, metrics" in line
    assert model_file.load(prepared / "models" / "vae.keras").model_config.latent_dim == 3
    history = (prepared / "metrics" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 12
    assert json.loads((prepared / "metrics" / "train.json").read_text())["loss_elbo"] > 0

    back = Server(*command, ready="/health", cwd=prepared, port=server.port).wait()
    try:
        (run,) = store_runs(back.url)
        assert run.info.status == "RUNNING"
        CliRunner().invoke(commands.main, ["champion"])
        (run,) = store_runs(back.url)
        assert run.info.status == "KILLED"
    finally:
        back.stop()


def test_runs_outside_git_are_not_all_named_alike(prepared, monkeypatch, mlflow_store):
    """Training seeds Python's random, from which MLflow drew its run names."""
    monkeypatch.chdir(prepared)
    for out in ("a", "b"):
        args = train_args(prepared / "data", prepared / out, **{"--epochs": "1"})
        assert CliRunner().invoke(train, args).exit_code == 0

    names = [run.info.run_name for run in store_runs(mlflow_store)]
    assert len(set(names)) == 2
    assert all(name.startswith("no-git-") for name in names)
