"""Runs left RUNNING by a process that no longer exists, found and closed as KILLED.

A SIGKILL, an out-of-memory kill or a power cut ends a stage with no chance to close its
MLflow run, which would then look in progress forever. Every run the pipeline opens is
tagged with its host, its process id and that process's start time; a RUNNING run whose
host is this one and whose process is gone (or whose pid now belongs to a process that
started later) is closed the next time a stage opens the store. Runs of other hosts are
left alone: from here, nothing tells a live process there from a dead one.
"""

import logging
import os
import socket

import psutil

from mnist_vae.tracking import store

HOST, PID, STARTED = "process.host", "process.pid", "process.started"
REASON = "failure_reason"
_log = logging.getLogger(__name__)


LATER_STAGES = ("evaluate", "generate")


def owner_tags(stage: str = "") -> dict[str, str]:
    """The tags that say which live process a run, or a later ``stage`` logging into the
    run (its tags prefixed ``<stage>.``), belongs to."""
    prefix = f"{stage}." if stage else ""
    return {
        prefix + HOST: socket.gethostname(),
        prefix + PID: str(os.getpid()),
        prefix + STARTED: repr(psutil.Process().create_time()),
    }


def close(client, experiment_id: str) -> list[str]:
    """Marks this host's RUNNING runs whose process is gone as KILLED, and so the
    ``<stage>.status`` of a later stage that died while logging into a finished run.

    Returns:
        The ids of the runs it closed.
    """
    host = socket.gethostname().replace("'", "")
    closed = []
    for stage in ("", *LATER_STAGES):
        prefix = f"{stage}." if stage else ""
        status = f"tags.`{stage}.status`" if stage else "attributes.status"
        running = store.retrying(
            client.search_runs,
            [experiment_id],
            f"{status} = 'RUNNING' and tags.`{prefix}{HOST}` = '{host}'",
        )
        for run in running:
            tags = {k.removeprefix(prefix): v for k, v in run.data.tags.items()}
            if PID not in tags or _alive(int(tags[PID]), float(tags.get(STARTED, "nan"))):
                continue
            reason = f"process {tags[PID]} on {host} ended without closing the run"
            store.retrying(client.set_tag, run.info.run_id, prefix + REASON, reason)
            if stage:
                store.retrying(client.set_tag, run.info.run_id, f"{stage}.status", "KILLED")
            else:
                store.retrying(client.set_terminated, run.info.run_id, "KILLED")
            _log.warning("run %s: %s%s; marked KILLED", run.info.run_id, prefix, reason)
            closed.append(run.info.run_id)
    return closed


def _alive(pid: int, started: float) -> bool:
    try:
        process = psutil.Process(pid)
        return abs(process.create_time() - started) < 1 and process.status() != "zombie"
    except psutil.NoSuchProcess:
        return False
