"""The review a team does, through ``dvc`` and ``mnist-vae`` in a fresh git repo, on a few
thousand real images: the seed band, then a code change, a seed and a smaller model
reviewed against the committed run, with the diffs DVC shows for an experiment.

One test walks it, because each step builds on the last. It starts from its own
``dvc repro``, so that it runs beside the lifecycle of ``test_pipeline.py`` on the other
test worker rather than after it.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from pipeline_repo import (
    SCORES,
    dvc,
    experiments,
    git,
    learning_repo,
    ran,
    run,
)
from stage_processes import store_runs

pytestmark = pytest.mark.slow

BAND_SEEDS = 3


@pytest.fixture
def repo(tmp_path, mnist_dir):
    return learning_repo(tmp_path / "repo")


def test_a_review_tells_a_real_change_from_seed_noise(repo):
    dvc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")

    _check_seed_band(repo)
    _check_review_of_no_param_change(repo)
    _check_review_of_a_seed_change(repo)
    _check_experiment(repo)
    _check_review(repo)


def _check_seed_band(repo: Path) -> None:
    """The band comes from one DVC experiment per seed, each the committed params but for
    the seed; it is committed, and is no DVC metric."""
    out = run(repo, "mnist-vae", "seed-band", "--seeds", str(BAND_SEEDS))

    assert "wrote metrics/seed_band.json: test -ELBO" in out
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


def _verdicts(report: str) -> dict[str, str]:
    """The review's verdict per test metric, from its table."""
    rows = [line.strip("|").split("|") for line in report.splitlines()]
    return {
        cells[0].strip(): cells[-1].strip().strip("*")
        for cells in rows
        if len(cells) == 7 and cells[0].strip().startswith("test.")
    }


def _check_review_of_no_param_change(repo: Path) -> None:
    """A change of code alone changes no param: the workspace as committed, reviewed."""
    run(repo, "mnist-vae", "review", "--output", "review/same.md")

    report = (repo / "review" / "same.md").read_text()
    params = report.split("## Params")[1].split("## Images")[0]
    assert params.strip().splitlines()[2:] == [], params
    verdicts = _verdicts(report)
    assert set(verdicts) == {f"test.{k}" for k in SCORES}
    assert set(verdicts.values()) <= {"within noise", "not judged"}, verdicts


def _check_review_of_a_seed_change(repo: Path) -> None:
    """A seed that is not in the band, everything else as committed (``--temp`` runs the
    workspace's params, so this comes before the workspace holds another experiment)."""
    dvc(repo, "exp", "run", "--temp", "-n", "seed-7", "-S", "train.seed=7")

    run(repo, "mnist-vae", "review", "--rev", "seed-7", "--output", "review/seed.md")

    verdicts = _verdicts((repo / "review" / "seed.md").read_text())
    assert set(verdicts) == {f"test.{k}" for k in SCORES}
    judged = {k: v for k, v in verdicts.items() if v != "not judged"}
    assert judged and set(judged.values()) == {"within noise"}, verdicts


def _check_review(repo: Path) -> None:
    """The reviewer's report: the experiment in the workspace against the committed run."""
    out = run(repo, "mnist-vae", "review", "--baseline", "HEAD", "--output", "review/report.md")

    assert out.strip().endswith("wrote review/report.md")
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


def _check_experiment(repo: Path) -> None:
    """``dvc exp run -S`` reruns what the param feeds, and the team's diff commands see it."""
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
