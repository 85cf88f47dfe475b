"""How much each test metric moves with the training seed alone: the band a review
measures a change against.

The band comes from DVC experiments, one per seed, each the workspace's params with only
``train.seed`` changed, run one after another outside the workspace (``dvc exp run
--temp``), so they land in ``dvc exp show`` and MLflow like any other experiment. Seeds
that already have a finished experiment of this commit and these params are not run again.
The mean and standard deviation of every test metric are written to a JSON file committed
in git. It is not declared as a DVC metric, so ``dvc metrics diff`` does not compare it.
"""

import json
import statistics
import sys
import time
from pathlib import Path

from mnist_vae import dvc_command
from mnist_vae.errors import PipelineError
from mnist_vae.runtime.epoch_progress import duration

SEED = ("train", "seed")

# The stage whose test metrics make the band: an experiment runs up to it, so that no
# seed pays for the samples that generate draws after it.
SCORED_BY = "evaluate"


def summary(runs: dict[int, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per test metric over the seeds: mean, standard deviation (n - 1), min, max, n."""
    names = sorted(set.intersection(*(set(metrics) for metrics in runs.values())))
    stats = {}
    for name in names:
        values = [runs[seed][name] for seed in sorted(runs)]
        stats[name] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values),
            "min": min(values),
            "max": max(values),
            "n": len(values),
        }
    return stats


def seed_runs(shown: list[dict], test_metrics: str) -> dict[int, tuple[str, dict[str, float]]]:
    """From ``dvc exp show --json``: each seed's finished experiment of the baseline commit
    whose params are the workspace's but for the seed, as (name, test metrics)."""
    workspace, baseline = shown[0], shown[1]
    params = _without_seed(workspace["data"]["params"]["params.yaml"]["data"])
    runs = {}
    for experiment in baseline.get("experiments") or []:
        executor = experiment.get("executor") or {"state": "success"}
        for rev in experiment["revs"]:
            data = rev["data"]
            if executor["state"] != "success" or rev.get("error") or "metrics" not in data:
                continue
            values = data["params"]["params.yaml"]["data"]
            test = data["metrics"].get(test_metrics, {}).get("data", {}).get("test")
            if test and _without_seed(values) == params:
                runs.setdefault(values[SEED[0]][SEED[1]], (rev["name"], test))
    return runs


def read(text: str) -> dict:
    """A band file's content; its ``test`` holds each metric's statistics."""
    band = json.loads(text)
    if not isinstance(band.get("test"), dict):
        raise PipelineError("the seed band file has no 'test' statistics")
    return band


def _without_seed(params: dict) -> dict:
    section, key = SEED
    return {**params, section: {k: v for k, v in params[section].items() if k != key}}


def _shown() -> list[dict]:
    return json.loads(dvc_command.run("exp", "show", "--json", capture=True))


def measure(seeds: int, output: Path, test_metrics: str) -> dict:
    """Runs the missing seeds of 0..``seeds``-1 as DVC experiments of the workspace's
    params, one at a time, up to the stage that scores them, and writes the band to
    ``output``.

    Args:
        seeds: how many seeds.
        output: the band's JSON file.
        test_metrics: the evaluate stage's metrics file, as ``dvc exp show`` names it.

    Returns:
        The band.
    """
    from mnist_vae.atomic import write_json
    from mnist_vae.runtime import machine

    done = seed_runs(_shown(), test_metrics)
    missing = sorted(set(range(seeds)) - set(done))
    took: list[float] = []
    for n, seed in enumerate(missing, 1):
        left = (
            f", about {duration(statistics.fmean(took) * (len(missing) - n + 1))} left"
            if took
            else ""
        )
        print(
            f"train.seed={seed} ({n} of {len(missing)} to run{left}): "
            f"dvc exp run --temp {SCORED_BY}",
            file=sys.stderr,
            flush=True,
        )
        start = time.monotonic()
        dvc_command.run("exp", "run", "--temp", "--set-param", f"train.seed={seed}", SCORED_BY)
        took.append(time.monotonic() - start)
    shown = _shown()
    runs = {seed: run for seed, run in seed_runs(shown, test_metrics).items() if seed < seeds}
    if len(runs) < seeds:
        raise PipelineError(f"expected {seeds} seeds' experiments, found {sorted(runs)}")
    band = {
        "commit": shown[1]["rev"],
        "cpu": machine.cpu_model(),
        "experiments": {name: seed for seed, (name, _) in sorted(runs.items())},
        "test": summary({seed: test for seed, (_, test) in runs.items()}),
    }
    write_json(output, band)
    return band
