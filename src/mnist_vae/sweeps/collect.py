"""A sweep brought back together: its experiments pulled from the git remote, shown as
``dvc exp show`` shows them beside what MLflow logged for each, and every point that did
not end well listed with its reason, from MLflow or, where no run was logged, Slurm."""

import json
import math
from dataclasses import dataclass

from mnist_vae import dvc_command
from mnist_vae.errors import PipelineError
from mnist_vae.sweeps import slurm
from mnist_vae.sweeps.submit import Sweep, finished

METRICS = "metrics/evaluate.json"
SHOWN = ("neg_elbo", "iw_nll", "active_units")


@dataclass(frozen=True)
class Row:
    name: str
    status: str
    test: dict[str, float]
    run_id: str = ""
    reason: str = ""


def rows(sweep: Sweep, remote: str) -> list[Row]:
    """A row per point, in grid order.

    Raises:
        PipelineError: where DVC's and MLflow's test metrics of a point differ.
    """
    pushed = finished(sweep)
    if pushed:
        dvc_command.run("exp", "pull", remote, *sorted(pushed))
    shown = _experiments(sweep.commit)
    runs = _runs(sweep.commit)
    tasks = _tasks(sweep)
    table = []
    for index, point in enumerate(sweep.points):
        run = runs.get(point.name)
        if point.name in shown:
            _same(point.name, shown[point.name], run)
            table.append(Row(point.name, "FINISHED", shown[point.name], run.info.run_id))
        elif run is not None:
            reason = run.data.tags.get("failure_reason", "")
            table.append(Row(point.name, run.info.status, {}, run.info.run_id, reason))
        else:
            state = tasks.get(index, "not submitted")
            table.append(Row(point.name, state, {}, reason=f"no MLflow run; Slurm: {state}"))
    return table


def best(table: list[Row]) -> Row | None:
    done = [row for row in table if row.status == "FINISHED"]
    return min(done, key=lambda row: row.test["neg_elbo"]) if done else None


def markdown(table: list[Row]) -> str:
    head = ["point", "status", *(f"test.{k}" for k in SHOWN), "MLflow run", "reason"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in table:
        values = [f"{row.test[k]:.4g}" if k in row.test else "" for k in SHOWN]
        lines.append(f"| {row.name} | {row.status} | {' | '.join(values)} | "
                     f"{row.run_id} | {row.reason} |")  # fmt: skip
    return "\n".join(lines)


def _experiments(commit: str) -> dict[str, dict[str, float]]:
    """Each experiment of ``commit`` that ``dvc exp show`` knows: its test metrics."""
    shown = json.loads(dvc_command.run("exp", "show", "--json", capture=True))
    found = {}
    for row in shown:
        if row.get("rev") != commit:
            continue
        for experiment in row.get("experiments") or []:
            for rev in experiment["revs"]:
                metrics = (rev.get("data") or {}).get("metrics", {}).get(METRICS, {})
                found[rev["name"]] = metrics.get("data", {}).get("test", {})
    return found


def _runs(commit: str) -> dict:
    """The latest MLflow training run of each experiment of ``commit``."""
    import mlflow

    from mnist_vae.tracking import mlflow_experiment

    mlflow_experiment.configure()
    found = mlflow.search_runs(
        filter_string=f"tags.`dvc.baseline_rev` = '{commit}'",
        order_by=["attributes.start_time ASC"],
        output_format="list",
    )
    trained = [run for run in found if "mlflow.parentRunId" not in run.data.tags]
    return {run.data.tags.get("dvc.exp_name"): run for run in trained}


def _same(name: str, test: dict[str, float], run) -> None:
    logged = {k: v for k, v in run.data.metrics.items() if k.startswith("test.")} if run else {}
    differ = [
        k
        for k, v in test.items()
        if not math.isclose(logged.get(f"test.{k}", math.nan), v, rel_tol=1e-6)
    ]
    if differ:
        raise PipelineError(f"{name}: DVC's and MLflow's {', '.join(differ)} differ")


def _tasks(sweep: Sweep) -> dict[int, str]:
    """Each point's state in the last Slurm job that ran it."""
    states: dict[int, str] = {}
    for job in sweep.jobs():
        states |= slurm.states(job)
    return states
