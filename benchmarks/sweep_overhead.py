"""What a sweep point pays for leaving the machine: one point run by ``mnist-vae sweep
--slurm`` (a Slurm task: clone, ``dvc pull``, ``dvc exp run``, ``dvc exp push``) against
the same point from DVC's local queue (``dvc exp run --run-all``, before and after it),
then a 4-point sweep's wall time with one task at a time against two.

It clones the repository at HEAD into a scratch folder, applies ``--set`` changes to its
params.yaml (none: the defaults, on full MNIST), prepares the data from ``MNIST_MIRROR``,
and gives it a bare git remote, a local DVC remote and one SQLite MLflow store, standing
for the team's. The Slurm cluster is the one ``SLURM_CONF`` names, else a one-node
cluster of its own (the tests', ``tests/slurm_cluster.py``: Debian's slurm-wlm and munge,
2 CPU slots). Run nothing else meanwhile: the figures are wall times.

    MNIST_MIRROR=../shared/mnist python benchmarks/sweep_overhead.py \\
        [--set prepare.train_size=300 ...] [--no-grid]
"""

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import yaml

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("dvc pull prepare", "dvc exp run", "dvc exp push")


@click.command()
@click.option("--set", "sets", multiple=True, help="A param change, KEY=VALUE (YAML value).")
@click.option("--no-grid", is_flag=True, help="Skip the 4-point sweep on 1 and 2 slots.")
def main(sets, no_grid):
    """Print the overhead of a point on Slurm, and a sweep's wall time on 1 and 2 slots."""
    if "MNIST_MIRROR" not in os.environ:
        raise click.UsageError("set MNIST_MIRROR to a folder with the four MNIST files")
    from mnist_vae.runtime import machine

    with tempfile.TemporaryDirectory() as scratch, _cluster() as slurm_env:
        env = {**os.environ, **slurm_env, "MLFLOW_TRACKING_URI": f"sqlite:///{scratch}/mlflow.db"}
        repo = _team_repo(Path(scratch), sets, env)
        print(f"CPU: {machine.cpu_model()}, {' '.join(machine.speed_flags())}")
        print(f"params changed: {', '.join(sets) or 'none (the defaults, full MNIST)'}\n")
        # Local, Slurm, local again: the first run of a model's shape also fills caches.
        local = [_timed(lambda: _local_point(repo, env, 101))]
        steps, whole = _slurm_point(repo, env, Path(scratch))
        local.append(_timed(lambda: _local_point(repo, env, 103)))
        print("| one point | seconds |\n| --- | ---: |")
        for n, seconds in enumerate(local, 1):
            print(f"| local {n}: dvc exp run --queue, then --run-all | {seconds:.1f} |")
        print(f"| Slurm: submission to the task's end | {whole:.1f} |")
        for step in STEPS:
            print(f"| - {step} | {steps[step]:.1f} |")
        print(f"| - scheduling, clone, Python start | {whole - sum(steps.values()):.1f} |")
        print(f"| leaving the machine costs (against local 2) | {whole - local[-1]:+.1f} |")
        if not no_grid:
            print("\n| 4-point sweep | wall seconds |\n| --- | ---: |")
            for slots, cpus in ((1, 2), (2, 1)):
                seconds = _sweep(repo, env, Path(scratch), cpus)
                print(f"| {slots} task(s) at a time (--cpus-per-task {cpus}) | {seconds:.1f} |")


@contextlib.contextmanager
def _cluster():
    if os.environ.get("SLURM_CONF"):
        yield {}
        return
    sys.path.insert(0, str(ROOT / "tests"))  # the tests' one-node cluster
    from slurm_cluster import Cluster

    cluster = Cluster()
    try:
        yield cluster.env
    finally:
        cluster.stop()


def _team_repo(scratch: Path, sets: tuple[str, ...], env: dict) -> Path:
    """A clone with its data prepared and pushed, a bare origin and a DVC remote."""
    repo, origin = scratch / "repo", scratch / "origin.git"
    _run(scratch, env, "git", "clone", "-q", str(ROOT), str(repo))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for change in sets:
        key, value = change.split("=", 1)
        section, name = key.split(".")
        params[section][name] = yaml.safe_load(value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(repo, env, "dvc", "remote", "add", "-d", "team", str(scratch / "dvc-remote"))
    _run(repo, env, "dvc", "repro", "prepare")
    _run(repo, env, "git", "add", "-A")
    _run(repo, env, "git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "sweep")
    _run(repo, env, "dvc", "push")
    _run(scratch, env, "git", "init", "-q", "--bare", str(origin))
    _run(repo, env, "git", "remote", "set-url", "origin", str(origin))
    _run(repo, env, "git", "push", "-q", "origin", "HEAD:main")
    return repo


def _local_point(repo: Path, env: dict, seed: int) -> None:
    _run(repo, env, "mnist-vae", "sweep", "-S", f"train.seed={seed}")
    _run(repo, env, "dvc", "exp", "run", "--run-all")


def _slurm_point(repo: Path, env: dict, scratch: Path) -> tuple[dict[str, float], float]:
    start = time.monotonic()
    log = _submit_and_wait(repo, env, scratch, ["-S", "train.seed=102", "--cpus-per-task", "2"])
    whole = time.monotonic() - start
    steps = {step: float(re.search(rf"{step}: ([\d.]+) s", log)[1]) for step in STEPS}
    return steps, whole


def _sweep(repo: Path, env: dict, scratch: Path, cpus: int) -> float:
    seeds = ",".join(str(200 + 10 * cpus + i) for i in range(4))
    return _timed(
        lambda: _submit_and_wait(repo, env, scratch, ["-S", f"train.seed={seeds}",
                                                      "--cpus-per-task", str(cpus)])
    )  # fmt: skip


def _submit_and_wait(repo: Path, env: dict, scratch: Path, args: list[str]) -> str:
    logs = f"--sbatch-arg=--output={scratch}/slurm-%A_%a.out"
    said = _run(repo, env, "mnist-vae", "sweep", *args, logs, "--slurm")
    job = re.search(r"submitted Slurm job (\d+)", said)[1]
    while _run(repo, env, "squeue", "-h", "-j", job).strip():
        time.sleep(0.5)
    log = "".join(path.read_text() for path in scratch.glob(f"slurm-{job}_*.out"))
    if log.count("dvc exp push: ") != len(list(scratch.glob(f"slurm-{job}_*.out"))):
        raise click.ClickException(f"job {job} did not end well:\n{log[-3000:]}")
    return log


def _timed(work) -> float:
    start = time.monotonic()
    work()
    return time.monotonic() - start


def _run(cwd: Path, env: dict, *command: str) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(f"{' '.join(command)}: {done.stderr[-2000:]}")
    return done.stdout + done.stderr


if __name__ == "__main__":
    main()
