"""Submitting a sweep: the grid checked against what the git remote already holds, and the
points left sent to Slurm as one job array (or to DVC's local queue). A sweep is its
commit and its points; its record (``.dvc/tmp/sweeps/``) keeps the Slurm jobs it made, for
``--collect``."""

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from mnist_vae import dvc_command, project
from mnist_vae.errors import PipelineError
from mnist_vae.sweeps import slurm
from mnist_vae.sweeps.grid import Point


@dataclass(frozen=True)
class Sweep:
    commit: str
    remote: str  # the git remote's URL
    points: list[Point]

    @property
    def key(self) -> str:
        grid = [[p.name, *p.changes] for p in self.points]
        return hashlib.sha256(json.dumps([self.commit, grid]).encode()).hexdigest()[:12]

    def record(self) -> Path:
        return project.root() / ".dvc" / "tmp" / "sweeps" / f"{self.key}.json"

    def jobs(self) -> list[str]:
        path = self.record()
        return json.loads(path.read_text())["jobs"] if path.is_file() else []


def at_head(remote: str, points: list[Point]) -> Sweep:
    """The sweep of ``points`` at the committed HEAD, which the git ``remote`` must hold:
    each task clones it from there."""
    if git("status", "--porcelain", "--untracked-files=no").strip():
        raise PipelineError("the workspace has uncommitted changes; a sweep runs a commit")
    commit = git("rev-parse", "HEAD").strip()
    url = git("remote", "get-url", remote).strip()
    if not _on_remote(commit, remote):
        raise PipelineError(f"HEAD {commit[:7]} is not on {remote}; push it (git push {remote})")
    return Sweep(commit, url, points)


def finished(sweep: Sweep) -> set[str]:
    """The points whose experiment the remote holds: the ones that ended well."""
    prefix = f"refs/exps/{sweep.commit[:2]}/{sweep.commit[2:]}/"
    refs = git("ls-remote", sweep.remote, f"{prefix}*").splitlines()
    return {line.split("\t")[1].removeprefix(prefix) for line in refs}


def to_slurm(sweep: Sweep, resources: slurm.Resources, venv: Path, dry_run: bool) -> str:
    """Submits the points not yet finished as one array; returns what was done."""
    done = finished(sweep)
    todo = {i: p for i, p in enumerate(sweep.points) if p.name not in done}
    if not todo:
        return f"all {len(sweep.points)} points have an experiment on the remote; nothing to run"
    args = slurm.sbatch_args(f"mnist-vae-sweep-{sweep.key}", list(todo), resources)
    text = slurm.script(sweep.remote, sweep.commit, todo, venv)
    if dry_run:
        return f"{' '.join(args)} <<'SCRIPT'\n{text}SCRIPT"
    job = slurm.submit(args, text)
    _remember(sweep, job)
    names = ", ".join(p.name for p in todo.values())
    return f"submitted Slurm job {job}: {len(todo)} of {len(sweep.points)} points ({names})"


def to_queue(points: list[Point]) -> str:
    """Queues each point in DVC's local queue (``dvc queue start`` runs them)."""
    for point in points:
        sets = dvc_command.set_options(point.changes)
        dvc_command.run("exp", "run", "--queue", "-n", point.name, *sets)
    return f"queued {len(points)} points; dvc queue start runs them"


def git(*args: str) -> str:
    return dvc_command.program("git", *args)


def _on_remote(commit: str, remote: str) -> bool:
    """Whether a branch of ``remote``, as last fetched or pushed, holds ``commit``."""
    return bool(git("for-each-ref", "--contains", commit, f"refs/remotes/{remote}/").strip())


def _remember(sweep: Sweep, job: str) -> None:
    from mnist_vae.atomic import write_json

    path = sweep.record()
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"commit": sweep.commit, "remote": sweep.remote, "jobs": [*sweep.jobs(), job]}
    write_json(path, record)
    print(f"recorded in {path.relative_to(project.root())}", file=sys.stderr)
