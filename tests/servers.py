"""Servers the tests start as real processes on loopback: ``mlflow server``, ``mlflow
models serve``, PostgreSQL and an S3 API."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from pipeline_repo import user_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# MLflow 3's job runner (huey consumers polling the store, for GenAI scorers and trace
# roll-ups the pipeline never submits) off, as the team docs run the server.
SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class Server:
    """A command serving HTTP on a free loopback port, stopped on exit."""

    def __init__(
        self, *command: str, ready: str, cwd: Path, env: dict | None = None, port: int = 0
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=cwd,
            # As a user runs it: the venv's programs on PATH, since `mlflow models serve
            # --env-manager local` starts `uvicorn` by name.
            env=user_env(**SERVER_ENV, **(env or {})),
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.ready = ready

    def wait(self, timeout: float = 240) -> "Server":
        """Waits for the server to answer; the timeout guards against a hang only (an
        ``mlflow models serve`` took under a minute on an AMD EPYC Zen 3 beside another
        test)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(self.url + self.ready, timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        log = self.log.read_text()[-3000:]
        raise AssertionError(f"{self.url} did not answer in {timeout} s; its log ends:\n{log}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def mlflow_command() -> str:
    return str(Path(sys.executable).with_name("mlflow"))


S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL programs (``postgresql`` package), which are not on PATH."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


class Postgres:
    """A PostgreSQL server of its own, in a temporary folder, on a loopback port, with one
    database, ``mlflow`` (``create`` adds more). PostgreSQL refuses to run as root, so
    under root its programs run as the ``postgres`` user that Debian's package creates."""

    def __init__(self, programs: Path):
        self.folder = Path(tempfile.mkdtemp(prefix="postgres-"))  # not under root's 0700 tmp
        self.port = free_port()
        self.programs = programs
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_user:
            shutil.chown(self.folder, "postgres")
        self.as_user = as_user
        data = str(self.folder / "data")
        self._run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -h 127.0.0.1 -k {self.folder}"
        log = str(self.folder / "server.log")
        self._run("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start")
        self.url = self.create("mlflow")

    def create(self, database: str) -> str:
        """Creates ``database`` and returns its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", database)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [*self.as_user, str(self.programs / program), *args]
        subprocess.run(command, check=True, capture_output=True, cwd=self.folder)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class S3:
    """moto's S3 API on a loopback port, with the buckets asked for."""

    def __init__(self, folder: Path, *buckets: str):
        moto = str(Path(sys.executable).with_name("moto_server"))
        self.server = Server(moto, ready="/moto-api/", cwd=folder).wait()
        self.url = self.server.url
        for bucket in buckets:
            self.client().create_bucket(Bucket=bucket)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, **_boto_credentials())

    def keys(self, bucket: str) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=bucket).get("Contents", [])
        return [entry["Key"] for entry in listed]

    def stop(self) -> None:
        self.server.stop()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    }
