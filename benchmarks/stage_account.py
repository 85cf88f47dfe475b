"""Where a stage's time goes, from ``dvc repro`` to the lock: an account of the train,
evaluate and generate stages at the params of the repository, on the CPU at hand.

It clones the repository at HEAD into a scratch folder, prepares the data there from
``MNIST_MIRROR``, and for each stage runs, one after the other:

1. ``dvc repro -f -s STAGE`` as a user does, timed whole;
2. the stage's own command (from ``dvc.yaml``) in a process that times its phases: the
   imports, then each step of the stage's work, by wrapping the package's functions that
   do them (the first training epoch and the first validation apart, since they trace
   and compile). A step's time excludes the steps inside it; MLflow calls that no step
   encloses are their own row.

The rows "interpreter start and exit" (the second process's wall time less what it
measured inside) and "dvc, around the stage" (the first run less the second) come from
two runs, so they carry the machine's noise. Nothing of the repository is changed.

    MNIST_MIRROR=../shared/mnist python benchmarks/stage_account.py \
        [--stage train] [--set train.epochs=10]
"""

import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("train", "evaluate", "generate")
INSIDE = "--inside"


@click.command()
@click.option("--stage", "stages", multiple=True, type=click.Choice(STAGES), help="All if none.")
@click.option("--set", "sets", multiple=True, help="A param change, as dvc exp run -S takes.")
def main(stages, sets):
    """Print each stage's account as a table of seconds."""
    if "MNIST_MIRROR" not in os.environ:
        raise click.UsageError("set MNIST_MIRROR to a folder with the four MNIST files")
    with tempfile.TemporaryDirectory() as scratch:
        repo = _scratch_repo(Path(scratch) / "repo", sets)
        print(_cpu())
        for stage in stages or STAGES:
            _print(stage, _account(repo, stage))


def _scratch_repo(repo: Path, sets: tuple[str, ...]) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    # Every stage once, in the workspace: outputs to start from, XLA's cache warm.
    _dvc(repo, "exp", "run", *[arg for change in sets for arg in ("-S", change)])
    return repo


def _account(repo: Path, stage: str) -> dict[str, float]:
    start = time.perf_counter()
    _dvc(repo, "repro", "-f", "-s", stage)
    whole = time.perf_counter() - start
    import yaml

    command = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][stage]["cmd"]
    args = shlex.split(command)[2:]  # PYTHONPATH=src python: stages/STAGE.py ...
    report = repo / "account.json"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, INSIDE, str(report), *args],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": "src"},
        check=True,
        capture_output=True,
    )
    process = time.perf_counter() - start
    rows = json.loads(report.read_text())
    inside = rows.pop("(inside)")
    rows["interpreter start and exit"] = process - inside
    rows["dvc, around the stage (the dvc run less the stage's process)"] = whole - process
    rows["(dvc repro -f -s, whole)"] = whole
    return rows


def _dvc(repo: Path, *args: str) -> None:
    subprocess.run(["dvc", *args], cwd=repo, check=True, capture_output=True)


def _cpu() -> str:
    from mnist_vae.runtime import machine

    info = machine.cpu_info()
    kind = f"family {info.get('cpu family', '?')} model {info.get('model', '?')}"
    return f"CPU: {machine.cpu_model()}, {kind}, {' '.join(machine.speed_flags())}"


def _print(stage: str, rows: dict[str, float]) -> None:
    total = rows["(dvc repro -f -s, whole)"]
    print(f"\n{stage}\n\n| phase | seconds | share |\n| --- | ---: | ---: |")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.2f} | {seconds / total:.0%} |")


# What runs inside the stage's process.

# The steps a stage takes: (module, attribute, row). A class's method is "Class.method".
STEPS = (
    ("mnist_vae.tracking.mlflow_experiment", "configure", "open the MLflow store"),
    ("mnist_vae.mnist.data", "load", "read the data"),
    ("mnist_vae.vae.model_file", "load", "load the model"),
    ("mnist_vae.training.trainer", "build", "build the model"),
    ("mnist_vae.training.checkpoints", "resume", "look for a checkpoint"),
    ("mnist_vae.tracking.lineage", "log", "log the datasets"),
    ("mnist_vae.training.tf_epoch_loop", "TensorFlowLoop.train_epoch", "train an epoch"),
    ("mnist_vae.training.tf_epoch_loop", "TensorFlowLoop.validate", "validate"),
    ("mnist_vae.training.keras_fit", "fit", "Keras fit, every epoch"),
    ("mnist_vae.training.epoch_hooks", "HistoryWriter.__call__", "after each epoch: history"),
    ("mnist_vae.training.epoch_hooks", "EpochSamples.__call__", "after each epoch: samples"),
    ("mnist_vae.training.checkpoints", "Writer.__call__", "after each epoch: checkpoint"),
    ("mnist_vae.scoring.evaluation", "score", "score the test set"),
    ("mnist_vae.scoring.evaluation", "latent_units", "active units"),
    ("mnist_vae.scoring.figures", "evaluation_figures", "draw the figures"),
    ("mnist_vae.scoring.figures", "manifold_figure", "draw the figures"),
    ("mnist_vae.scoring.plotting", "save", "save the figures"),
    ("mnist_vae.vae.decoding", "decode_means", "decode the samples"),
    ("mnist_vae.vae.model_file", "save", "save the model"),
    ("mnist_vae.tracking.registry", "log_model", "log and register the model"),
)
# Steps that count apart the first time: they trace and compile.
FIRST = {"train an epoch", "validate"}
MLFLOW = ("mnist_vae.tracking.store", "retrying", "other MLflow calls")


class _Clock:
    """Exclusive time per row: a step's time less that of the steps inside it."""

    def __init__(self):
        self.rows: dict[str, float] = {}
        self.stack: list[list] = []  # [row, start, time of the steps inside]
        self.seen: set[str] = set()

    @contextlib.contextmanager
    def step(self, row: str, weak: bool = False):
        if weak and self.stack:  # inside a step: its time is that step's
            yield
            return
        if row in FIRST and row not in self.seen:
            self.seen.add(row)
            row = f"{row}, the first (traces, compiles)"
        frame = [row, time.perf_counter(), 0.0]
        self.stack.append(frame)
        try:
            yield
        finally:
            self.stack.pop()
            spent = time.perf_counter() - frame[1]
            self.rows[row] = self.rows.get(row, 0.0) + spent - frame[2]
            if self.stack:
                self.stack[-1][2] += spent


def _wrap(clock: _Clock, module: str, attribute: str, row: str, weak: bool = False) -> None:
    import functools

    owner = sys.modules[module]
    *classes, name = attribute.split(".")
    for part in classes:
        owner = getattr(owner, part)
    function = getattr(owner, name)

    @functools.wraps(function)
    def timed(*args, **kwargs):
        with clock.step(row, weak):
            return function(*args, **kwargs)

    setattr(owner, name, timed)


def _inside(report: str, args: list[str]) -> None:
    """Runs the stage's command in this process, its phases timed, and writes them."""
    import importlib
    import runpy

    started = time.perf_counter()
    clock = _Clock()
    stage_file = Path(args[0])
    with clock.step("imports: the package, TensorFlow, Keras, MLflow"):
        import yaml

        deps = yaml.safe_load(Path("dvc.yaml").read_text())["stages"][stage_file.stem]["deps"]
        for dep in deps:  # the stage's import closure, as dvc.yaml declares it
            if dep.startswith("src/") and dep.endswith(".py"):
                module = dep[len("src/") : -len(".py")].replace("/", ".")
                importlib.import_module(module.removesuffix(".__init__"))
        command = runpy.run_path(str(stage_file))[stage_file.stem]
    for module, attribute, row in STEPS:
        if module in sys.modules:
            _wrap(clock, module, attribute, row)
    _wrap(clock, *MLFLOW, weak=True)  # every stage accounted for logs to MLflow
    before, start = sum(clock.rows.values()), time.perf_counter()
    command.main(args[1:], standalone_mode=False)
    stepped = sum(clock.rows.values()) - before
    clock.rows["the rest of the stage's work"] = time.perf_counter() - start - stepped
    clock.rows["(inside)"] = time.perf_counter() - started
    Path(report).write_text(json.dumps(clock.rows))


if __name__ == "__main__":
    if sys.argv[1:2] == [INSIDE]:
        _inside(sys.argv[2], sys.argv[3:])
    else:
        main()
