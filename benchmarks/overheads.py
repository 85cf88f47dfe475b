"""Start-up and pipeline overheads: each stage's ``--help``, ``prepare`` on local files, a
no-op ``dvc repro``, and (with ``--stages``) the wall time of every stage at the defaults.

Run from the repository root after a ``dvc repro`` has brought the pipeline up to date:

    MNIST_MIRROR=../shared/mnist python benchmarks/overheads.py [--stages]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("prepare", "train", "evaluate", "generate")


@click.command()
@click.option("--repeats", type=click.IntRange(min=1), default=5, help="Runs per timing.")
@click.option("--stages", is_flag=True, help="Also rerun every stage (minutes).")
def main(repeats, stages):
    """Print a table of median wall times in seconds."""
    rows = [(f"{stage} --help", _median(repeats, _help(stage))) for stage in STAGES]
    with tempfile.TemporaryDirectory() as out:
        rows.append(("prepare on local files", _median(repeats, _prepare(Path(out)))))
    rows.append(("dvc repro, nothing changed", _median(repeats, ["dvc", "repro"])))
    if stages:
        rows += [(f"stage {s}", _seconds(["dvc", "repro", "-f", "-s", s])) for s in STAGES]
    print("| what | seconds |\n| --- | ---: |")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} |")


def _help(stage: str) -> list[str]:
    return [sys.executable, f"stages/{stage}.py", "--help"]


def _prepare(out: Path) -> list[str]:
    if "MNIST_MIRROR" not in os.environ:
        raise click.UsageError("set MNIST_MIRROR to a folder with the four MNIST files")
    args = ["--train-size", "55000", "--val-size", "5000", "--test-size", "10000"]
    args += ["--seed", "0", "--out-dir", str(out), "--class-counts", str(out / "counts.csv")]
    return [sys.executable, "stages/prepare.py", *args]


def _median(repeats: int, command: list[str]) -> float:
    return statistics.median(_seconds(command) for _ in range(repeats))


def _seconds(command: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": "src"}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
