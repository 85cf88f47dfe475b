"""The exception types the stages turn into a one-line error message, and what such a
line may not show."""

import math
import re
import signal

# user:password@ in a URL of any scheme: an MLflow tracking URI, a DVC remote, a mirror.
_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@/\s]+@")


class PipelineError(Exception):
    """Bad input or a bad file: the message names the value or file and what was expected."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where SIGINT raises KeyboardInterrupt, so that the same cleanup runs:
    temporary files removed, the MLflow run ended as KILLED."""

    signal_name = signal.Signals.SIGTERM.name


def redacted(text: str) -> str:
    """``text`` with the password of every URL in it shown as ``***``: a one-line error
    ends up in ``dvc queue logs``, CI logs and Slurm output files."""
    return _PASSWORD.sub(r"\1:***@", text)


def not_finite(values: dict[str, float]) -> list[str]:
    """``name = value`` of each value that is NaN or infinite: what a divergence, or a
    broken model's scores, is reported by."""
    return [f"{name} = {value}" for name, value in values.items() if not math.isfinite(value)]
