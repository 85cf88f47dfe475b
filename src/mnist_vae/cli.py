"""What every stage command shares: one-line errors, signals, and the options they have in
common."""

import atexit
import gc
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
from mnist_vae.errors import PipelineError, Terminated


class _InputError(click.ClickException):
    exit_code = 2


class _Interrupted(click.ClickException):
    """Exits as a shell reports a process killed by the signal (130, 143)."""

    def __init__(self, signum: signal.Signals):
        super().__init__(f"interrupted by {signum.name}")
        self.exit_code = 128 + signum


class Command(click.Command):
    """A click command whose every error fits on one line, and that a scheduler's SIGTERM
    stops as cleanly as a Ctrl-C.

    ``dvc repro`` shows a failed stage's last lines; click's usage block, or a traceback,
    would push the reason out of sight.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise _InputError(error.format_message()) from None

    def invoke(self, ctx: click.Context):
        signums = [signal.SIGTERM]
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signums.append(signal.SIGINT)  # not where a shell's background job ignores it
        previous = {signum: signal.signal(signum, _interrupt) for signum in signums}
        unraisable_hook = sys.unraisablehook
        sys.unraisablehook = _resignal_if_dropped(unraisable_hook)
        try:
            return super().invoke(ctx)
        except PipelineError as error:
            raise click.ClickException(str(error)) from None
        except Terminated:
            raise _Interrupted(signal.SIGTERM) from None
        except KeyboardInterrupt:
            raise _Interrupted(signal.SIGINT) from None
        finally:
            sys.unraisablehook = unraisable_hook
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _interrupt(signum, frame):
    """Raises the signal's exception, Terminated or KeyboardInterrupt, in the main thread."""
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
    still win. A key the command has no option for is refused, since it would be ignored.
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
        options = {p.name for p in ctx.command.params if isinstance(p, click.Option)}
        unknown = sorted(set(values) - options)
        if unknown:
            raise click.BadParameter(
                f"{value}: {section}.{unknown[0]} is not a parameter of this stage"
            )
        ctx.default_map = {**(ctx.default_map or {}), **values}

    return click.option(
        "--params",
        type=click.Path(exists=True, dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=load,
        help=f"YAML file whose {section} section gives the options' values (params.yaml).",
    )


def output_path(flag: str, help: str):
    """An option for a file the command writes; its folder is made when needed."""
    return click.option(flag, type=click.Path(dir_okay=False), required=True, help=help)


def input_path(flag: str, help: str):
    """An option for a file the command reads, checked before any heavy import."""
    return click.option(
        flag, type=click.Path(exists=True, dir_okay=False), required=True, help=help
    )
