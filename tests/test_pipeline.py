"""The whole pipeline through ``dvc repro`` in a fresh git repo, on a few thousand real
images, and the review a team does of its runs.

A pipeline run costs tens of seconds on 2 cores, so the module's tests share one repo and
one ``dvc repro`` and run in order, each a step of the lifecycle a user goes through: the
outputs and the run, a forced rerun, a param change, failed experiments, the champion,
the review (the seed band, then a code change, a seed and a smaller model reviewed
against the committed run, with the diffs DVC shows for an experiment), and the remote.
"""

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from browser import ARTIFACTS, TIMEOUT_MS, chromium, needs_chromium
from click.testing import CliRunner
from keras import ops
from mlflow.tracking import MlflowClient
from pipeline_repo import (
    LEARNS,
    SCORES,
    STAGES,
    dvc,
    experiments,
    git,
    learning_repo,
    ran,
    run,
    set_params,
    user_env,
)
from stage_processes import store_runs

from mnist_vae import commands
from mnist_vae.config import EvaluateConfig, ModelConfig, from_params
from mnist_vae.mnist import data
from mnist_vae.runtime import compile_cache
from mnist_vae.scoring import comparable
from mnist_vae.vae import model_file

pytestmark = pytest.mark.slow

RUN_FILE = "models/mlflow_run.json"
PUSHED = (
    "data/prepared/train.npz",
    "data/prepared/test.npz",
    "models/vae.keras",
    RUN_FILE,
    "plots/reconstructions.png",
    "plots/samples.png",
    "data/samples.npz",
)


BAND_SEEDS = 3
REVIEW_CHARTS = ["loss curves", "test -ELBO per digit", "paired per-image differences"]
REVIEW_IMAGES = 2 * 2 + len(REVIEW_CHARTS)  # samples and reconstructions, both sides


@pytest.fixture(scope="module")
def repo(tmp_path_factory, mnist_dir):
    """The learning config, reproduced once into a fresh XLA cache; not yet committed."""
    repo = learning_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    out = dvc(repo, "repro", **_fresh_compile_cache(repo))
    assert ran(out) == list(STAGES)
    assert "Creating initial MLflow database tables" not in out  # the new store, quietly
    return repo


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)


def _fresh_compile_cache(repo: Path) -> dict[str, str]:
    """An XLA compile cache of the repo's own, empty at first (and the run's flag left
    out, so that the stages choose their folder themselves): the first ``dvc repro``
    compiles every program, the forced rerun loads them."""
    return {compile_cache.VARIABLE: str(repo.parent / "xla"), "TF_XLA_FLAGS": ""}


def test_dvc_repro_writes_every_output_and_one_run_of_its_params(repo):
    for output in (
        "data/prepared/train.npz",
        "models/vae.keras",
        "plots/reconstructions.png",
        "plots/samples.png",
        "data/samples.npz",
        "metrics/history.csv",
    ):
        assert (repo / output).stat().st_size > 0, output
    scores = json.loads((repo / "metrics/evaluate.json").read_text())["test"]
    assert set(scores) == SCORES
    assert 100 < scores["neg_elbo"] < 600
    assert np.load(repo / "data/samples.npz")["images"].shape == (16, 28, 28)
    _check_mlflow_run(repo, scores)
    _check_metrics_are_the_model_s(repo)


def test_a_forced_rerun_is_byte_identical_and_then_nothing_runs(repo):
    _check_forced_rerun_is_byte_identical(repo)

    assert ran(dvc(repo, "repro")) == []


def test_a_param_change_reruns_only_the_stage_it_feeds(repo):
    set_params(repo, {"generate": {"n_samples": 9}})

    assert ran(dvc(repo, "repro")) == ["generate"]
    child = store_runs(repo / "mlflow.db", "tags.`mlflow.parentRunId` != ''")
    assert [run.data.params["generate.n_samples"] for run in child] == ["9"]
    _commit(repo, "baseline")


def test_failed_experiments_record_nothing(repo):
    _check_failures_record_nothing(repo)


def test_the_champion_is_the_best_comparable_version(repo):
    _check_champion(repo)


def test_the_explore_notebook_runs_top_to_bottom_on_the_champion(repo):
    """``notebooks/explore.ipynb``, executed in a Jupyter kernel from its own folder, as a
    user opens it, against the repo's store: every cell runs, and each figure is drawn."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(repo / "notebooks" / "explore.ipynb", as_version=4)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("MLFLOW_TRACKING_URI", "DVC_ROOT"):  # the repo's mlflow.db, as a user's
            patch.delenv(name)
        folder = {"metadata": {"path": str(repo / "notebooks")}}
        NotebookClient(notebook, timeout=300, kernel_name="python3", resources=folder).execute()

    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    printed = "".join(output.get("text", "") for output in outputs)
    assert len(figures) == 4, printed  # samples, the path, the units, the curves
    assert re.search(r"models:/mnist-vae@champion: latent_dim \d+, conditional False", printed)
    assert "an unconditional model" in printed


def _check_metrics_are_the_model_s(repo: Path) -> None:
    """What ``dvc metrics diff`` compares by default holds no speed or memory: those
    describe the machine, and live in the MLflow run."""
    shown = json.loads(dvc(repo, "metrics", "show", "--json"))
    (files,) = (revision["data"] for revision in shown.values())
    assert set(files) == {"metrics/train.json", "metrics/evaluate.json"}
    keys = {key for f in files.values() for key in _flat(f["data"])}
    assert "test.neg_elbo" in keys and "val_loss_elbo" in keys
    machine_words = ("second", "memory", "rss", "speed", "time")
    assert not [key for key in keys if any(word in key for word in machine_words)], keys


def _flat(values: dict, prefix: str = "") -> list[str]:
    return [
        name
        for key, value in values.items()
        for name in (
            _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
        )
    ]


def _check_forced_rerun_is_byte_identical(repo: Path) -> None:
    """Every output of ``dvc repro -f`` has the md5 it had, but the run file, which names
    the run: each run is a new MLflow run. So a rerun on one machine changes nothing in
    review. (The checkpoint does not name its run; the run is found by its tag.)

    The first run compiled every XLA program into a fresh cache; this one loads them all
    and compiles none, and still writes the same bytes."""
    before = (repo / "dvc.lock").read_text()
    cache = Path(_fresh_compile_cache(repo)[compile_cache.VARIABLE])
    compiled = sorted(cache.glob("*/tensorflow/*"))

    out = dvc(repo, "repro", "-f", **_fresh_compile_cache(repo))

    assert ran(out) == list(STAGES)
    # What a stage prints is the user's: none of TensorFlow's start-up lines or its log of
    # each load and of the CUDA probe, no MLflow warning in colour, no redrawn bar.
    noise = ("E0000", "absl::InitializeLog", "cuda drivers", "UserWarning", "\x1b[", "\r")
    assert not [text for text in noise if text in out], out
    # An epoch's line says how long the rest should take, as a log file shows it.
    epochs = [line for line in out.splitlines() if line.startswith("Epoch ")]
    assert len(epochs) == LEARNS["train"]["epochs"], out
    assert all(re.search(r" - (\d+h \d\dm|\d+m \d\ds|\d+s) left$", line) for line in epochs)
    assert epochs[-1].endswith(" - 0s left")
    # Where it ran, under what precision, and where the results went.
    started = r"^training on tensorflow:CPU \(.+\), float32: 5 epochs of 2000 images$"
    assert re.search(started, out, re.M)
    assert "wrote models/vae.keras and metrics/train.json; MLflow run " in out
    assert re.search(r"^test -ELBO [\d.]+, IW bound [\d.]+ \(k=\d+\): wrote metrics/", out, re.M)

    after = (repo / "dvc.lock").read_text()
    assert after != before
    assert _without_run_file(after) == _without_run_file(before)
    assert compiled and sorted(cache.glob("*/tensorflow/*")) == compiled
    assert {path.parts[-3] for path in compiled} == {compile_cache.key({})}


def _without_run_file(lock: str) -> dict:
    stages = yaml.safe_load(lock)["stages"]
    for stage in stages.values():
        for kind in ("deps", "outs"):
            stage[kind] = [e for e in stage.get(kind, []) if e["path"] != RUN_FILE]
    return stages


def _check_failures_record_nothing(repo: Path) -> None:
    """A diverged training, and a param value that would be a shell command, each fail
    their experiment on one line: DVC records nothing, and no shell sees the value."""
    lock = (repo / "dvc.lock").read_text()
    marker = repo.parent / "marker"
    injected = f"generate.digits='0;touch {marker};echo'"

    refused = _failed_experiment(repo, "injected", injected)
    diverged = _failed_experiment(repo, "diverged", "train.learning_rate=1000")

    assert 'Error: params.yaml: generate.digits = "0;touch ' in refused
    assert not marker.exists()
    assert "Error: training diverged at epoch 1: " in diverged
    assert "train.learning_rate (1000) may be too high" in diverged
    assert (repo / "dvc.lock").read_text() == lock
    (run,) = store_runs(repo / "mlflow.db", "tags.`dvc.exp_name` = 'diverged'")
    assert run.info.status == "FAILED"
    assert run.info.run_id not in {
        v.run_id for v in MlflowClient(f"sqlite:///{repo / 'mlflow.db'}").search_model_versions()
    }


def _failed_experiment(repo: Path, name: str, change: str) -> str:
    command = ["dvc", "exp", "run", "--temp", "-n", name, "-S", change]
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=user_env())
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


def _check_champion(repo: Path) -> None:
    """Each training run registered a version, which its evaluation tagged with what its
    scores compare under; the alias goes to the best test -ELBO."""
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    client = MlflowClient(uri)
    versions = client.search_model_versions("name = 'mnist-vae'")
    scores = {v.version: client.get_run(v.run_id).data.metrics["test.neg_elbo"] for v in versions}
    assert len(scores) == 2  # the first run and its forced rerun
    params, test_data = repo / "params.yaml", repo / "data" / "prepared" / "test.npz"
    key = comparable.key(
        from_params(ModelConfig, params), from_params(EvaluateConfig, params).seed,
        data.load(test_data),
    )  # fmt: skip
    assert [comparable.from_tags(v.tags) for v in versions] == [key, key]

    result = CliRunner().invoke(
        commands.main,
        ["champion", "--params", str(params), "--test-data", str(test_data)],
        env={"MLFLOW_TRACKING_URI": uri},
    )

    assert result.exit_code == 0, result.output
    best = min(scores, key=lambda version: (scores[version], -int(version)))
    assert result.output.startswith(f"mnist-vae@champion -> version {best} ")
    assert client.get_model_version_by_alias("mnist-vae", "champion").version == best
    champion = mlflow.pyfunc.load_model("models:/mnist-vae@champion").unwrap_python_model().vae
    z_mean = champion.encode(np.zeros((3, 784), np.float32))["z_mean"]
    assert champion.decode(z_mean).shape == (3, 784)


def _check_lineage(repo: Path, run) -> None:
    """The run names its three splits as MLflow datasets: DVC's hash of their folder, as
    dvc.lock records it, and the file and commit they came from."""
    (prepared,) = [
        out
        for out in yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["prepare"]["outs"]
        if out["path"] == "data/prepared"
    ]
    head = git(repo, "rev-parse", "HEAD").strip()
    contexts = {"train": "training", "val": "validation", "test": "testing"}
    logged = {given.dataset.name: given for given in run.inputs.dataset_inputs}
    assert set(logged) == set(contexts)
    for name, given in logged.items():
        assert given.dataset.digest == prepared["md5"]
        assert given.dataset.source_type == "dvc"
        assert json.loads(given.dataset.source) == {
            "path": f"data/prepared/{name}.npz",
            "rev": head,
        }
        assert {tag.key: tag.value for tag in given.tags}["mlflow.data.context"] == contexts[name]


def _check_mlflow_run(repo: Path, scores: dict) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    (run,) = store_runs(repo / "mlflow.db")
    run_id = json.loads((repo / RUN_FILE).read_text())["run_id"]
    assert run.info.run_id == run_id and run.info.status == "FINISHED"
    assert run.info.run_name == git(repo, "rev-parse", "--short=7", "HEAD").strip()
    params = yaml.safe_load((repo / "params.yaml").read_text())
    written = {f"{s}.{k}": value for s, values in params.items() for k, value in values.items()}
    logged = {name: _read_back(run.data.params[name], value) for name, value in written.items()}
    assert logged == written  # every field, of every section, as params.yaml says it
    assert run.data.metrics["test.neg_elbo"] == pytest.approx(scores["neg_elbo"])
    assert run.data.tags["mlflow.source.git.commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert run.data.tags["device"] == "tensorflow:CPU"
    assert run.data.params["train.precision"] == "float32"
    assert run.data.tags["precision"] == "float32"
    assert run.data.metrics["epoch_seconds"] > 0 and run.data.tags["cpu"]
    _check_lineage(repo, run)
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    epochs = LEARNS["train"]["epochs"]
    assert [m.step for m in client.get_metric_history(run_id, "val_loss_elbo")] == [
        *range(1, epochs + 1)
    ]
    epoch_images = [a.path for a in client.list_artifacts(run_id, "images")]
    assert any(path.startswith("images/epoch_samples+step+1+") for path in epoch_images)
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"reconstructions.png", "samples.png"} <= artifacts
    assert str(repo / "mlartifacts") in run.info.artifact_uri
    (logged,) = mlflow.search_logged_models(
        output_format="list", experiment_ids=[run.info.experiment_id]
    )
    assert logged.source_run_id == run_id
    generator = mlflow.pyfunc.load_model(f"models:/{logged.model_id}")
    z = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    images = generator.predict({"z": z})
    assert images.shape == (2, 28, 28) and 0 < images.min() <= images.max() < 1
    vae = model_file.load(repo / "models/vae.keras")
    np.testing.assert_allclose(images.reshape(2, 784), ops.sigmoid(vae.decode(z)), atol=1e-6)


def _read_back(logged: str, like):
    """A logged param read as the type of the value in params.yaml: 2 for 2.5 would not
    equal it, and neither would "2.5" for 2.5."""
    if isinstance(like, bool):
        return {"true": True, "false": False}.get(logged, logged)
    return type(like)(logged)


def _check_remote_restores_every_output(repo: Path) -> None:
    """``dvc push`` to a remote, then ``dvc pull`` into an empty cache and workspace:
    every output comes back byte for byte, so ``dvc repro`` has nothing to run."""
    dvc(repo, "remote", "add", "--default", "shared", str(repo.parent / "remote"))
    before = {name: _digest(repo / name) for name in PUSHED}

    dvc(repo, "push")
    shutil.rmtree(repo / ".dvc" / "cache")
    for folder in ("data", "models", "plots"):
        shutil.rmtree(repo / folder)
    dvc(repo, "pull")

    assert {name: _digest(repo / name) for name in PUSHED} == before
    assert ran(dvc(repo, "repro")) == []


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_seed_band_is_measured_from_one_experiment_per_seed(repo):
    """The band comes from one DVC experiment per seed, each the committed params but for
    the seed; it is committed, and is no DVC metric."""
    _commit(repo, "baseline")
    out = run(repo, "mnist-vae", "seed-band", "--seeds", str(BAND_SEEDS))

    assert "wrote metrics/seed_band.json: test -ELBO" in out
    # Each seed says where the band is, and once one has run, how long the rest should take.
    assert f"train.seed=0 (1 of {BAND_SEEDS} to run): dvc exp run --temp" in out
    assert re.search(rf"train\.seed=2 \(3 of {BAND_SEEDS} to run, about \d+(m \d\d)?s left\)", out)
    assert "Running stage 'generate'" not in out  # a seed's samples are not its noise
    band = json.loads((repo / "metrics" / "seed_band.json").read_text())
    assert sorted(band["experiments"].values()) == list(range(BAND_SEEDS))
    shown = experiments(repo)
    elbos = [
        shown[name]["metrics"]["metrics/evaluate.json"]["data"]["test"]["neg_elbo"]
        for name in band["experiments"]
    ]
    assert band["test"]["neg_elbo"]["mean"] == pytest.approx(np.mean(elbos))
    assert band["test"]["neg_elbo"]["std"] == pytest.approx(np.std(elbos, ddof=1))
    assert band["test"]["neg_elbo"]["std"] > 0 and band["test"]["neg_elbo"]["n"] == BAND_SEEDS
    assert band["commit"] == git(repo, "rev-parse", "HEAD").strip()
    git(repo, "add", "metrics/seed_band.json")
    git(repo, "commit", "-qm", "seed band")
    assert "metrics/seed_band.json" not in dvc(repo, "metrics", "show", "--json")


def test_a_review_of_the_workspace_as_committed_changes_no_param(repo):
    """A change of code alone changes no param: the workspace as committed, reviewed."""
    run(repo, "mnist-vae", "review", "--output", "review/same.md")

    report = (repo / "review" / "same.md").read_text()
    params = report.split("## Params")[1].split("## Images")[0]
    assert params.strip().splitlines()[2:] == [], params
    verdicts = _verdicts(report)
    assert set(verdicts) == {f"test.{k}" for k in SCORES}
    assert set(verdicts.values()) <= {"within noise", "not judged"}, verdicts


def test_a_seed_change_alone_is_within_noise(repo):
    """A seed that is not in the band, everything else as committed (``--temp`` runs the
    workspace's params, so this comes before the workspace holds another experiment)."""
    dvc(repo, "exp", "run", "--temp", "-n", "seed-7", "-S", "train.seed=7")

    run(repo, "mnist-vae", "review", "--rev", "seed-7", "--output", "review/seed.md")

    verdicts = _verdicts((repo / "review" / "seed.md").read_text())
    assert set(verdicts) == {f"test.{k}" for k in SCORES}
    judged = {k: v for k, v in verdicts.items() if v != "not judged"}
    assert judged and set(judged.values()) == {"within noise"}, verdicts


def test_an_experiment_reruns_what_its_param_feeds_and_the_diffs_see_it(repo):
    """``dvc exp run -S`` reruns what the param feeds, and the team's diff commands see it.
    It leaves the experiment in the workspace, for the review after it."""
    assert ran(dvc(repo, "exp", "run", "-n", "small-z", "-S", "train.latent_dim=2")) == [
        "train",
        "evaluate",
        "generate",
    ]
    params = json.loads(dvc(repo, "params", "diff", "--json"))
    assert params["params.yaml"] == {"train.latent_dim": {"old": 8, "new": 2, "diff": -6}}
    metrics = json.loads(dvc(repo, "metrics", "diff", "--json"))
    assert set(metrics["metrics/evaluate.json"]) == {f"test.{k}" for k in SCORES}
    assert "small-z" in experiments(repo)
    (loss_chart,) = json.loads(dvc(repo, "plots", "diff", "HEAD", "--json"))["data"]["loss"]
    assert loss_chart["revisions"] == ["workspace", "HEAD"]
    drawn = {(row["rev"], row["field"]) for row in loss_chart["content"]["data"]["values"]}
    assert drawn == {(rev, f) for rev in ("workspace", "HEAD") for f in ("loss", "val_loss")}
    (run,) = store_runs(repo / "mlflow.db", "tags.`dvc.exp_name` = 'small-z'")
    assert run.info.run_name == "small-z"
    assert run.data.params["train.latent_dim"] == "2"


def test_a_review_tells_a_real_change_from_seed_noise(repo):
    """The reviewer's report: the experiment in the workspace against the committed run."""
    out = run(repo, "mnist-vae", "review", "--baseline", "HEAD", "--output", "review/report.md")

    assert out.strip().endswith("wrote review/report.md and review/report.html")
    report = (repo / "review" / "report.md").read_text()
    assert report.startswith("# workspace against HEAD\n")
    (row,) = [line for line in report.splitlines() if "| test.neg_elbo |" in line]
    old, new, change, seed_noise, paired = row.strip("|").split("|")[1:6]
    assert float(change) == pytest.approx(float(new) - float(old), abs=0.15)  # 4 digits shown
    # On the same images the mean per-image difference is the change of the means.
    assert float(paired.split("±")[0]) == pytest.approx(float(change), abs=0.15)
    assert 0 < float(seed_noise) < abs(float(change))
    assert "| train.latent_dim | 8 | 2 |" in report
    assert "Both sides scored on: bernoulli, gray, unconditional, test set " in report
    assert ", 500 images." in report
    verdicts = _verdicts(report)
    assert verdicts["test.neg_elbo"] == "worse", report
    assert verdicts["test.iw_nll"] == "worse", report
    assert verdicts["test.neg_elbo_stderr"] == "not judged"
    assert f"Seed band: {BAND_SEEDS} seeds at " in report
    machine = report.split("## Speed and memory (machine-dependent)")[1].split("## MLflow")[0]
    (cpu,) = [line for line in machine.splitlines() if line.startswith("| cpu |")]
    assert cpu.count("|") == 4 and cpu.split("|")[2].strip(), cpu
    assert (
        "| examples_per_second |" in machine
        and "examples_per_second" not in report.split("## Speed and memory")[0]
    )
    for image in ("HEAD_samples.png", "workspace_samples.png", "HEAD_reconstructions.png"):
        assert (repo / "review" / "report_images" / image).stat().st_size > 0
        assert f"](report_images/{image})" in report
    workspace_run = json.loads((repo / "models/mlflow_run.json").read_text())["run_id"]
    assert f"- workspace: run `{workspace_run}`" in report
    assert report.count("run `") == 2
    charts = report.split("## Charts")[1].split("##")[0]
    titles = [line[2:].split("]")[0] for line in charts.splitlines() if line.startswith("![")]
    assert titles == REVIEW_CHARTS
    for name in ("loss_curves", "test_-ELBO_per_digit", "paired_per-image_differences"):
        assert (repo / "review" / "report_images" / f"chart_{name}.png").stat().st_size > 0
    page = (repo / "review" / "report.html").read_text()
    assert page.count("<img") == page.count('src="data:image/png;base64,') == REVIEW_IMAGES
    assert "report_images/" not in page  # every image inlined: the page is one file


@needs_chromium
def test_the_review_page_shows_every_image_in_a_browser_with_no_network(repo):
    """The review's HTML page, opened from disk in Chromium with the network off, draws
    each side's images and the charts, and asks for nothing outside itself."""
    from playwright.sync_api import sync_playwright

    asked = []
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
        page = page.new_page()
        page.on("request", lambda request: asked.append(request.url))
        page.goto((repo / "review" / "report.html").as_uri())
        page.wait_for_load_state("load", timeout=TIMEOUT_MS)
        widths = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth)")
        alts = page.evaluate("[...document.images].map(i => i.alt)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "review-page.png", full_page=True)
        browser.close()

    assert len(widths) == REVIEW_IMAGES and min(widths) > 0, widths
    assert [alt for alt in alts if alt] == REVIEW_CHARTS
    assert [url for url in asked if not url.startswith("file:")] == []


def test_a_remote_restores_every_output(repo):
    """Last: it deletes the outputs, and with them the .gitignore files DVC wrote."""
    _check_remote_restores_every_output(repo)


def _verdicts(report: str) -> dict[str, str]:
    """The review's verdict per test metric, from its table."""
    rows = [line.strip("|").split("|") for line in report.splitlines()]
    return {
        cells[0].strip(): cells[-1].strip().strip("*")
        for cells in rows
        if len(cells) == 7 and cells[0].strip().startswith("test.")
    }
