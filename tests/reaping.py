"""Processes a test started in the background, and their children, killed once it ends.

A test that fails before it signals its stage would otherwise leave that stage running: a
train stage of 100,000 epochs then takes a core from every test after it, and from every
timing taken on the machine until it is found."""

import contextlib
import subprocess

import psutil

_STARTED: list[subprocess.Popen] = []


def started(process: subprocess.Popen) -> subprocess.Popen:
    """Registers ``process`` to be killed, with its children, when the test ends."""
    _STARTED.append(process)
    return process


def reap() -> None:
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is not None:
            continue
        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        process.kill()
        process.wait()
