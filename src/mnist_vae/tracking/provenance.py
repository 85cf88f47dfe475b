"""What a run was made from: the git commit, and whether the workspace differs from it.

A run's MLflow name says this, so that a plain ``dvc repro`` run can be told apart from
another in the UI and traced to its code (a DVC experiment keeps the experiment's name).
"""

import datetime
import os
import subprocess
from pathlib import Path

import yaml


def run_name() -> str:
    """The DVC experiment's name; else the short commit the run is made from, with
    ``-dirty`` (git describe's marker) when its inputs differ from that commit; outside
    git, ``no-git-`` and the time.

    MLflow's own random names come from Python's global ``random``, which training seeds:
    every run of one seed would get the same name.

    Only inputs count. ``dvc.lock`` and the files ``dvc.yaml`` declares as outputs are
    what the pipeline writes, and DVC deletes a stage's outputs before running it, so
    their state says nothing of what the run was made from.
    """
    if os.environ.get("DVC_EXP_NAME"):
        return os.environ["DVC_EXP_NAME"]
    products = [f":!{path}" for path in ("dvc.lock", *pipeline_outputs(Path("dvc.yaml")))]
    try:
        commit = _git("rev-parse", "--short=7", "HEAD")
        changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".", *products)
    except (OSError, subprocess.CalledProcessError):
        return f"no-git-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    return f"{commit}-dirty" if changed else commit


def commit() -> str:
    """The full commit the workspace is at, or ``no-git`` outside a git repository."""
    try:
        return _git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return "no-git"


def pipeline_outputs(dvc_yaml: Path) -> list[str]:
    """The paths the stages of ``dvc_yaml`` declare as outs, metrics or plots."""
    if not dvc_yaml.is_file():
        return []
    stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {})
    return [
        entry if isinstance(entry, str) else next(iter(entry))
        for stage in stages.values()
        for kind in ("outs", "metrics", "plots")
        for entry in stage.get(kind, [])
    ]


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()
