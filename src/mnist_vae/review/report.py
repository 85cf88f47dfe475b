"""The review's Markdown: a table of verdicts on the test metrics, the other metrics and
params that changed, the images side by side, the charts, and the machine each side ran
on; and the same as one HTML page that needs nothing beside it."""

import base64
import html
import re
from pathlib import Path

from mnist_vae.review import verdicts
from mnist_vae.scoring import comparable

MACHINE = ("cpu", "device", "precision", "epoch_seconds", "examples_per_second", "peak_memory_mb")


def render(baseline: str, target: str, sections: dict) -> str:
    """The report's Markdown.

    Args:
        baseline: the baseline's name (a git revision).
        target: the compared side's name (a revision, an experiment, or "workspace").
        sections: ``tests`` (rows from ``judged``), ``band`` (its file's content or
            None), ``metrics`` (the other metric files' ``Repo.metrics.diff``), ``params``
            (``Repo.params.diff``), ``keys`` (each side's comparability key, or None,
            and where they differ), ``images`` ((title, baseline path, target path)
            triples, relative to the report), ``charts`` ((title, path) pairs, relative
            to the report), ``runs`` (each side's MLflow run as text) and ``machine``
            (each side's machine figures, by name).
    """
    lines = [f"# {target} against {baseline}", ""]
    lines += _compared(baseline, target, *sections["keys"])
    lines += _tests(baseline, target, sections["tests"], sections["band"])
    lines += ["## Other metrics", "", f"| file | metric | {baseline} | {target} | change |"]
    lines += ["| --- | --- | ---: | ---: | ---: |"]
    for path, values in sorted(sections["metrics"].items()):
        for key, change in sorted(values.items()):
            old, new, diff = (_number(change.get(k)) for k in ("old", "new", "diff"))
            lines.append(f"| {path} | {key} | {old} | {new} | {diff} |")
    lines += ["", "## Params", "", f"| param | {baseline} | {target} |", "| --- | --- | --- |"]
    for values in (v for _, v in sorted(sections["params"].items())):
        for key, change in sorted(values.items()):
            lines.append(f"| {key} | {change.get('old')} | {change.get('new')} |")
    lines += ["", "## Images", "", f"| | {baseline} | {target} |", "| --- | --- | --- |"]
    for title, old, new in sections["images"]:
        lines.append(f"| {title} | ![]({old}) | ![]({new}) |")
    lines += ["", "## Charts", ""]
    for title, path in sections["charts"]:
        lines += [f"![{title}]({path})", ""]
    lines += _machine(baseline, target, sections["machine"])
    runs = sections["runs"]
    lines += ["", "## MLflow runs", "", f"- {baseline}: {runs[0]}", f"- {target}: {runs[1]}", ""]
    return "\n".join(lines)


_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}"
    "img{max-width:100%}"
)


def page(markdown_text: str, folder: Path) -> str:
    """The report as one HTML page, its images inlined from ``folder`` (where the
    Markdown's image paths start), so that it opens anywhere, with no network."""
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"])

    def inlined(match: re.Match) -> str:
        data = (folder / html.unescape(match.group(1))).read_bytes()
        return f'src="data:image/png;base64,{base64.b64encode(data).decode()}"'

    body = re.sub(r'src="([^"]+\.png)"', inlined, body)
    title = html.escape(markdown_text.splitlines()[0].lstrip("# "))
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _compared(baseline: str, target: str, keys: list, differences: list[str]) -> list[str]:
    """What the two sides' test metrics are scores of (``comparable``), and why there is
    no verdict where that differs."""
    if differences:
        return [
            f"**Not comparable**: {'; '.join(differences)} ({baseline} against {target}). "
            "The two sides score different things, so no test metric gets a verdict.",
            "",
        ]
    if keys[0] == keys[1]:
        return [f"Both sides scored on: {comparable.spelled(keys[0])}.", ""]
    spelled = (comparable.spelled(key) for key in keys)
    return [f"Scored on: {baseline}: {next(spelled)}; {target}: {next(spelled)}.", ""]


def _tests(baseline: str, target: str, rows: list[tuple], band: dict | None) -> list[str]:
    if band:
        n = next(iter(band["test"].values()))["n"]
        source = f"{n} seeds at {band['commit'][:7]} on {band['cpu']}"
    else:
        source = f"none: no seed band at {baseline}; run mnist-vae seed-band"
    lines = ["## Test metrics", "", f"Seed band: {source}. A change is beyond noise when it "]
    lines += [
        f"exceeds {verdicts.Z:g}·√2·σ of the seed band and its paired mean difference over the "
        f"same test images exceeds {verdicts.Z:g} standard errors.",
        "",
        f"| metric | {baseline} | {target} | change | seed noise (±) | paired change ± s.e. "
        "| verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for key, old, new, diff, stats, pair, verdict in rows:
        seed = _number(verdicts.seed_noise(stats)) if stats else ""
        paired = f"{pair.mean:+.4g} ± {pair.stderr:.2g}" if pair else ""
        values = " | ".join(_number(v) for v in (old, new, diff))
        lines.append(f"| {key} | {values} | {seed} | {paired} | **{verdict}** |")
    return [*lines, ""]


def _machine(baseline: str, target: str, machine: list[dict]) -> list[str]:
    lines = ["", "## Speed and memory (machine-dependent)", ""]
    lines += ["From each side's MLflow run: they describe the machine that ran it, so they are"]
    lines += ["not the model's metrics and get no verdict.", ""]
    lines += [f"| | {baseline} | {target} |", "| --- | ---: | ---: |"]
    for name in MACHINE:
        lines.append(
            f"| {name} | {_number(machine[0].get(name))} | {_number(machine[1].get(name))} |"
        )
    return lines


def _number(value) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
