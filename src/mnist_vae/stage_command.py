"""What every stage command shares: one-line errors, signals, and the options they have in
common."""

import atexit
import gc
import json
import os
import re
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path
from typing import Literal, get_args, get_origin

import click

from mnist_vae.config import SECTIONS
from mnist_vae.errors import PipelineError, Terminated, redacted
from mnist_vae.runtime import parent_watch

# Where ctx.meta keeps the params file and section that gave the options their values.
PARAMS_FILE = "mnist_vae.params_file"


class _InputError(click.ClickException):
    exit_code = 2


class _Interrupted(click.ClickException):
    """Exits as a shell reports a process killed by the signal (130, 143)."""

    def __init__(self, signum: signal.Signals):
        super().__init__(f"interrupted by {signum.name}")
        self.exit_code = 128 + signum


class Command(click.Command):
    """A click command whose every error fits on one line, and that a scheduler's SIGTERM,
    or the end of the ``dvc`` that started it, stops as cleanly as a Ctrl-C.

    ``dvc repro`` shows a failed stage's last lines; click's usage block, or a traceback,
    would push the reason out of sight.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.MissingParameter as error:
            path, section = ctx.meta.get(PARAMS_FILE, (None, None))
            if path and error.param is not None and error.param.name in _keys(section):
                raise _InputError(f"{path}: {section}.{error.param.name} is missing") from None
            raise _InputError(error.format_message()) from None
        except click.UsageError as error:
            raise _InputError(error.format_message()) from None

    def invoke(self, ctx: click.Context):
        signums = [signal.SIGTERM]
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signums.append(signal.SIGINT)  # not where a shell's background job ignores it
        previous = {signum: signal.signal(signum, _interrupt) for signum in signums}
        _stopping.clear()
        unraisable_hook = sys.unraisablehook
        sys.unraisablehook = _resignal_if_dropped(unraisable_hook)
        try:
            with parent_watch.stopping_when_orphaned():
                return super().invoke(ctx)
        except PipelineError as error:
            raise click.ClickException(redacted(str(error))) from None
        except Terminated:
            raise _Interrupted(signal.SIGTERM) from None
        except KeyboardInterrupt:
            raise _Interrupted(signal.SIGINT) from None
        finally:
            sys.unraisablehook = unraisable_hook
            if not _stopping.is_set():  # stopping: the signals that follow are ignored too
                for signum, handler in previous.items():
                    signal.signal(signum, handler)


# Set by the first signal: the stage is stopping, and its cleanup (the MLflow run ended as
# KILLED) must not be cut short by the next one. Slurm's scancel signals every process of
# the job, dvc too, and the stage's parent watch sends its own SIGTERM once dvc is gone:
# two SIGTERMs, milliseconds apart. Had the second cut the cleanup short, MLflow's exit
# hook would have ended the run FINISHED.
_stopping = threading.Event()


def _interrupt(signum, frame):
    """Raises the signal's exception, Terminated or KeyboardInterrupt, in the main thread;
    once only, to the process's exit (SIGKILL still ends a cleanup that hangs)."""
    if _stopping.is_set():
        return
    _stopping.set()
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _resignal_if_dropped(previous_hook):
    """An unraisablehook that sends a signal again, a moment later, when its exception was
    dropped: Python prints and drops an exception raised where nothing can catch it, in a
    garbage-collector callback, a weakref callback or a ``__del__``, all of which a
    collection runs. JAX registers a gc callback, TensorFlow imports JAX wherever it is
    installed, and any collection runs weakref callbacks; a signal that lands there would
    leave the stage going on as if never signalled."""

    def hook(unraisable):
        if isinstance(unraisable.exc_value, Terminated | KeyboardInterrupt):
            signum = (
                signal.SIGTERM if isinstance(unraisable.exc_value, Terminated) else signal.SIGINT
            )
            _stopping.clear()  # dropped: nothing is stopping yet
            threading.Timer(0.01, os.kill, (os.getpid(), signum)).start()
        else:
            previous_hook(unraisable)

    return hook


# The interpreter's teardown ends in a last garbage collection over every object that
# TensorFlow, Keras and MLflow created: 2.8-3.3 s of each stage process on a 2-core AMD
# EPYC Zen 3, against 0.3 s with every object frozen out of its reach first
# (benchmarks/process_exit.py). Nothing is lost: atexit handlers, MLflow's among them,
# still run, and so does every object's own cleanup that does not wait on that collection.
atexit.register(gc.freeze)


def stage_options(section: str):
    """``--params FILE`` and an option per field of the section's config classes, in
    order: ``--latent-dim`` for ``latent_dim``, typed and bounded as declared."""

    def decorate(command):
        for config_class in reversed(SECTIONS[section]):
            for field in reversed(fields(config_class)):
                command = click.option(
                    f"--{field.name.replace('_', '-')}",
                    type=_click_type(field),
                    required=True,
                    help=field.metadata["help"],
                )(command)
        return params_file(section)(command)

    return decorate


def _click_type(field) -> click.ParamType:
    meta = field.metadata
    if get_origin(field.type) is Literal:
        return click.Choice(get_args(field.type))
    if field.type is bool:
        return click.BOOL
    if field.type is int:
        return click.IntRange(min=meta["min"])
    if field.type is float:
        return click.FloatRange(min=meta["min"], min_open=meta["min_open"])
    return _Pattern(meta["pattern"], meta["expected"]) if meta["pattern"] else click.STRING


class _Pattern(click.ParamType):
    """A string matching a regular expression whole."""

    name = "text"

    def __init__(self, pattern: str, expected: str):
        self.pattern = pattern
        self.expected = expected

    def convert(self, value, param, ctx):
        if not re.fullmatch(self.pattern, str(value)):
            self.fail(f"{value!r} is not {self.expected}", param, ctx)
        return str(value)


def params_file(section: str):
    """``--params FILE``: every option's value from FILE's ``section``, which
    ``dvc.yaml`` passes instead of pasting the values into the stage's shell command.

    No param value ever reaches a shell, so ``dvc exp run -S 'generate.digits=0;rm x'``
    is a bad value for click to refuse, not a command. Options given on the command line
    still win. A key the command has no option for is refused, since it would be ignored;
    a missing key is named as ``section.key``. Each value is checked as strictly as one
    typed on the command line, and more: click would turn the YAML float 2.5 into the
    integer 2 and log that, while ``params.yaml`` and ``dvc params diff`` still say 2.5.
    """

    def load(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is None:
            return
        import yaml

        try:
            values = (yaml.safe_load(Path(value).read_text()) or {}).get(section)
        except (OSError, yaml.YAMLError, AttributeError) as error:
            raise click.BadParameter(f"{value}: expected a YAML mapping ({error})") from None
        if not isinstance(values, dict):
            raise click.BadParameter(f"{value}: expected a {section} section of params")
        options = {p.name: p for p in ctx.command.params if isinstance(p, click.Option)}
        for key, found in values.items():
            if key not in options:
                raise _InputError(f"{value}: {section}.{key} is not a parameter of this stage")
            if not _takes(options[key].type, found):
                expected = _expected(options[key].type)
                shown = json.dumps(found, default=str)
                raise _InputError(f"{value}: {section}.{key} = {shown}, expected {expected}")
        ctx.meta[PARAMS_FILE] = (value, section)
        ctx.default_map = {**(ctx.default_map or {}), **values}

    return click.option(
        "--params",
        type=click.Path(exists=True, dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=load,
        help=f"YAML file whose {section} section gives the options' values (params.yaml).",
    )


def _keys(section: str) -> set[str]:
    return {field.name for config_class in SECTIONS[section] for field in fields(config_class)}


def _takes(kind: click.ParamType, value) -> bool:
    """Whether a YAML value is of the kind the option takes, and within its bounds: no
    float for an integer, no string for a bool or a number, no list or mapping at all."""
    if isinstance(kind, click.IntRange):
        wanted = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(kind, click.FloatRange):
        wanted = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind is click.BOOL:
        wanted = isinstance(value, bool)
    else:
        wanted = isinstance(value, str)
    try:
        return wanted and kind.convert(value, None, None) is not None
    except click.BadParameter:
        return False


def _expected(kind: click.ParamType) -> str:
    """What an option takes, said as the error line says it."""
    if isinstance(kind, click.IntRange | click.FloatRange):
        number = "an integer" if isinstance(kind, click.IntRange) else "a number"
        if kind.min is None:
            return number
        return f"{number} {'>' if kind.min_open else '>='} {kind.min:g}"
    if kind is click.BOOL:
        return "true or false"
    if isinstance(kind, click.Choice):
        return "one of " + ", ".join(kind.choices)
    return kind.expected if isinstance(kind, _Pattern) else "text"


def output_path(flag: str, help: str):
    """An option for a file the command writes; its folder is made when needed."""
    return click.option(flag, type=click.Path(dir_okay=False), required=True, help=help)


def input_path(flag: str, help: str):
    """An option for a file the command reads, checked before any heavy import."""
    return click.option(
        flag, type=click.Path(exists=True, dir_okay=False), required=True, help=help
    )
