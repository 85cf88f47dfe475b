"""A Markdown report that compares a revision (or the workspace) with a baseline: what a
reviewer reads on a pull request, built from DVC's own diffs and the MLflow store, with its
charts, and the same report as one self-contained HTML page.

Every test metric gets a verdict (better, worse or within noise) from two sources of
evidence (see ``verdicts``): the seed band committed at the baseline, and a paired comparison
of the two models' scores on the same test images. Speed and memory come from the two
MLflow runs, in a section of their own: they describe the machine a run had, not its model.
"""

import io
import json
from dataclasses import dataclass
from pathlib import Path

from mnist_vae.errors import PipelineError
from mnist_vae.review import report, verdicts
from mnist_vae.scoring import comparable


@dataclass(frozen=True)
class Paths:
    """Where the pipeline's files are (``dvc.yaml`` declares them), at any revision."""

    test_metrics: str
    per_image: str
    history: str
    run_file: str
    seed_band: str
    images: tuple[str, ...]


def judged(
    test_diff: dict, band: dict | None, pairs: dict[str, verdicts.Paired], judging: bool = True
) -> list[tuple]:
    """A row per test metric: its name, old, new and change, the change the seed alone
    explains, the paired difference and the verdict (none where the two sides score
    different things)."""
    rows = []
    for key, change in sorted(test_diff.items()):
        name = key.removeprefix("test.")
        stats = band["test"].get(name) if band else None
        pair, diff = pairs.get(name), change.get("diff")
        verdict = verdicts.verdict(name, diff, stats, pair) if judging else "not comparable"
        rows.append((key, change.get("old"), change.get("new"), diff, stats, pair, verdict))
    return rows


def write(baseline: str, rev: str | None, output: Path, paths: Paths) -> None:
    """Writes the review of ``rev`` (the workspace when None) against ``baseline`` to
    ``output``, its images beside it."""
    from dvc.repo import Repo

    from mnist_vae.atomic import write_text

    repo = Repo(".")
    _require_revisions(repo, {"--baseline": baseline, "--rev": rev})
    _require_outputs(repo, paths)
    target = rev or "workspace"
    # DVC's diffs leave out "diff" when nothing changed: a code change keeps the params.
    metrics = repo.metrics.diff(a_rev=baseline, b_rev=target, all=True).get("diff", {})
    sides = (_Side(baseline, baseline), _Side(target, rev))
    band_text = sides[0].read(paths.seed_band)
    band = None
    if band_text is not None:
        from mnist_vae.review import seed_band

        band = seed_band.read(band_text)
    scores = [_per_image(side, paths.per_image) for side in sides]
    pairs = verdicts.paired(*scores)
    folder = output.parent / f"{output.stem}_images"
    texts = [side.read(paths.run_file) for side in sides]
    records = [json.loads(text) if text else None for text in texts]
    runs = [_run(record["run_id"]) if record else None for record in records]
    keys = [comparable.from_tags(run.data.tags) if run else None for run in runs]
    differences = comparable.differences(*keys)
    sections = {
        "tests": judged(metrics.pop(paths.test_metrics, {}), band, pairs, not differences),
        "keys": (keys, differences),
        "band": band,
        "metrics": metrics,
        "params": repo.params.diff(a_rev=baseline, b_rev=target).get("diff", {}),
        "images": _images(folder, sides, paths.images),
        "charts": _charts(folder, sides, scores, band, paths.history, bool(pairs)),
        "runs": [],
        "machine": [],
    }
    for side, record, run in zip(sides, records, runs, strict=True):
        if record is None:
            sections["runs"].append(f"none: no {paths.run_file} at {side.name}")
            sections["machine"].append({})
            continue
        sections["runs"].append(f"run `{record['run_id']}` (experiment {record['experiment_id']})")
        sections["machine"].append(_machine_figures(run))
    markdown = report.render(baseline, target, sections)
    write_text(output, markdown)
    write_text(output.with_suffix(".html"), report.page(markdown, output.parent))


def _require_outputs(repo, paths: Paths) -> None:
    """Refuses, on one line, a file that no stage of ``dvc.yaml`` writes: a typo there
    would otherwise be reviewed as a file that is absent on both sides."""
    declared = {str(out.def_path) for out in repo.index.outs}
    given = {
        "--test-metrics": [paths.test_metrics],
        "--per-image": [paths.per_image],
        "--history": [paths.history],
        "--run-file": [paths.run_file],
        "--image": paths.images,
    }
    for option, files in given.items():
        for name in files:
            if name not in declared:
                raise PipelineError(f"{option} {name!r}: no stage of dvc.yaml writes it")


def _require_revisions(repo, revisions: dict[str, str | None]) -> None:
    """Refuses, on one line, a revision that neither git nor DVC's experiments know: DVC's
    diff would otherwise end in a traceback."""
    from dvc.scm import RevError, resolve_rev

    for option, revision in revisions.items():
        if revision is None:
            continue
        try:
            resolve_rev(repo.scm, revision)
        except RevError:
            raise PipelineError(
                f"{option} {revision!r}: no such git revision or DVC experiment here"
            ) from None


class _Side:
    """One side of the review, ``name`` as the report shows it: the pipeline's files at
    one revision (the workspace where ``rev`` is None), read through one DVC file system,
    where ``dvc.api.read`` opens the repository, and collects its whole index, per file."""

    def __init__(self, name: str, rev: str | None):
        self.name, self.rev = name, rev
        self._fs = None

    def read(self, path: str, mode: str = "r"):
        """The file's content; None where it does not exist at this revision."""
        from dvc.api import DVCFileSystem
        from dvc.exceptions import DvcException

        try:
            if self._fs is None:
                self._fs = DVCFileSystem(rev=self.rev)
            with self._fs.open(path, mode) as file:
                return file.read()
        except (FileNotFoundError, DvcException):
            return None

    def table(self, path: str, **options):
        """The CSV file as a table; None where it does not exist at this revision."""
        import pandas as pd

        text = self.read(path)
        return pd.read_csv(io.StringIO(text), **options) if text else None


def _per_image(side: _Side, path: str):
    """The per-image scores; a table with no image where the revision has none."""
    import pandas as pd

    table = side.table(path, index_col="image")
    return pd.DataFrame({"digit": []}) if table is None else table


def _images(folder: Path, sides: tuple[_Side, ...], paths: tuple[str, ...]) -> list:
    """(name, each side's copy relative to the report) of each image."""
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for path in paths:
        name = Path(path).name
        copies = [f"{_safe(side.name)}_{name}" for side in sides]
        for copy, side in zip(copies, sides, strict=True):
            (folder / copy).write_bytes(side.read(path, mode="rb") or b"")
        images.append((name, *(f"{folder.name}/{copy}" for copy in copies)))
    return images


def _charts(folder: Path, sides: tuple[_Side, ...], scores, band, history: str, paired: bool):
    """(title, path relative to the report) of each chart the two sides' files allow:
    the loss curves, the -ELBO per digit, and the paired differences where both sides
    scored the same images."""
    from mnist_vae.review import charts
    from mnist_vae.scoring import plotting

    histories = {side.name: side.table(history) for side in sides}
    present = {side: table for side, table in histories.items() if table is not None}
    scored = {
        side.name: table
        for side, table in zip(sides, scores, strict=True)
        if charts.SCORE in table
    }
    figures = {}
    if present:
        figures["loss curves"] = charts.loss_curves(present)
    if scored:
        figures["test -ELBO per digit"] = charts.per_digit(scored)
    if paired and len(scored) == 2:
        figures["paired per-image differences"] = charts.paired_differences(
            *scores, band, tuple(side.name for side in sides)
        )
    drawn = []
    for title, figure in figures.items():
        name = f"chart_{_safe(title)}.png"
        plotting.save(figure, folder / name)
        drawn.append((title, f"{folder.name}/{name}"))
    return drawn


def _run(run_id: str):
    """The MLflow run; None where it is not in this store."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from mnist_vae.tracking import mlflow_experiment

    try:
        return MlflowClient(mlflow_experiment.tracking_uri()).get_run(run_id)
    except MlflowException:
        return None


def _machine_figures(run) -> dict:
    """The run's machine tags and metrics; empty where the run is not in this store."""
    if run is None:
        return {}
    figures = {**run.data.tags, **run.data.metrics}
    return {name: figures[name] for name in report.MACHINE if name in figures}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
