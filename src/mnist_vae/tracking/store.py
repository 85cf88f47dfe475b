"""The MLflow store: checked before a stage relies on it, and shared by parallel writers.

A store that is down, damaged or read-only is found before training starts, and named
in one line, rather than after an hour of training or deep inside SQLAlchemy.

One SQLite store is shared by parallel writers (``dvc queue start -j 2``). MLflow creates
its tables on first use, and two processes doing that at once fail in the middle of the
schema migration; so the store is created by whichever process comes first, under a file
lock, while the other waits. It is put in WAL mode, where readers (the UI) never block
the writer. MLflow already waits 20 s for a busy database; writes that still find it
locked are retried with backoff.
"""

import contextlib
import fcntl
import logging
import os
import re
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mlflow.exceptions import MlflowException

from mnist_vae.errors import PipelineError

_log = logging.getLogger(__name__)
SQLITE = "sqlite:///"

# MLflow's HTTP defaults (7 retries, backoff factor 2, 120 s timeout) take over 4 minutes
# to give up on a server that is down; these give up within about 30 s. A user's own
# settings win.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "8",
}


class StoreError(PipelineError):
    """The store cannot be read or written; the message names it and what to do."""


def fail_fast() -> None:
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)


def check_sqlite(uri: str) -> None:
    """Reads every page of an existing SQLite store and tries a write that it rolls back.

    Raises:
        StoreError: the file is not a whole SQLite database, or cannot be written.
    """
    path = Path(uri.removeprefix(SQLITE))
    if not uri.startswith(SQLITE) or not path.is_file() or path.stat().st_size == 0:
        return
    with contextlib.closing(sqlite3.connect(path, timeout=20, isolation_level=None)) as db:
        try:
            (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()
        except sqlite3.DatabaseError as error:
            verdict = str(error)
        if verdict != "ok":
            raise StoreError(
                f"{path}: damaged MLflow store ({verdict}); restore it from a backup, or "
                "move it aside to start a new one"
            )
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("CREATE TABLE mnist_vae_write_check (x)")
            db.execute("ROLLBACK")
        except sqlite3.OperationalError as error:
            raise StoreError(
                f"{path}: the MLflow store cannot be written ({error}); make the file and "
                "its folder writable, or set MLFLOW_TRACKING_URI to another store"
            ) from None


def unreachable(uri: str, error: Exception) -> StoreError:
    """The one line for a store that did not answer, or refused the account: the URI, the
    cause, and the fix."""
    status = error.get_http_status_code() if isinstance(error, MlflowException) else None
    if status in (401, 403):
        return StoreError(
            f"MLflow store {uri} refused the request ({cause(error)}); name an account that "
            "may make it in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or in "
            "~/.mlflow/credentials"
        )
    return StoreError(
        f"MLflow store {uri} did not answer ({cause(error)}); start it, or point "
        "MLFLOW_TRACKING_URI at a running server (unset, the pipeline uses mlflow.db at "
        "the repository root)"
    )


def cause(error: Exception) -> str:
    """The gist of a failed store call: the socket error, or the message's first line."""
    found = re.search(r"\[Errno -?\d+\] [^'\")]+|Read timed out", str(error))
    return found.group(0) if found else str(error).strip().split("\n")[0][:200]


@contextlib.contextmanager
def created(uri: str) -> Iterator[None]:
    """Holds the store's lock while the caller creates what it needs in it."""
    if not uri.startswith(SQLITE):
        yield
        return
    path = Path(uri.removeprefix(SQLITE))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists() or path.stat().st_size == 0:
            with contextlib.closing(sqlite3.connect(path)) as db:
                db.execute("PRAGMA journal_mode=WAL")
        yield


def retrying(call: Callable, *args, attempts: int = 6, delay: float = 0.5, **kwargs):
    """``call(*args, **kwargs)``, again after 0.5, 1, 2... s while the database is locked.

    SIGINT and SIGTERM wait until the call returns: interrupted halfway, a write could
    leave the database locked for the very calls that then end the run as KILLED.
    """
    for attempt in range(attempts):
        try:
            with _signals_deferred():
                return call(*args, **kwargs)
        except MlflowException as error:
            if attempt == attempts - 1 or "database is locked" not in str(error):
                raise
            _log.warning("database is locked; retrying in %.1f s", delay)
            time.sleep(delay)
            delay *= 2


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Notes SIGINT and SIGTERM during the call, and raises them again once it returns.

    A signal mask would not do: TensorFlow's threads leave the signals unblocked, the
    kernel hands them one, and Python still runs the handler in the main thread, in the
    middle of the write. So the handlers themselves are swapped, in the main thread, the
    only one that can set them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda number, frame: caught.append(number))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signal.raise_signal(caught[0])
