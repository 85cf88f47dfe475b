"""What every stage command shares: one-line errors and the options they have in common."""

import click

from mnist_vae.errors import PipelineError


class _InputError(click.ClickException):
    exit_code = 2


class Command(click.Command):
    """A click command whose every error fits on one line.

    ``dvc repro`` shows a failed stage's last lines; click's usage block, or a traceback,
    would push the reason out of sight.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise _InputError(error.format_message()) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PipelineError as error:
            raise click.ClickException(str(error)) from None


def output_path(flag: str, help: str):
    """An option for a file the command writes; its folder is made when needed."""
    return click.option(flag, type=click.Path(dir_okay=False), required=True, help=help)


def input_path(flag: str, help: str):
    """An option for a file the command reads, checked before any heavy import."""
    return click.option(
        flag, type=click.Path(exists=True, dir_okay=False), required=True, help=help
    )


seed_option = click.option(
    "--seed", type=click.IntRange(min=0), required=True, help="Seed of every random draw."
)
