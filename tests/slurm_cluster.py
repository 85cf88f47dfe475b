"""A one-node Slurm cluster of its own, on loopback, in a temporary folder: Debian's
``munge`` and ``slurm-wlm`` (``munged``, ``slurmctld``, ``slurmd``), every daemon run as the
user running the tests, with 2 CPU slots."""

import contextlib
import getpass
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from servers import free_port

PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch")
SLOTS = 2

CONF = """ClusterName=tests
SlurmctldHost=localhost
SlurmctldPort={controller_port}
SlurmdPort={node_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
AuthInfo=socket={folder}/munge.socket
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MinJobAge=3600
KillWait=10
NodeName=localhost CPUs={slots} RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


def missing() -> list[str]:
    """The cluster's programs that are not installed (not on PATH, nor in /usr/sbin)."""
    return [name for name in PROGRAMS if _program(name) is None]


class Cluster:
    """The daemons, started; ``env`` is what a Slurm client needs to reach them."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="slurm-"))
        self.env = {"SLURM_CONF": str(self.folder / "slurm.conf")}
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir()
        key = self.folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._daemon(
            "munged", "--force", f"--key-file={key}", f"--socket={self.folder}/munge.socket",
            f"--pid-file={self.folder}/munged.pid", f"--log-file={self.folder}/munged.log",
            f"--seed-file={self.folder}/munged.seed",
        )  # fmt: skip
        conf = self.folder / "slurm.conf"
        conf.write_text(
            CONF.format(
                folder=self.folder,
                user=getpass.getuser(),
                slots=SLOTS,
                controller_port=free_port(),
                node_port=free_port(),
            )  # fmt: skip
        )
        self._daemon("slurmctld", "-f", str(conf))
        self._daemon("slurmd", "-f", str(conf), "-N", "localhost")
        self._wait_for_node()

    def run(self, *command: str, check: bool = True) -> str:
        done = subprocess.run(
            [_program(command[0]) or command[0], *command[1:]],
            capture_output=True, text=True, env={**os.environ, **self.env},
        )  # fmt: skip
        assert not check or done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def wait(self, job: str, timeout: float) -> dict[str, str]:
        """Waits for every task of ``job`` to end; returns each task's state. The timeout
        guards against a hang only, and says what was still running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.run("squeue", "-h", "-j", job, check=False).strip():
                return self.states(job)
            time.sleep(2)
        raise AssertionError(f"job {job} still running after {timeout} s: {self.states(job)}")

    def states(self, job: str) -> dict[str, str]:
        shown = self.run("scontrol", "show", "job", "-o", job)
        fields = [
            dict(f.split("=", 1) for f in line.split() if "=" in f) for line in shown.splitlines()
        ]
        return {f"{job}_{f['ArrayTaskId']}": f["JobState"] for f in fields if "ArrayTaskId" in f}

    def log(self) -> str:
        return "\n".join(
            f"{path.name}:\n{path.read_text()[-2000:]}" for path in self.folder.glob("*.log")
        )

    def stop(self) -> None:
        for daemon in ("slurmd", "slurmctld", "munged"):
            pid_file = self.folder / f"{daemon}.pid"
            if pid_file.is_file():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text()), 15)
        time.sleep(1)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _daemon(self, name: str, *args: str) -> None:
        done = subprocess.run(
            [_program(name), *args], capture_output=True, text=True, env={**os.environ, **self.env}
        )
        assert done.returncode == 0, f"{name}: {done.stdout}{done.stderr}{self.log()}"

    def _wait_for_node(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run("sinfo", "-h", "-o", "%t", check=False).strip()
            if state in ("idle", "mix", "alloc"):
                return
            time.sleep(0.5)
        raise AssertionError(f"the Slurm node did not come up in {timeout} s:\n{self.log()}")


def _program(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
