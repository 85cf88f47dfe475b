"""``mnist-vae sweep`` before any task runs: the grid, its names, what Slurm is asked
for, and what is refused. (The sweep run by a real Slurm against the team's servers is in
``test_team.py``.)"""

import json
import re

import pytest
from click.testing import CliRunner
from pipeline_repo import dvc, git, make_repo

from mnist_vae import commands


@pytest.fixture
def pushed(tmp_path, monkeypatch):
    """A repo of the project whose HEAD is on its remote ``origin``, as the working dir."""
    repo = make_repo(tmp_path / "repo")
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "origin.git"))
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "origin", "HEAD:main")
    monkeypatch.chdir(repo)
    return repo


def sweep(*args: str):
    return CliRunner().invoke(commands.main, ["sweep", *args])


def test_the_array_holds_dvcs_grid_each_point_named_after_what_it_changes(pushed):
    done = sweep(
        "-S", "train.latent_dim=2,8", "-S", "train.learning_rate=1e-3,3e-4", "-S",
        "train.epochs=3", "--slurm", "--dry-run", "--mem", "4G", "--time", "1:00:00",
        "--gres", "gpu:1", "--partition", "gpu", "--account", "vae",
        "--sbatch-arg=--qos=low", "--venv", "/shared/venv",
    )  # fmt: skip

    assert done.exit_code == 0, done.output
    command, script = done.output.split(" <<'SCRIPT'\n")
    head = git(pushed, "rev-parse", "HEAD").strip()
    assert command.split()[1:] == [
        "--parsable", command.split()[2], "--array=0,1,2,3", "--cpus-per-task=2",
        "--chdir=/tmp", "--mem=4G", "--time=1:00:00", "--gres=gpu:1", "--partition=gpu",
        "--account=vae", "--qos=low",
    ]  # fmt: skip
    assert re.fullmatch(r"--job-name=mnist-vae-sweep-[0-9a-f]{12}", command.split()[2])
    assert f"git -c advice.detachedHead=false checkout --quiet {head}" in script
    assert "export PATH=/shared/venv/bin:" in script
    points = json.loads(script.split("<<'POINTS'\n")[1].split("POINTS\n")[0])
    assert points["1"] == {
        "name": "latent_dim-2_learning_rate-0.0003",
        "changes": ["train.latent_dim=2", "train.learning_rate=0.0003", "train.epochs=3"],
    }
    assert [p["name"] for p in points.values()] == [
        f"latent_dim-{z}_learning_rate-{rate}" for z in (2, 8) for rate in ("0.001", "0.0003")
    ]


def test_a_preset_comes_first_and_names_the_points(pushed):
    done = sweep("--preset", "cpu-vae", "-S", "train.seed=range(0,2)", "--slurm", "--dry-run")

    assert done.exit_code == 0, done.output
    points = json.loads(done.output.split("<<'POINTS'\n")[1].split("POINTS\n")[0])
    assert [p["name"] for p in points.values()] == ["cpu-vae_seed-0", "cpu-vae_seed-1"]
    assert points["0"]["changes"][-1] == "train.seed=0"
    assert "train.batch_size=100" in points["0"]["changes"]


@pytest.mark.parametrize(
    ("change", "args", "line"),
    [
        ("commit", ["-S", "train.seed=1,2", "--slurm"], "is not on origin; push it"),
        ("edit", ["-S", "train.seed=1,2", "--slurm"], "the workspace has uncommitted changes"),
        (None, ["-S", "train.seed=[1,", "--slurm"], "-S train.seed=[1,: "),
        (None, ["--slurm"], "a sweep needs at least one -S KEY=VALUES"),
    ],
)
def test_what_a_sweep_cannot_run_is_refused_on_one_line(pushed, change, args, line):
    if change == "commit":
        git(pushed, "commit", "-q", "--allow-empty", "-m", "not pushed")
    elif change == "edit":
        (pushed / "params.yaml").write_text((pushed / "params.yaml").read_text() + "\n")

    done = sweep(*args)

    assert done.exit_code == 1
    (said,) = done.output.strip().splitlines()
    assert said.startswith("Error: ") and line in said, said


def test_without_slurm_the_points_go_to_dvcs_local_queue(pushed):
    done = sweep("-S", "train.seed=1,2")

    assert done.exit_code == 0, done.output
    status = dvc(pushed, "queue", "status")
    assert all(f"seed-{seed}" in status for seed in (1, 2)) and status.count("Queued") == 2
    dvc(pushed, "queue", "remove", "--all")
