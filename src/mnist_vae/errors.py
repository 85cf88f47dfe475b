"""The exception types the stages turn into a one-line error message."""

import signal


class PipelineError(Exception):
    """Bad input or a bad file: the message names the value or file and what was expected."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where SIGINT raises KeyboardInterrupt, so that the same cleanup runs:
    temporary files removed, the MLflow run ended as KILLED."""

    signal_name = signal.Signals.SIGTERM.name
