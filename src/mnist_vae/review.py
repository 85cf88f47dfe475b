"""A Markdown report that compares a revision (or the workspace) with a baseline: what a
reviewer reads on a pull request, built from DVC's own diffs, with no service needed."""

import json
import os
from pathlib import Path

import click

from mnist_vae.cli import Command

IMAGES = ("plots/samples.png", "plots/reconstructions.png")
RUN_FILE = "models/mlflow_run.json"


def render(baseline: str, target: str, metrics: dict, params: dict, images, runs) -> str:
    """The report's Markdown.

    Args:
        baseline: the baseline's name (a git revision).
        target: the compared side's name (a revision, an experiment, or "workspace").
        metrics: ``Repo.metrics.diff(...)["diff"]``: file -> key -> old/new/diff.
        params: ``Repo.params.diff(...)["diff"]``, of the same form.
        images: (title, baseline image path, target image path) triples, relative to the
            report.
        runs: the MLflow run of each side, as text (a link or an id).
    """
    lines = [f"# {target} against {baseline}", "", "## Metrics", ""]
    lines += ["| file | metric | " + f"{baseline} | {target} | change | relative |"]
    lines += ["| --- | --- | ---: | ---: | ---: | ---: |"]
    for path, values in sorted(metrics.items()):
        for key, change in sorted(values.items()):
            lines.append(
                f"| {path} | {key} | {_number(change.get('old'))} | "
                f"{_number(change.get('new'))} | {_number(change.get('diff'))} | "
                f"{_relative(change)} |"
            )
    lines += ["", "## Params", "", f"| param | {baseline} | {target} |", "| --- | --- | --- |"]
    for values in (v for _, v in sorted(params.items())):
        for key, change in sorted(values.items()):
            lines.append(f"| {key} | {change.get('old')} | {change.get('new')} |")
    lines += ["", "## Images", "", f"| | {baseline} | {target} |", "| --- | --- | --- |"]
    for title, old, new in images:
        lines.append(f"| {title} | ![]({old}) | ![]({new}) |")
    lines += ["", "## MLflow runs", "", f"- {baseline}: {runs[0]}", f"- {target}: {runs[1]}", ""]
    return "\n".join(lines)


def _number(value) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _relative(change: dict) -> str:
    old, diff = change.get("old"), change.get("diff")
    if not isinstance(old, int | float) or not isinstance(diff, int | float) or old == 0:
        return ""
    return f"{diff / abs(old):+.2%}"


@click.command(cls=Command)
@click.option(
    "--baseline", default="HEAD", show_default=True, help="The git revision to compare with."
)
@click.option(
    "--rev", default=None, help="A revision or DVC experiment name; the workspace if absent."
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Markdown file to write; images go beside it.",
)
def main(baseline, rev, output):
    """Write a Markdown review of metric, param and image changes against BASELINE."""
    import dvc.api
    from dvc.repo import Repo

    from mnist_vae.atomic import write_text

    repo = Repo(".")
    target = rev or "workspace"
    metrics = repo.metrics.diff(a_rev=baseline, b_rev=target)["diff"]
    params = repo.params.diff(a_rev=baseline, b_rev=target)["diff"]
    folder = output.parent / f"{output.stem}_images"
    folder.mkdir(parents=True, exist_ok=True)
    images, runs = [], []
    for side, revision in ((baseline, baseline), (target, rev)):
        for path in IMAGES:
            (folder / f"{_safe(side)}_{Path(path).name}").write_bytes(
                dvc.api.read(path, rev=revision, mode="rb")
            )
        runs.append(_run(json.loads(dvc.api.read(RUN_FILE, rev=revision))))
    for path in IMAGES:
        name = Path(path).name
        images.append((name, *(f"{folder.name}/{_safe(s)}_{name}" for s in (baseline, target))))
    write_text(output, render(baseline, target, metrics, params, images, runs))
    click.echo(f"wrote {output}")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _run(record: dict) -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith(("http://", "https://")):
        experiment, run = record["experiment_id"], record["run_id"]
        return f"[{run}]({uri.rstrip('/')}/#/experiments/{experiment}/runs/{run})"
    return f"run `{record['run_id']}` (experiment {record['experiment_id']})"
