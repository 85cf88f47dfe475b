"""The stage commands chained by hand through CliRunner, as DVC would run them."""

import io
import json
import logging
import shutil
import zipfile

import h5py
import pytest
from click.testing import CliRunner
from conftest import ROOT, train_args
from mlflow.tracking import MlflowClient
from pipeline_repo import dvc, git

from mnist_vae import commands
from mnist_vae.mnist import data
from mnist_vae.runtime import machine
from mnist_vae.scoring import evaluation
from mnist_vae.vae import model_file
from stages.generate import generate
from stages.train import train


def test_train_writes_history_metrics_and_run(trained, mlflow_store):
    history = (trained / "metrics" / "history.csv").read_text().splitlines()
    assert history[0].split(",") == [
        "epoch",
        "kl",
        "loss",
        "reconstruction_nll",
        "val_kl",
        "val_loss",
        "val_reconstruction_nll",
    ]
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2"]
    final = json.loads((trained / "metrics" / "train.json").read_text())
    # Named after the bound trained on, which the history's plotted column is not.
    assert final["loss_elbo"] == pytest.approx(final["reconstruction_nll"] + final["kl"])
    # The machine's figures go to MLflow only: a rerun elsewhere is no change to review.
    columns = history[0].split(",")[1:]
    assert set(final) == {f"{c}_elbo" if c in ("loss", "val_loss") else c for c in columns}
    run_id = json.loads((trained / "models" / "run.json").read_text())["run_id"]
    run = MlflowClient(f"sqlite:///{mlflow_store}").get_run(run_id)
    assert run.data.params["train.hidden_layers"] == "2"
    assert run.data.params["prepare.val_size"] == "50"
    assert run.data.metrics["loss_elbo"] == pytest.approx(final["loss_elbo"])
    assert run.data.metrics["learning_rate"] == 0.01
    for machine_metric in ("epoch_seconds", "examples_per_second", "peak_memory_mb"):
        assert run.data.metrics[machine_metric] > 0, machine_metric
    assert run.data.tags["cpu"] == machine.cpu_model() != "unknown"
    assert not [name for name in run.data.metrics if name.startswith("system/")]
    datasets = [given.dataset for given in run.inputs.dataset_inputs]
    assert sorted(dataset.name for dataset in datasets) == ["train", "val"]
    assert len({dataset.digest for dataset in datasets}) == 1  # one folder, one DVC hash
    assert datasets[0].digest.endswith(".dir") and len(datasets[0].digest) == 36


def test_mlflows_own_switch_adds_system_metrics_to_the_training_run(
    prepared, mlflow_store, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.5")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "1")

    result = CliRunner().invoke(train, train_args(prepared / "data", prepared))

    assert result.exit_code == 0, result.output
    run_id = json.loads((prepared / "models" / "run.json").read_text())["run_id"]
    client = MlflowClient(f"sqlite:///{mlflow_store}")
    cpu = client.get_metric_history(run_id, "system/cpu_utilization_percentage")
    memory = client.get_metric_history(run_id, "system/system_memory_usage_megabytes")
    assert cpu and memory and all(0 <= m.value <= 100 for m in cpu)
    assert client.get_run(run_id).info.status == "FINISHED"


def test_train_under_bfloat16_saves_a_float32_model_and_tags_the_policy(prepared, mlflow_store):
    args = train_args(prepared / "data", prepared, **{"--precision": "mixed_bfloat16"})

    result = CliRunner().invoke(train, args)

    assert result.exit_code == 0, result.output
    vae = model_file.load(prepared / "models" / "vae.keras")
    layers = vae.encoder.layers + vae.decoder.layers
    assert {layer.compute_dtype for layer in layers} == {"float32"}
    run_id = json.loads((prepared / "models" / "run.json").read_text())["run_id"]
    run = MlflowClient(f"sqlite:///{mlflow_store}").get_run(run_id)
    assert run.data.params["train.precision"] == "mixed_bfloat16"
    assert run.data.tags["precision"] == "mixed_bfloat16"
    # The float32 copy holds the trained weights: it scores the validation images as
    # training last did, up to bf16's rounding and the draws of z.
    val = data.load(prepared / "data" / "val.npz")
    final = json.loads((prepared / "metrics" / "train.json").read_text())
    rows, _ = evaluation.score(vae, data.as_inputs(val.images), k=1, batch_size=50, seed=0)
    assert rows["neg_elbo"].mean() == pytest.approx(final["val_loss_elbo"], rel=0.02)


def test_the_model_file_is_one_kind_whatever_precision_trained_it(prepared):
    """float32 and bf16 training save the same entries, config and weight dtypes; neither
    file carries the optimizer, and neither carries a save time."""
    files = {}
    for precision in ("float32", "mixed_bfloat16"):
        out = prepared / precision
        args = train_args(prepared / "data", out, **{"--precision": precision})
        result = CliRunner().invoke(train, args)
        assert result.exit_code == 0, result.output
        files[precision] = zipfile.ZipFile(out / "models" / "vae.keras")

    plain, mixed = (_contents(archive) for archive in files.values())
    assert plain == mixed
    entries, config, metadata, weights = plain
    assert entries == ["metadata.json", "config.json", "model.weights.h5"]
    assert "date_saved" not in metadata and not config["compile_config"]
    assert not any(name.startswith("optimizer") for name in weights)
    assert {dtype for _, dtype in weights.values()} == {"float32"}


def _contents(archive: zipfile.ZipFile):
    """A saved model's entry names, config, metadata and weights' shapes and dtypes."""
    weights = {}
    with h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as h5:
        h5.visititems(
            lambda name, item: (
                weights.update({name: (item.shape, str(item.dtype))})
                if isinstance(item, h5py.Dataset)
                else None
            )
        )
    config, metadata = (
        json.loads(archive.read(name)) for name in ("config.json", "metadata.json")
    )
    return archive.namelist(), config, metadata, weights


def test_generate_for_a_run_missing_from_the_store_opens_a_new_one(trained, mlflow_store, caplog):
    run_file = trained / "models" / "run.json"
    run_file.write_text('{"run_id": "0123456789abcdef0123456789abcdef"}')
    args = ["--n-samples", "4", "--digits", "0123456789", "--seed", "1"]
    args += ["--model", str(trained / "models" / "vae.keras")]
    args += ["--run-file", str(run_file), "--samples", str(trained / "s.npz")]

    with caplog.at_level(logging.WARNING):
        result = CliRunner().invoke(
            generate,
            [*args, "--grid", str(trained / "s.png"), "--manifold", str(trained / "m.png")],
        )

    assert result.exit_code == 0, result.output
    assert "0123456789abcdef0123456789abcdef is not in" in caplog.text
    client = MlflowClient(f"sqlite:///{mlflow_store}")
    (run,) = client.search_runs(
        [client.get_experiment_by_name("mnist-vae").experiment_id],
        "tags.source_run_id = '0123456789abcdef0123456789abcdef'",
    )
    assert run.data.params["generate.n_samples"] == "4"
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["m.png", "s.png"]


def test_a_run_file_that_is_not_json_is_refused_on_one_line(trained):
    run_file = trained / "models" / "run.json"
    run_file.write_text("not json")
    args = ["--n-samples", "4", "--digits", "0123456789", "--seed", "1"]
    args += ["--model", str(trained / "models" / "vae.keras")]
    args += ["--run-file", str(run_file), "--samples", str(trained / "s.npz")]

    result = CliRunner().invoke(
        generate, [*args, "--grid", str(trained / "s.png"), "--manifold", str(trained / "m.png")]
    )

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {run_file}: expected a JSON file with a run_id")
    assert result.output.count("\n") == 1
    assert not (trained / "s.npz").exists() and not (trained / "s.png").exists()


def _champion(prepared, *args: str):
    """``mnist-vae champion``, the workspace being params.yaml and the prepared test set."""
    test_data = str(prepared / "data" / "test.npz")
    return CliRunner().invoke(commands.main, ["champion", "--test-data", test_data, *args])


def test_champion_without_any_scored_version_is_refused_on_one_line(prepared, mlflow_store):

    result = _champion(prepared)

    assert result.exit_code == 1
    # MLflow itself logs the creation of the new store's tables before it.
    last = result.output.splitlines()[-1]
    assert last.startswith("Error: mnist-vae: no registered version like bernoulli, gray, ")
    assert last.endswith(" images has a FINISHED run with a finite test.neg_elbo")


def test_champion_is_the_best_comparable_version_and_the_newest_of_equals(prepared, mlflow_store):
    """A rerun of the same pipeline registers the same score again; its newer version,
    logged by the newer code, wins the tie. A NaN score, a run that did not finish, a
    deleted run, and any version scored on other terms (a Gaussian likelihood, binarized
    inputs, or never scored) never compete, however their numbers compare."""
    import mlflow

    from mnist_vae.config import EvaluateConfig, ModelConfig, from_params
    from mnist_vae.scoring import comparable
    from mnist_vae.tracking import mlflow_experiment

    mlflow_experiment.configure()
    client = mlflow.MlflowClient()
    client.create_registered_model("mnist-vae")
    ours = comparable.key(
        from_params(ModelConfig),
        from_params(EvaluateConfig).seed,
        data.load(prepared / "data" / "test.npz"),
    )
    gaussian = {**ours, "likelihood": "gaussian"}
    binarized = {**ours, "inputs": "binarized, seed 0"}
    versions = [
        (99.5, "FINISHED", ours),
        (99.0, "FINISHED", ours),
        (120.0, "FINISHED", ours),
        (99.0, "FINISHED", ours),  # version 4, the champion
        (float("nan"), "FINISHED", ours),
        (50.0, "FAILED", ours),
        (-700.0, "FINISHED", gaussian),  # version 7
        (91.2, "FINISHED", binarized),
        (10.0, "FINISHED", None),
        (5.0, "FINISHED", ours),  # version 10, its run deleted
    ]
    for score, status, key in versions:
        with mlflow.start_run() as run:
            mlflow.log_metric("test.neg_elbo", score)
        client.set_terminated(run.info.run_id, status)
        tags = comparable.tags(key) if key else {}
        client.create_model_version("mnist-vae", run.info.artifact_uri, run.info.run_id, tags)
    client.delete_run(run.info.run_id)

    result = _champion(prepared)

    assert result.exit_code == 0, result.output
    assert f"Warning: mnist-vae version 10: its run {run.info.run_id} is deleted; skipped" in (
        result.output
    )
    assert result.output.splitlines()[-1].startswith("mnist-vae@champion -> version 4 ")
    assert result.output.splitlines()[-1].endswith(f", best of 4 like {comparable.spelled(ours)}")
    assert int(client.get_model_version_by_alias("mnist-vae", "champion").version) == 4
    described = client.get_registered_model("mnist-vae").tags
    assert described["champion.key"] == comparable.spelled(ours)

    gaussians = _champion(prepared, "--like", "7", "--alias", "gaussian-champion")

    assert gaussians.output.startswith("mnist-vae@gaussian-champion -> version 7 "), (
        gaussians.output
    )
    assert int(client.get_model_version_by_alias("mnist-vae", "champion").version) == 4
    described = client.get_registered_model("mnist-vae").tags
    assert described["gaussian-champion.key"].startswith("gaussian, gray, unconditional, ")


@pytest.mark.parametrize("option", ["--baseline", "--rev"])
def test_review_refuses_an_unknown_revision_on_one_line(tmp_path, monkeypatch, option):
    git(tmp_path, "init", "-q")
    dvc(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-qm", "dvc")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(
        commands.main, ["review", option, "no-such-rev", "--output", "review/r.md"]
    )

    assert result.exit_code == 1
    assert result.output == (
        f"Error: {option} 'no-such-rev': no such git revision or DVC experiment here\n"
    )
    assert not (tmp_path / "review").exists()


@pytest.mark.parametrize(
    ("option", "path"),
    [("--test-metrics", "metrics/evaluat.json"), ("--per-image", "per_image.csv"),
     ("--run-file", "models/run.json"), ("--image", "plots/sample.png")],
)  # fmt: skip
def test_review_refuses_a_file_no_stage_writes_on_one_line(tmp_path, monkeypatch, option, path):
    git(tmp_path, "init", "-q")
    dvc(tmp_path, "init", "-q")
    for name in ("dvc.yaml", "params.yaml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "the pipeline")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(commands.main, ["review", option, path, "--output", "review/r.md"])

    assert result.exit_code == 1
    assert result.output == f"Error: {option} {path!r}: no stage of dvc.yaml writes it\n"
    assert not (tmp_path / "review").exists()


def test_a_preset_that_dvc_cannot_run_stops_on_one_line(tmp_path, monkeypatch):
    """Outside a DVC repository ``dvc exp run`` fails (its own reason on stderr): the
    command says which run failed, with its status, and exits 1."""
    for name in ("dvc.yaml", "presets.yaml"):
        shutil.copyfile(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(commands.main, ["preset", "paper-iwae-k5", "--queue"])

    assert result.exit_code == 1
    assert result.output.startswith("Error: dvc exp run -n paper-iwae-k5 -S train.latent_dim=50")
    assert result.output.endswith(" --queue failed (exit 253)\n"), result.output
