"""What a stage process spends after its work is done: the interpreter's teardown, with and
without the objects frozen out of its last garbage collection (``mnist_vae.stage_command``).

Each round starts two fresh processes side by side in time, one after the other: both
import TensorFlow (through Keras) and MLflow as a stage does; one also imports
``mnist_vae.stage_command``, which freezes every object at exit. The table gives the seconds from
the end of the imports to the process's end, per round.

    python benchmarks/process_exit.py --rounds 3
"""

import subprocess
import sys
import time

import click

IMPORTS = "import keras, mlflow"
SCRIPT = """
import time
{extra}
{imports}
print(time.time(), flush=True)
"""


@click.command()
@click.option("--rounds", type=click.IntRange(min=1), default=3, help="Pairs of processes.")
def main(rounds):
    from mnist_vae.runtime import machine

    frozen = "mnist_vae.stage_command"
    kinds = {"plain exit": "", f"{frozen} (frozen at exit)": f"import {frozen}"}
    print(f"CPU: {machine.cpu_model()}")
    print("| exit | " + " | ".join(f"round {i + 1} (s)" for i in range(rounds)) + " |")
    print("| --- |" + " ---: |" * rounds)
    seconds = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind, extra in kinds.items():
            seconds[kind].append(_exit_seconds(extra))
    for kind, values in seconds.items():
        print(f"| {kind} | " + " | ".join(f"{value:.2f}" for value in values) + " |")


def _exit_seconds(extra: str) -> float:
    """Seconds from the script's last line to the process's end."""
    script = SCRIPT.format(extra=extra, imports=IMPORTS)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    ended = time.time()
    return ended - float(done.stdout.split()[-1])


if __name__ == "__main__":
    main()
