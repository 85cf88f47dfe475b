"""The contracts between the files, checked without TensorFlow: every parameter declared
once, and every stage's DVC dependencies derived from its imports."""

import ast
import importlib

import click
import pytest
import yaml
from conftest import ROOT

from mnist_vae.config import SECTIONS, spell

PIPELINE = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
PACKAGE = ROOT / "src" / "mnist_vae"
# The layers. What models, data and scores are stays apart from where runs are logged: no
# module of these reaches MLflow, however indirectly (training logs through the hooks it
# is given). And only the command line speaks click.
UNTRACKED = (
    *("official", "download", "idx", "data", "config", "project"),
    *("model", "losses", "decoding", "saving", "machine"),
    *("training", "tf_epoch_loop", "jax_epoch_loop", "keras_fit", "divergence", "schedules"),
    *("checkpoints", "evaluation", "figures", "plotting", "verdicts"),
)
COMMAND_LINE = {"cli", "commands"}
# Files a module reaches by path rather than by import: MLflow runs served_model.py to
# build the registered model ("models from code").
BY_PATH = {"registry": ["served_model"]}


def test_every_section_is_a_stage_and_a_set_of_config_classes():
    assert list(PARAMS) == list(SECTIONS) == list(PIPELINE)


@pytest.mark.parametrize("stage", SECTIONS)
def test_params_config_fields_options_and_dvc_params_are_one_set(stage):
    fields = [f.name for config_class in SECTIONS[stage] for f in _fields(config_class)]
    command = importlib.import_module(f"stages.{stage}").__dict__[stage]
    options = [
        p.name
        for p in command.params
        if isinstance(p, click.Option)
        and p.name not in ("params", "sources")
        and not isinstance(p.type, click.Path)
    ]

    assert list(PARAMS[stage]) == fields
    assert options == fields
    assert PIPELINE[stage]["params"] == [stage]


def _fields(config_class):
    import dataclasses

    return dataclasses.fields(config_class)


@pytest.mark.parametrize("stage", SECTIONS)
def test_a_stage_depends_on_exactly_the_code_it_runs(stage):
    code = {dep for dep in PIPELINE[stage]["deps"] if dep.startswith(("stages/", "src/"))}
    assert code == {f"stages/{stage}.py", *_closure(ROOT / "stages" / f"{stage}.py")}


def test_no_module_imports_itself_through_others():
    for module in PACKAGE.glob("*.py"):
        assert module.stem not in _reached(module.stem, first=_imports(module)), module.stem


def _closure(script) -> set[str]:
    names = _reached(None, first=_imports(script))
    return {"src/mnist_vae/__init__.py", *(f"src/mnist_vae/{name}.py" for name in names)}


def _reached(start, first: set[str]) -> set[str]:
    seen, todo = set(), list(first)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [*_imports(PACKAGE / f"{name}.py"), *BY_PATH.get(name, [])]
    return seen


def _imports(path) -> set[str]:
    """The package's modules that ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "mnist_vae":
            found |= {a.name for a in node.names if (PACKAGE / f"{a.name}.py").exists()}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mnist_vae."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("mnist_vae.")}
    return found


@pytest.mark.parametrize("module", UNTRACKED)
def test_no_model_data_or_scoring_module_reaches_mlflow(module):
    reached = {module, *_reached(module, first=_imports(PACKAGE / f"{module}.py"))}
    through = sorted(name for name in reached if "mlflow" in _libraries(PACKAGE / f"{name}.py"))
    assert through == [], f"{module} imports MLflow through {through}"


def test_only_the_command_line_imports_click():
    speaking = {path.stem for path in PACKAGE.glob("*.py") if "click" in _libraries(path)}
    assert speaking <= COMMAND_LINE, speaking - COMMAND_LINE


def _libraries(path) -> set[str]:
    """The top-level names of what ``path`` imports from outside the package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
    return found - {"mnist_vae"}


def test_the_commands_default_paths_are_where_dvc_yaml_puts_the_files():
    """The seed band is the one committed file that no stage writes; a file in an output
    folder (``data/prepared/test.npz``) is where dvc.yaml puts it too."""
    from mnist_vae import commands, provenance

    outputs = {*provenance.pipeline_outputs(ROOT / "dvc.yaml"), commands.SEED_BAND}
    not_paths = (
        *("output", "alias", "like", "baseline", "rev", "seeds", "name", "extra", "queue"),
        *("model_uri", "host", "port", "username", "role"),
    )
    defaults = [
        str(path)
        for command in commands.main.commands.values()
        for option in command.params
        if option.name not in not_paths
        for path in (option.default if option.multiple else [option.default])
    ]
    undeclared = {
        path
        for path in defaults
        if path != commands.PARAMS
        and not any(p == path or path.startswith(f"{p}/") for p in outputs)
    }
    assert defaults and not undeclared, undeclared


def test_every_preset_changes_params_that_exist_to_values_their_options_take():
    from click.testing import CliRunner

    from mnist_vae import cli, presets

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, changes in presets.load().items():
        for key, value in changes.items():
            section, field = key.split(".")
            assert field in params[section], f"{name}: {key}"

            @click.command()
            @cli.stage_options(section)
            def check(**options):
                pass

            flag = f"--{field.replace('_', '-')}"
            args = ["--params", str(ROOT / "params.yaml"), flag, str(spell(value))]
            result = CliRunner().invoke(check, args)
            assert result.exit_code == 0, f"{name}: {key}={value}: {result.output}"


def test_the_project_is_found_from_the_working_directory_not_the_package(tmp_path, monkeypatch):
    """Library callers read the params and presets of the project they work in, from any
    folder of it, whatever the package's own location (an install in site-packages
    knows of no project)."""
    from mnist_vae import config, presets

    for name in ("dvc.yaml", "presets.yaml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    changed = {**PARAMS, "train": {**PARAMS["train"], "latent_dim": 7}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed))
    (tmp_path / "presets.yaml").write_text("mine:\n  train.latent_dim: 9\n")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")

    assert config.from_params(config.ModelConfig).latent_dim == 7
    assert presets.load() == {"mine": {"train.latent_dim": 9}}
