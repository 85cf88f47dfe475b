"""One SQLite store shared by parallel writers (``dvc queue start -j 2``).

MLflow creates its tables on first use, and two processes doing that at once fail in
the middle of the schema migration; so the store is created by whichever process comes
first, under a file lock, while the other waits. It is put in WAL mode, where readers
(the UI) never block the writer. MLflow already waits 20 s for a busy database; writes
that still find it locked are retried with backoff.
"""

import contextlib
import fcntl
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mlflow.exceptions import MlflowException

_log = logging.getLogger(__name__)
SQLITE = "sqlite:///"


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
    """``call(*args, **kwargs)``, again after 0.5, 1, 2... s while the database is locked."""
    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except MlflowException as error:
            if attempt == attempts - 1 or "database is locked" not in str(error):
                raise
            _log.warning("database is locked; retrying in %.1f s", delay)
            time.sleep(delay)
            delay *= 2
