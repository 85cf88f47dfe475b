"""The stage commands' surface: help, and bad values refused on one line before any work."""

import gc
import os
import signal
import subprocess
import sys
import time
import weakref

import click
import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT, train_args

from stages.evaluate import evaluate
from stages.generate import generate
from stages.prepare import prepare
from stages.train import train

HEAVY = ("tensorflow", "keras", "mlflow", "matplotlib", "pandas")
STAGES = {"prepare": prepare, "train": train, "evaluate": evaluate, "generate": generate}


@pytest.fixture
def args(tmp_path):
    """Valid train arguments, inputs existing (empty) and outputs not yet written."""
    for name in ("train.npz", "val.npz", "params.json"):
        (tmp_path / name).touch()
    return lambda **changes: train_args(tmp_path, tmp_path / "out", **changes)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--latent-dim", "0", "Invalid value for '--latent-dim': 0 is not in the range x>=1."),
        (
            "--learning-rate",
            "-0.1",
            "Invalid value for '--learning-rate': -0.1 is not in the range x>0.",
        ),
        ("--epochs", "ten", "Invalid value for '--epochs': 'ten' is not a valid integer range."),
        ("--activation", "swish", "Invalid value for '--activation': 'swish' is not one of"),
        (
            "--train-data",
            "missing.npz",
            "Invalid value for '--train-data': File 'missing.npz' does not exist.",
        ),
    ],
)
def test_train_refuses_bad_values_on_one_line(tmp_path, args, option, value, message):
    result = CliRunner().invoke(train, args(**{option: value}))

    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {message}")
    assert result.output.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("stage", STAGES)
def test_help_answers_without_heavy_imports(stage):
    result = _run_stage(stage, "--help")

    assert result.returncode == 0
    assert result.stdout.startswith(f"Usage: {stage}.py [OPTIONS]")
    assert STAGES[stage].__doc__.split("\n")[0] in " ".join(result.stdout.split())
    assert result.stderr.strip() == "heavy modules: none"


def test_bad_value_is_refused_before_heavy_imports(tmp_path, args):
    result = _run_stage("train", *args(**{"--epochs": "ten"}))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Error: Invalid value for '--epochs': 'ten' is not a valid integer range.",
        "heavy modules: none",
    ]


def test_keras_and_tensorflow_start_without_what_they_only_might_use():
    """scikit-learn and JAX cost a stage 2 s of start-up; Keras's and TensorFlow's optional
    imports of them are skipped, and any other importer still gets them."""
    code = (
        "import sys, mnist_vae, keras\n"
        "print(sorted(m for m in ('sklearn', 'jax') if m in sys.modules))\n"
        "import sklearn.base, jax.numpy\n"
        "print(keras.backend.backend(), sklearn.base.__name__, jax.numpy.__name__)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "tensorflow sklearn.base jax.numpy"]


def _run_stage(stage: str, *args: str) -> subprocess.CompletedProcess:
    """Runs a stage's script as DVC does, then reports which heavy modules it imported."""
    report = (
        "import atexit, runpy, sys\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: print('heavy modules:', ' '.join(m for m in heavy "
        "if m in sys.modules) or 'none', file=sys.stderr))\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    script = str(ROOT / "stages" / f"{stage}.py")
    return subprocess.run(
        [sys.executable, "-c", report, script, *args], capture_output=True, text=True, cwd=ROOT
    )


def test_generate_refuses_digits_that_are_not_digits(tmp_path):
    (tmp_path / "vae.keras").touch()
    (tmp_path / "run.json").touch()
    args = ["--n-samples", "4", "--digits", "12a", "--seed", "0"]
    args += ["--model", str(tmp_path / "vae.keras"), "--run-file", str(tmp_path / "run.json")]
    args += ["--samples", str(tmp_path / "s.npz"), "--grid", str(tmp_path / "s.png")]

    result = CliRunner().invoke(generate, [*args, "--manifold", str(tmp_path / "m.png")])

    assert result.exit_code == 2
    assert result.output == (
        "Error: Invalid value for '--digits': '12a' is not a string of digits such as 0123456789\n"
    )


def test_no_param_value_is_pasted_into_a_stage_command():
    """DVC runs ``cmd`` through a shell: a ``${...}`` there would hand it a param's value."""
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert "${" not in stage["cmd"], name
        assert f"stages/{name}.py --params params.yaml " in stage["cmd"], name


def test_a_params_value_that_is_a_shell_command_is_refused_as_a_value(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(f"generate:\n  digits: 0;touch {tmp_path}/marker;echo\n")
    (tmp_path / "vae.keras").touch()
    (tmp_path / "run.json").touch()
    args = ["--params", str(params), "--n-samples", "4", "--seed", "0"]
    args += ["--model", str(tmp_path / "vae.keras"), "--run-file", str(tmp_path / "run.json")]
    args += ["--samples", str(tmp_path / "s.npz"), "--grid", str(tmp_path / "s.png")]

    result = _run_stage("generate", *args, "--manifold", str(tmp_path / "m.png"))

    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        f'Error: {params}: generate.digits = "0;touch {tmp_path}/marker;echo", expected a '
        "string of digits such as 0123456789"
    )
    assert not (tmp_path / "marker").exists()


def test_a_params_key_the_stage_does_not_have_is_refused(tmp_path, args):
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  latent_dimm: 4\n")

    result = CliRunner().invoke(train, args(**{"--params": str(params)}))

    assert result.exit_code == 2
    assert (
        result.output == f"Error: {params}: train.latent_dimm is not a parameter of this stage\n"
    )


@pytest.mark.parametrize(
    ("key", "value", "refused"),
    [
        ("latent_dim", 2.5, "train.latent_dim = 2.5, expected an integer >= 1"),
        ("latent_dim", True, "train.latent_dim = true, expected an integer >= 1"),
        ("learning_rate", "1e-3", 'train.learning_rate = "1e-3", expected a number > 0'),
        ("learning_rate", [0.1], "train.learning_rate = [0.1], expected a number > 0"),
        ("conditional", "yes", 'train.conditional = "yes", expected true or false'),
        ("conditional", 1, "train.conditional = 1, expected true or false"),
        ("activation", {"a": 1}, 'train.activation = {"a": 1}, expected one of relu, elu, '),
        ("schedule", 10, "train.schedule = 10, expected constant, iwae or stages such as "),
        ("seed", None, "train.seed is missing"),
    ],
)
def test_a_params_value_that_would_be_converted_is_refused_naming_its_key(
    tmp_path, key, value, refused
):
    """Every value as strictly as on the command line, and nothing converted with a loss:
    what runs and is logged is what params.yaml, ``dvc params diff`` and ``dvc exp show``
    say (None: the key deleted)."""
    values = yaml.safe_load((ROOT / "params.yaml").read_text())
    values["train"][key] = value
    if value is None:
        del values["train"][key]
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(values))

    result = CliRunner().invoke(train, ["--params", str(params)])

    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {params}: {refused}")
    assert result.output.count("\n") == 1


def test_a_bad_value_in_the_params_file_is_refused_and_the_command_line_wins(tmp_path, args):
    """The file is checked whole, even where the command line gives the value (``args``
    holds ``--latent-dim``): a bad file is named before it misleads another command."""
    values = yaml.safe_load((ROOT / "params.yaml").read_text())
    values["train"]["epochs"] = 3
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(values))
    values["train"]["latent_dim"] = 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(values))

    from_file = CliRunner().invoke(train, args(**{"--params": str(bad)}))
    from_line = CliRunner().invoke(train, args(**{"--params": str(good), "--epochs": "ten"}))

    assert from_file.exit_code == from_line.exit_code == 2
    assert from_file.output == f"Error: {bad}: train.latent_dim = 0, expected an integer >= 1\n"
    assert from_line.output.startswith("Error: Invalid value for '--epochs': 'ten' is not")


def _signal_and_spin(*_) -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:  # Python code: the handler runs here, not later
        pass


def _collect_with_a_gc_callback() -> None:
    def callback(phase, info):
        if phase == "start":
            _signal_and_spin()

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)


def _collect_with_a_weakref_callback() -> None:
    class Node:
        pass

    node = Node()
    node.cycle = node
    ref = weakref.ref(node, _signal_and_spin)
    del node
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize(
    "collect", [_collect_with_a_gc_callback, _collect_with_a_weakref_callback]
)
def test_a_signal_that_lands_where_python_drops_exceptions_still_interrupts(collect):
    """Python prints and drops an exception raised in a gc callback (JAX registers one, and
    TensorFlow imports JAX wherever it is installed) or in a weakref callback that a
    collection runs. A stage signalled there must still stop, not finish as if never
    signalled."""
    from mnist_vae.stage_command import Command

    @click.command(cls=Command)
    def stage():
        collect()
        time.sleep(10)
        click.echo("finished")

    result = CliRunner().invoke(stage, [])

    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert "interrupted by SIGTERM" in result.output
    assert "finished" not in result.output
