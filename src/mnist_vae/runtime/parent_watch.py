"""A stage stops when the ``dvc`` that started it is gone.

``timeout``, a CI runner or a scheduler may signal only the process it started. DVC then
dies at once, and its stage would train on, register its model as FINISHED and leave no
trace in ``dvc.lock``: a model that no DVC state points to. So a stage watches the
process that started it, past any shell between them (DVC starts each command through
one, which would outlive it), and sends itself SIGTERM once that process is gone. The
stage then ends as on any SIGTERM: its run KILLED, nothing registered. It looks twice a
second, well within the 30 s a scheduler gives between SIGTERM and SIGKILL.

Only a stage that DVC started watches (DVC sets ``DVC_STAGE`` for it): a command run by
hand, under ``nohup`` say, is meant to outlive the shell that started it.
"""

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

SHELLS = frozenset({"sh", "dash", "bash", "zsh", "ksh", "fish"})


@contextlib.contextmanager
def stopping_when_orphaned(interval: float = 0.5) -> Iterator[None]:
    starter = _starter() if os.environ.get("DVC_STAGE") else None
    done = threading.Event()

    def watch() -> None:
        while not done.wait(interval):
            if not _alive(starter):
                os.kill(os.getpid(), signal.SIGTERM)
                return

    if starter is not None:
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    try:
        yield
    finally:
        done.set()


def _starter():
    """The nearest ancestor that is not a shell (a ``psutil.Process``); None where it
    cannot be known. psutil is imported here, for stages that DVC started only: at the
    top it would cost every ``--help`` about 28 ms."""
    import psutil

    try:
        process = psutil.Process().parent()
        while process is not None and process.name() in SHELLS and process.ppid() > 1:
            process = process.parent()
        return process
    except psutil.Error:
        return None


def _alive(process) -> bool:
    """Running, and not a zombie that its own parent has yet to reap."""
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
