"""What MLflow's system metrics cost: the train stage with and without
MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING, in interleaved pairs, each run into a store of its
own at MLflow's default sampling interval (10 s).

The table gives each side's wall time and epoch time, and the rows and bytes that the
system metrics add to the store: the writes a shared SQLite store takes from every run
that has the switch on. Run from the repository root after `dvc repro` has prepared the
data:

    python benchmarks/system_metrics.py --pairs 3 --epochs 10
"""

import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
PREPARED = ROOT / "data" / "prepared"


@click.command()
@click.option("--pairs", type=click.IntRange(min=1), default=3, help="On/off pairs.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, help="Epochs a run.")
def main(pairs, epochs):
    """Print a table of medians (min, max) over the pairs."""
    from mnist_vae.runtime import machine

    results = {"off": [], "on": []}
    for pair in range(pairs):
        for switch in ("off", "on") if pair % 2 == 0 else ("on", "off"):
            results[switch].append(_run(switch == "on", epochs))
    print(f"CPU: {machine.cpu_model()}; {epochs} epochs of the default model a run")
    print("| system metrics | wall (s) | epoch (s) | system rows | rows a minute | store (KiB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for switch, runs in results.items():
        cells = [_spread([run[i] for run in runs]) for i in range(5)]
        print(f"| {switch} | {' | '.join(cells)} |")


def _run(enabled: bool, epochs: int) -> tuple[float, ...]:
    """(wall seconds, epoch seconds, system metric rows, rows a minute, store KiB)."""
    with tempfile.TemporaryDirectory() as out:
        store = Path(out) / "mlflow.db"
        env = {
            **os.environ,
            "PYTHONPATH": "src",
            "DVC_ROOT": out,  # the run's artifacts go beside its store
            "MLFLOW_TRACKING_URI": f"sqlite:///{store}",
            "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": str(enabled).lower(),
        }
        outputs = {
            "--model": "vae.keras",
            "--run-file": "run.json",
            "--history": "history.csv",
            "--metrics": "train.json",
            "--curves": "curves.png",
            "--checkpoint": "checkpoint.npz",
        }
        command = [sys.executable, "stages/train.py", "--params", "params.yaml"]
        command += ["--epochs", str(epochs), "--train-data", str(PREPARED / "train.npz")]
        command += ["--val-data", str(PREPARED / "val.npz")]
        command += ["--prepare-params", str(PREPARED / "params.json")]
        command += [arg for option, name in outputs.items() for arg in (option, f"{out}/{name}")]
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - start
        with sqlite3.connect(store) as db:
            rows = db.execute("SELECT count(*) FROM metrics WHERE key LIKE 'system/%'")
            (system_rows,) = rows.fetchone()
            (epoch,) = db.execute(
                "SELECT value FROM latest_metrics WHERE key = 'epoch_seconds'"
            ).fetchone()
        return wall, epoch, system_rows, system_rows / wall * 60, store.stat().st_size / 1024


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}, {max(values):.2f})"


if __name__ == "__main__":
    main()
