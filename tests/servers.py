"""HTTP servers the tests start as real processes: ``mlflow server``, ``mlflow models serve``."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A command serving HTTP on a free loopback port, stopped on exit."""

    def __init__(
        self, *command: str, ready: str, cwd: Path, env: dict | None = None, port: int = 0
    ):
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.ready = ready

    def wait(self, timeout: float = 120) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(self.url + self.ready, timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"{self.url} did not answer in {timeout} s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def mlflow_command() -> str:
    return str(Path(sys.executable).with_name("mlflow"))
