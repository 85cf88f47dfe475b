"""Where a training step's time goes: oneDNN's own account of each matrix product it ran
(ONEDNN_VERBOSE), against the step's wall time measured without it.

The project's train step runs under ``benchmarks/train_speed.py run`` twice: plain, for
the steady-state time per step, and with ONEDNN_VERBOSE=1, whose exec lines give each
oneDNN primitive's time. Only the training batch's products are counted; what oneDNN
does not account for is the rest: validation, the elementwise ops, the optimizer's
update, the loop. oneDNN runs the products only without XLA, so ``jit_compile=false``
is the default here; under XLA its own dots run them (``benchmarks/step_profile.py``).

    python benchmarks/onednn_account.py --size 20x512x128 --set jit_compile=false
"""

import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
TRAIN_EXAMPLES = 55_000


@click.command()
@click.option("--size", default="20x512x128", help="latent x hidden x batch.")
@click.option("--hidden-layers", type=click.IntRange(min=1), default=1, help="Per MLP.")
@click.option("--epochs", type=click.IntRange(min=2), default=3, help="Epochs per run.")
@click.option(
    "--set", "overrides", default="jit_compile=false", help="TrainConfig fields: a=1,b=x."
)
def main(size, hidden_layers, epochs, overrides):
    from mnist_vae.runtime import machine

    batch = int(size.split("x")[2])
    steps = epochs * -(-TRAIN_EXAMPLES // batch)
    plain = json.loads(_run(size, hidden_layers, epochs, overrides, verbose=False)[-1])
    step_ms = 1000 * batch / plain["examples_per_second"]
    lines = _run(size, hidden_layers, epochs, overrides, verbose=True)
    totals = collections.Counter()
    calls = collections.Counter()
    for line in lines:
        fields = line.split(",")
        if fields[:4] != ["onednn_verbose", "v1", "primitive", "exec"]:
            continue
        key = (fields[5], fields[6] or "-", fields[-2])
        if not _on_batch(key[2], batch):
            continue  # validation's and the test score's products, at their own batch sizes
        totals[key] += float(fields[-1])
        calls[key] += 1
    print(f"CPU: {machine.cpu_model()}; {size}, {hidden_layers} hidden layer(s), {overrides}")
    print(f"step: {step_ms:.3f} ms (steady state, validation included, no verbose)")
    print("| primitive | implementation | shape | calls a step | ms a step | share |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    accounted = 0.0
    for key, total in totals.most_common():
        per_step = total / steps
        accounted += per_step
        kind, impl, shape = key
        share = f"{per_step / step_ms:.0%}"
        print(
            f"| {kind} | {impl} | {shape} | {calls[key] / steps:.2f} | {per_step:.3f} | {share} |"
        )
    rest = step_ms - accounted
    print(f"| everything else | | | | {rest:.3f} | {rest / step_ms:.0%} |")


def _on_batch(shape: str, batch: int) -> bool:
    """Whether a product is the training step's: a fused forward product (``mb128ic784oc512``)
    of ``batch`` rows, or a gradient's (``784x128:128x512``) with ``batch`` as a dimension."""
    if shape.startswith("mb"):
        return int(re.match(r"mb(\d+)", shape).group(1)) == batch
    return str(batch) in re.split("[x:]", shape)


def _run(size, hidden_layers, epochs, overrides, verbose: bool) -> list[str]:
    command = [sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "run"]
    command += ["--impl", "project", "--size", size, "--hidden-layers", str(hidden_layers)]
    command += ["--epochs", str(epochs), "--set", overrides]
    command += ["--data-dir", str(ROOT / "data" / "prepared")]
    env = {**os.environ, "ONEDNN_VERBOSE": "1" if verbose else "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return result.stdout.strip().splitlines()


if __name__ == "__main__":
    main()
