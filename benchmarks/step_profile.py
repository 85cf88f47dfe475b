"""Where a training step's time goes, op by op: TensorFlow's profiler on one steady-state
epoch of the project's train step, its wall time split by what ran.

``benchmarks/train_speed.py run --profile`` traces the second epoch (the first traces and
compiles). Under XLA (``jit_compile``, the default) each thunk of the compiled program is
traced (``--xla_cpu_enable_xprof_traceme``) and named by the HLO instruction it runs; the
optimized HLO, dumped beside the trace, says which op of the step each came from: a
matrix product, Adam's update, the backward or the forward pass, the noise's draws.
Without XLA the executor's threads record every TensorFlow op they run. An op's own
time is its span less the spans nested in it. Each instant of the epoch goes to the kind
running then, split when both threads ran one, so the rows add up to the wall time. The
profiler slows the epoch: both times are printed.

    python benchmarks/step_profile.py                       # params.yaml's 784-512-512-20
    python benchmarks/step_profile.py --hidden-layers 1     # the issue's 784-512-20
    python benchmarks/step_profile.py --set jit_compile=false   # oneDNN's kernels
"""

import collections
import math
import re
import tempfile
from pathlib import Path

import click

DATA = Path(__file__).resolve().parents[1] / "data" / "prepared"
TRAIN_EXAMPLES = 55_000
PRODUCTS = {"_MklMatMul", "_MklNativeFusedMatMul", "_MklFusedMatMul", "MatMul"}
EXECUTOR = "ExecutorState::Process"
XLA_RUNTIME = {"ThunkExecutor::Execute", "SlinkyThreadPool::Await"}
PRODUCTS_KIND = "matrix products"
# What an XLA instruction's op_name says of the op it came from, first match wins.
XLA_KINDS = (
    ("/adam/", "Adam's update (XLA fusions)"),
    ("gradient_tape/", "backward pass, elementwise (XLA fusions)"),
    ("/sampling", "the noise's draws (XLA fusions)"),
    ("", "forward pass and loss, elementwise (XLA fusions)"),
)
HLO_INSTRUCTION = re.compile(r'^\s*(?:ROOT )?%(\S+) = \S+ ([a-z-]+)\(.*op_name="([^"]*)"')


@click.command()
@click.option("--size", default="20x512x128", help="latent x hidden x batch.")
@click.option("--hidden-layers", type=click.IntRange(min=1), default=2, help="Per MLP.")
@click.option("--epochs", type=click.IntRange(min=3), default=4, help="Epochs; the 2nd is traced.")
@click.option("--set", "overrides", default="", help="TrainConfig fields: a=1,b=x.")
@click.option("--rows", type=click.IntRange(min=1), default=12, help="Op kinds listed apart.")
def main(size, hidden_layers, epochs, overrides, rows):
    from matmul_limit import step_flops
    from train_speed import measure

    from mnist_vae.runtime import machine

    latent, hidden, batch = (int(value) for value in size.split("x"))
    steps = math.ceil(TRAIN_EXAMPLES / batch)
    with tempfile.TemporaryDirectory() as folder:
        hlo = Path(folder) / "hlo"
        xla = {"XLA_FLAGS": f"--xla_cpu_enable_xprof_traceme=true --xla_dump_to={hlo}"}
        result = measure(
            "project", size, hidden_layers, epochs, DATA, overrides, xla, Path(folder)
        )
        plane = _host_plane(Path(folder))
        xla_kinds = _xla_kinds(hlo)
    windows = _function_windows(plane)
    kinds = _wall_time(plane, windows, xla_kinds)
    traced_ms = sum(end - start for start, end, _ in windows) / 1e9
    plain_ms = 1000 * TRAIN_EXAMPLES / result["examples_per_second"]
    print(f"CPU: {machine.cpu_model()}; flags: {', '.join(machine.speed_flags())}")
    print(f"{size}, {hidden_layers} hidden layer(s) per MLP, {overrides or 'defaults'}")
    print(
        f"epoch: {plain_ms / steps:.3f} ms a step untraced (median epoch), "
        f"{traced_ms / steps:.3f} traced; {steps} steps, validation included"
    )
    print("| where | ms a step | share |")
    print("| --- | ---: | ---: |")
    listed = kinds.most_common(rows)
    rest = sum(kinds.values()) - sum(value for _, value in listed)
    for name, value in [*listed, ("other ops", rest)]:
        print(f"| {name} | {value / 1e9 / steps:.3f} | {value / sum(kinds.values()):.1%} |")
    flops = batch * step_flops(hidden, hidden_layers, latent)
    product_ms = kinds[PRODUCTS_KIND] / 1e9 / steps
    print(f"matrix products: {flops / product_ms / 1e6:.0f} GFLOP/s while they run (traced)")


def _xla_kinds(folder: Path) -> dict[str, str]:
    """The kind of each instruction of the training step's optimized XLA programs."""
    kinds = {}
    for path in folder.glob("*_batches_*after_optimizations.txt"):
        for line in path.read_text().splitlines():
            if match := HLO_INSTRUCTION.match(line):
                name, opcode, op_name = match.groups()
                kinds[name] = PRODUCTS_KIND if opcode == "dot" else _xla_kind(op_name)
    return kinds


def _xla_kind(op_name: str) -> str:
    return next(kind for marker, kind in XLA_KINDS if marker in op_name)


def _host_plane(folder: Path):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    (path,) = folder.glob("plugins/profile/*/*.xplane.pb")
    space.ParseFromString(path.read_bytes())
    return next(plane for plane in space.planes if plane.name == "/host:CPU")


def _spans(plane, line):
    """(start, end, name) of each event on ``line``, in picoseconds from one origin."""
    origin = line.timestamp_ns * 1000
    for event in line.events:
        start = origin + event.offset_ps
        yield start, start + event.duration_ps, plane.event_metadata[event.metadata_id].name


def _function_windows(plane) -> list[tuple[int, int, str]]:
    """When the traced epoch's training steps (one call, or two with a short last batch)
    and its validation pass ran, on Python's thread."""
    (python,) = (line for line in plane.lines if line.name == "python")
    return [span for span in _spans(plane, python) if span[2] in ("_batches", "_validation")]


def _wall_time(plane, windows, xla_kinds) -> collections.Counter:
    """Picoseconds of the traced epoch's wall time, by what the threads that run ops ran
    (TensorFlow's executor's, or XLA's): an instant when both ran something is split
    between the two; one when neither did is idle."""
    validation = next(start for start, _, name in windows if name == "_validation")
    changes = []
    threads = [line for line in plane.lines if line.name.startswith(("tf_Compute", "tf_numa"))]
    for thread, line in enumerate(threads):
        spans = sorted(_spans(plane, line), key=lambda span: (span[0], -span[1]))
        for start, end, kind in _segments(spans, validation, xla_kinds):
            if end > start:
                changes += [(start, thread, kind), (end, thread, None)]
    changes.sort(key=lambda change: (change[0], change[2] is not None))
    wall = collections.Counter()
    for start, end, _ in windows:
        running, last = {}, start
        for time, thread, kind in changes:
            if time > last and last < end:
                _share(wall, running, min(time, end) - last)
                last = time
            if kind is None:
                running.pop(thread, None)
            else:
                running[thread] = kind
        if last < end:
            _share(wall, running, end - last)
    return wall


def _share(wall, running, duration) -> None:
    kinds = list(running.values()) or ["idle: neither thread running an op"]
    for kind in kinds:
        wall[kind] += duration / len(kinds)


def _segments(spans, validation_start, xla_kinds):
    """Each span's own stretches of time (the parts no nested span covers), with its kind."""
    stack, cursor = [], None
    for start, end, name in spans:
        while stack and stack[-1][0] <= start:
            top_end, kind = stack.pop()
            yield cursor, top_end, kind
            cursor = top_end
        parent = stack[-1][1] if stack else None
        if parent:
            yield cursor, start, parent
        stack.append((end, _kind(name, parent, validation_start <= start, xla_kinds)))
        cursor = start
    while stack:
        top_end, kind = stack.pop()
        yield cursor, top_end, kind
        cursor = top_end


def _kind(name: str, parent: str | None, in_validation: bool, xla_kinds) -> str:
    if in_validation:
        return "validation pass (all its ops)"
    if name in xla_kinds:
        return xla_kinds[name]
    if name in XLA_RUNTIME:
        return "XLA's runtime, between thunks"
    if name == EXECUTOR:
        return "executor, between ops"
    if ":" in name and "::" not in name:
        op = name.rsplit(":", 1)[1]
        return PRODUCTS_KIND if op in PRODUCTS else op
    return parent or name


if __name__ == "__main__":
    main()
