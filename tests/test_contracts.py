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
# The layers, named as the package's modules are (``training.trainer``, or a subpackage's
# ``__init__`` as ``training``). What the MNIST files, the model and its scores are stays
# apart from where runs are logged: no module of these reaches MLflow, however indirectly
# (the training loops log through the hooks they are given).
UNTRACKED_PACKAGES = ("mnist", "vae", "scoring", "runtime")
UNTRACKED_MODULES = ("config", "project", "errors", "atomic", "review.verdicts")
LOGGING_TRAINING = {"training.epoch_hooks", "training.training_run"}
# What each subpackage may import of the rest of the package, as its docstring says.
MAY_IMPORT = {
    "runtime": {"errors"},
    "mnist": {"atomic", "errors"},
    "vae": {"atomic", "config", "errors"},
    "scoring": {"atomic", "errors", "mnist", "runtime", "vae"},
    "training": {"atomic", "config", "errors", "mnist", "runtime", "scoring", "tracking", "vae"},
    "tracking": {"atomic", "config", "errors", "mnist", "project", "scoring", "serving"},
    "review": {"atomic", "dvc_command", "errors", "runtime", "scoring", "tracking"},
    "sweeps": {"atomic", "dvc_command", "errors", "project", "tracking"},
}
# Only the command line speaks click.
COMMAND_LINE = {"stage_command", "commands"}
# Files a module reaches by path rather than by import: MLflow runs served_model.py to
# build the registered model ("models from code").
BY_PATH = {"tracking.registry": ["served_model"]}


def _modules() -> list[str]:
    """Every module of the package, subpackages' ``__init__`` by the subpackage's name."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts != ("__init__",):
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _file(module: str):
    path = PACKAGE.joinpath(*module.split("."))
    return path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"


UNTRACKED = [
    m
    for m in _modules()
    if m.split(".")[0] in UNTRACKED_PACKAGES
    or m in UNTRACKED_MODULES
    or (m.startswith("training.") and m not in LOGGING_TRAINING)
]


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
    for module in _modules():
        assert module not in _reached(_imports(_file(module))), module


@pytest.mark.parametrize("package", MAY_IMPORT)
def test_a_subpackage_imports_only_what_its_docstring_allows(package):
    allowed = {package, *MAY_IMPORT[package]}
    for module in _modules():
        if module.split(".")[0] == package:
            reached = {name.split(".")[0] for name in _imports(_file(module))}
            assert reached <= allowed, f"{module} imports {sorted(reached - allowed)}"
    documented = (PACKAGE / package / "__init__.py").read_text()
    for other in MAY_IMPORT[package] - {"atomic", "config", "errors", "project"}:
        assert f"mnist_vae.{other}" in documented or f"``{other}``" in documented, other


def _closure(script) -> set[str]:
    """The package's files ``script`` runs: what it imports, and what the package's own
    ``__init__`` imports on the way."""
    first = _imports(script) | _imports(PACKAGE / "__init__.py")
    files = [_file(name) for name in _reached(first)]
    return {"src/mnist_vae/__init__.py", *(str(f.relative_to(ROOT)) for f in files)}


def _reached(first: set[str]) -> set[str]:
    seen, todo = set(), list(first)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [*_imports(_file(name)), *BY_PATH.get(name, [])]
    return seen


def _imports(path) -> set[str]:
    """The package's modules that ``path`` imports, at the top or inside a function, with
    the subpackages whose ``__init__`` those imports run."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mnist_vae":
            base = node.module.split(".")[1:]
            if base:
                found.add(".".join(base))
            for alias in node.names:
                name = ".".join([*base, alias.name])
                if PACKAGE.joinpath(*name.split(".")).with_suffix(".py").exists():
                    found.add(name)
        elif isinstance(node, ast.Import):
            found |= {
                a.name[len("mnist_vae.") :] for a in node.names if a.name.startswith("mnist_vae.")
            }
    return {part for name in found for part in _with_parents(name)}


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@pytest.mark.parametrize("module", UNTRACKED)
def test_no_model_data_or_scoring_module_reaches_mlflow(module):
    reached = {module, *_reached(_imports(_file(module)))}
    through = sorted(name for name in reached if "mlflow" in _libraries(_file(name)))
    assert through == [], f"{module} imports MLflow through {through}"


def test_only_the_command_line_imports_click():
    speaking = {m for m in _modules() if "click" in _libraries(_file(m))}
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
    from mnist_vae import commands
    from mnist_vae.tracking import provenance

    outputs = {*provenance.pipeline_outputs(ROOT / "dvc.yaml"), commands.SEED_BAND}
    not_paths = (
        *("output", "alias", "like", "baseline", "rev", "seeds", "name", "extra", "queue"),
        *("model_uri", "host", "port", "username", "role"),
        *("sets", "preset", "slurm", "collect", "remote", "cpus_per_task", "mem", "time"),
        *("gres", "partition", "account", "venv", "dry_run", "index"),
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

    from mnist_vae import presets, stage_command

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name, changes in presets.load().items():
        for key, value in changes.items():
            section, field = key.split(".")
            assert field in params[section], f"{name}: {key}"

            @click.command()
            @stage_command.stage_options(section)
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
