"""Resuming: a train stage interrupted after a checkpoint, then rerun, ends as if never
interrupted, byte for byte, on either backend's epoch loop and under Keras's fit; also
where the rerun finds the checkpoint only in the MLflow store, as on another machine.
(Apart from ``test_failures.py`` so that the two share the suite's two workers.)"""

import signal

import pytest
from conftest import train_args
from stage_processes import stage_process, store_client, store_runs, wait_for

# The signal must land between the first checkpoint and the last epoch; the test looks
# for the checkpoint every 10 ms. On 200 images an epoch takes 0.1-0.2 s (2-core AMD EPYC,
# family 23 model 1: Keras's fit ran 100 epochs in 14 s more than 2), so the 35 epochs
# after it leave seconds. With 25 and a look every 0.2 s, a fit run here ended before its
# signal once in about eight runs of the module; that cause is not proven.
EPOCHS = 40


@pytest.mark.parametrize(
    ("backend", "loop", "kept"),
    [
        ("tensorflow", "epoch", "store"),
        ("jax", "epoch", "workspace"),
        ("tensorflow", "fit", "workspace"),
    ],
)
def test_a_rerun_resumes_an_interrupted_run_and_ends_as_an_uninterrupted_one(
    prepared, mlflow_store, tmp_path, backend, loop, kept
):
    """The checkpoint holds the weights, Adam's moments and step count, the sampling
        layer's seed state, the history and the run; each epoch's shuffle and binarization
        are seeded by the epoch. So the resumed run's model is byte for byte the uninterrupted
        run's, on either backend's epoch loop, and under Keras's fit with dynamic binarization
        (where the images are shuffled by the project, not by Keras). A rerun whose workspace
    lost the checkpoint (a Slurm task requeued on another node, a ``--temp`` experiment whose
    copy DVC discarded) fetches it from the run's artifacts."""
    changes = {"--epochs": str(EPOCHS), "--checkpoint-every": "5", "--schedule": "10:1e-2,5:1e-3"}
    changes |= {"--loop": loop, "--binarize": "dynamic"}
    checkpoint = prepared / "models" / "checkpoint.npz"
    process = stage_process("train", train_args(prepared / "data", prepared, **changes), backend)
    if kept == "store":
        wait_for(lambda: _in_store(mlflow_store), process, "checkpoint in the store", every=0.05)
    else:
        wait_for(checkpoint.is_file, process, "checkpoint", every=0.01)
    history = prepared / "metrics" / "history.csv"
    logged = len(history.read_text().splitlines()) - 1 if history.is_file() else 0
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    # Interrupted, not finished; if it finished, how far it was when signalled.
    assert process.returncode == 130, f"{logged} epochs logged at SIGINT; {stderr[-2000:]}"
    assert stderr.splitlines()[-1] == "Error: interrupted by SIGINT"
    (killed,) = store_runs(mlflow_store)
    assert killed.info.status == "KILLED"
    assert killed.data.tags["failure_reason"] == "interrupted (SIGINT)"
    if kept == "store":
        checkpoint.unlink()

    said = []
    for root in (prepared, tmp_path / "whole"):
        finished = stage_process("train", train_args(prepared / "data", root, **changes), backend)
        _, stderr = finished.communicate(timeout=300)
        assert finished.returncode == 0, stderr
        said.append([line for line in stderr.splitlines() if "checkpoint" in line])
    for output in ("models/vae.keras", "metrics/history.csv", "metrics/train.json"):
        assert (prepared / output).read_bytes() == (tmp_path / "whole" / output).read_bytes()
    runs = {run.info.run_id: run for run in store_runs(mlflow_store)}
    assert len(runs) == 2
    run = runs[killed.info.run_id]
    assert run.info.status == "FINISHED"
    assert "failure_reason" not in run.data.tags
    assert 5 <= int(run.data.tags["resumed_after_epoch"]) < EPOCHS
    resumed_after = run.data.tags["resumed_after_epoch"]
    resumed = [f"resumed from epoch {resumed_after} of {checkpoint}"]
    if kept == "store":
        fetched = (
            f"fetched run {run.info.run_id}'s checkpoint of epoch {resumed_after} from the store"
        )
        resumed = [fetched, *resumed]
    assert said == [resumed, []]
    history = store_client(mlflow_store).get_metric_history(run.info.run_id, "val_loss_elbo")
    steps = {metric.step for metric in history}
    assert steps == set(range(1, EPOCHS + 1))


def _in_store(mlflow_store) -> bool:
    """Whether the run holds a copy of a checkpoint (the tag comes after the artifact)."""
    return any("checkpoint.epoch" in run.data.tags for run in store_runs(mlflow_store))
