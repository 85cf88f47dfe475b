"""A sweep as one Slurm job array: the job script, its ``sbatch`` options, and what
Slurm says became of each task.

The script is a bootstrap only: it clones the team's git remote at the sweep's commit on
the node and runs ``mnist-vae sweep-task`` from that clone, so a task runs the sweep's
own code and never the submitting machine's working tree. The Python environment is the
one path the nodes must share with the submitter (a venv on a shared filesystem, or the
same path built from the lock on each node)."""

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from mnist_vae import dvc_command
from mnist_vae.errors import PipelineError
from mnist_vae.sweeps.grid import Point

SCRIPT = """#!/bin/bash
# mnist-vae sweep: array task N runs point N of the grid below, in its own clone.
set -euo pipefail
export PATH={bin}:"$PATH"
work="$(mktemp -d "${{TMPDIR:-/tmp}}/mnist-vae-sweep.XXXXXX")"
trap 'rm -rf "$work"' EXIT
git clone --quiet --no-checkout {remote} "$work"
cd "$work"
git -c advice.detachedHead=false checkout --quiet {commit}
PYTHONPATH=src python -m mnist_vae sweep-task "$SLURM_ARRAY_TASK_ID" <<'POINTS'
{points}
POINTS
"""


@dataclass(frozen=True)
class Resources:
    """What each task asks Slurm for; ``extra`` are further ``sbatch`` options, verbatim."""

    cpus_per_task: int
    mem: str | None = None
    time: str | None = None
    gres: str | None = None
    partition: str | None = None
    account: str | None = None
    extra: tuple[str, ...] = ()


def script(remote: str, commit: str, points: dict[int, Point], venv: Path) -> str:
    grid = {i: {"name": p.name, "changes": list(p.changes)} for i, p in points.items()}
    return SCRIPT.format(
        bin=shlex.quote(str(venv / "bin")),
        remote=shlex.quote(remote),
        commit=shlex.quote(commit),
        points=json.dumps(grid, indent=1),
    )


def sbatch_args(name: str, indices: list[int], resources: Resources) -> list[str]:
    options = {
        "--mem": resources.mem,
        "--time": resources.time,
        "--gres": resources.gres,
        "--partition": resources.partition,
        "--account": resources.account,
    }
    return [
        "sbatch",
        "--parsable",
        f"--job-name={name}",
        f"--array={','.join(map(str, indices))}",
        f"--cpus-per-task={resources.cpus_per_task}",
        # Not the submitting directory, which the nodes may not have: its log goes there too
        # unless an --output in ``extra`` says otherwise.
        "--chdir=/tmp",
        *(f"{option}={value}" for option, value in options.items() if value),
        *resources.extra,
    ]


def submit(args: list[str], text: str) -> str:
    """Submits the script ``text`` on sbatch's standard input; returns the array's job id."""
    return dvc_command.program(*args, stdin=text).split(";")[0].strip()


def states(job: str) -> dict[int, str]:
    """Each array task's state (COMPLETED, FAILED, TIMEOUT, CANCELLED, NODE_FAIL...), from
    Slurm's accounting where the cluster keeps it, else from the controller's memory of
    recent jobs; empty when Slurm remembers the job no more."""
    try:
        listed = dvc_command.program("sacct", "-j", job, "-X", "-n", "-P", "--format=JobID,State")
        rows = [line.split("|") for line in listed.splitlines() if "_" in line]
        return {int(id_.split("_")[1]): state.split()[0] for id_, state in rows}
    except PipelineError:
        pass
    try:
        shown = dvc_command.program("scontrol", "show", "job", "-o", job)
    except PipelineError:
        return {}
    tasks = {}
    for line in shown.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if fields.get("ArrayTaskId", "").isdigit():
            tasks[int(fields["ArrayTaskId"])] = fields.get("JobState", "UNKNOWN")
    return tasks
