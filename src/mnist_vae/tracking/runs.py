"""MLflow: where the store is, and the one run that a pipeline execution logs into.

train opens the run and writes its id to a small file that DVC tracks; evaluate and
generate read that file and log into the same run. A run's status is its own stage's
truth: FINISHED, FAILED with a ``failure_reason`` tag, or KILLED by a signal.
"""

import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import mlflow
import mlflow.pyfunc
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mnist_vae import config
from mnist_vae.atomic import write_json
from mnist_vae.errors import PipelineError
from mnist_vae.tracking import mlflow_experiment, orphans, provenance, store
from mnist_vae.tracking.run_log import LOST, RunLog

_log = logging.getLogger(__name__)
# The tag naming the checkpoint a training run writes and may resume from, and the tag
# saying which epoch the copy in its artifacts (CHECKPOINT_FOLDER) stopped after.
CHECKPOINT = "checkpoint.fingerprint"
CHECKPOINT_EPOCH = "checkpoint.epoch"
CHECKPOINT_FOLDER = "checkpoint"


@contextlib.contextmanager
def start_run(params: dict, tags: dict[str, str], resumed=None) -> Iterator[RunLog]:
    """Opens the pipeline's run, tagged after the DVC experiment when there is one, in the
    store ``mlflow_experiment.configure`` opened.

    ``resumed`` (a ``checkpoint.State``) is where an earlier run stopped; that run is the
    latest one tagged with the checkpoint's fingerprint (``tags[CHECKPOINT]``). It goes
    on, tagged ``resumed_after_epoch``, when it is in the store with these very params;
    else (a longer run from a finished one, say) a new run names it in
    ``resumed_from_run``. The run id is looked up, not kept in the checkpoint: DVC tracks
    the checkpoint's bytes, which must not change from one rerun to the next.
    """
    dvc_tags = {
        "dvc.exp_name": os.environ.get("DVC_EXP_NAME"),
        "dvc.baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV"),
    }
    tags = {**tags, **{k: v for k, v in dvc_tags.items() if v}}
    start = {"run_name": provenance.run_name()}
    if resumed and resumed.epoch:
        tags["resumed_after_epoch"] = str(resumed.epoch)
        earlier = _checkpointed_run(tags[CHECKPOINT])
        if earlier is not None and not _conflicts(earlier.data.params, params):
            start = {"run_id": earlier.info.run_id}
            with contextlib.suppress(MlflowException):  # the interruption is over
                store.retrying(MlflowClient().delete_tag, earlier.info.run_id, orphans.REASON)
        elif earlier is not None:
            tags["resumed_from_run"] = earlier.info.run_id
    with _active(params, tags=tags, **start) as run:
        yield run


def _checkpointed_run(fingerprint: str):
    """The latest run of the experiment that trained under ``fingerprint``; None when this
    store has none (the checkpoint came from another machine's run, say)."""
    try:
        runs = store.retrying(
            mlflow.search_runs,
            filter_string=f"tags.`{CHECKPOINT}` = '{fingerprint}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
            output_format="list",
        )
    except LOST as error:
        raise store.unreachable(mlflow_experiment.tracking_uri(), error) from None
    return runs[0] if runs else None


def keep_checkpoint(run: RunLog, path: str | os.PathLike, epoch: int) -> None:
    """A copy of the checkpoint in the run's artifacts, where a rerun on any machine finds
    it by its fingerprint: a Slurm task requeued on another node, or a ``--temp``
    experiment whose copy DVC discarded when it was killed."""
    run.call("checkpoint", run.client.log_artifact, run.run_id, str(path), CHECKPOINT_FOLDER)
    run.call("checkpoint", run.client.set_tag, run.run_id, CHECKPOINT_EPOCH, str(epoch))


def fetch_checkpoint(fingerprint: str, path: str | os.PathLike, epochs: int) -> str | None:
    """Downloads to ``path`` the checkpoint of the latest run trained under ``fingerprint``,
    where it stopped before ``epochs``, from the store ``configure`` opened.

    Returns:
        A line for the user: what was fetched, or why nothing could be. None where the
        store keeps no such checkpoint.
    """
    import tempfile

    earlier = _checkpointed_run(fingerprint)
    epoch = int(earlier.data.tags.get(CHECKPOINT_EPOCH, 0)) if earlier else 0
    if not 0 < epoch < epochs:
        return None
    run_id, target = earlier.info.run_id, Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=target.parent) as folder:
            artifact = f"{CHECKPOINT_FOLDER}/{target.name}"
            got = store.retrying(MlflowClient().download_artifacts, run_id, artifact, folder)
            os.replace(got, target)
    except LOST as error:
        return f"run {run_id}'s checkpoint could not be fetched ({store.cause(error)})"
    return f"fetched run {run_id}'s checkpoint of epoch {epoch} from the store"


def _logged_params(run_id: str) -> dict | None:
    """The params the store holds for ``run_id``; None when the run is not in this store
    (the model came from a DVC remote, say)."""
    try:
        return store.retrying(MlflowClient().get_run, run_id).data.params
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise store.unreachable(mlflow_experiment.tracking_uri(), error) from None
    return None


def _conflicts(logged: dict, params: dict) -> bool:
    """Whether one of ``params`` is logged already with another value: MLflow params
    cannot change, so the stage then needs a run of its own."""
    return any(logged.get(key, str(value)) != str(value) for key, value in params.items())


@contextlib.contextmanager
def resume_run(run_file: str | os.PathLike, stage: str, params: dict) -> Iterator[RunLog]:
    """Logs a later stage into the run that trained the model, without touching its status.

    The stage's own outcome goes to the tags ``<stage>.status`` (RUNNING, then FINISHED,
    FAILED or KILLED) and ``<stage>.failure_reason``: an evaluation that fails or is interrupted
    never makes a good training run look failed. MLflow params cannot change, so when
    this stage reruns with params that differ from those the run holds (only generate's
    changed, say), it logs into a child run of its own, named after the stage. A run
    missing from this store (the model came from a DVC remote) gets a new run that names it.
    """
    experiment_id = mlflow_experiment.configure()
    run_id = read_run_file(run_file)
    client = MlflowClient()
    logged = _logged_params(run_id)
    if logged is None:
        _log.warning(
            "run %s is not in %s; logging %s into a new run",
            run_id,
            mlflow_experiment.tracking_uri(),
            stage,
        )
        with start_run(params, {"source_run_id": run_id}) as run:
            yield run
        return
    if _conflicts(logged, params):
        with _active(params, run_name=stage, parent_run_id=run_id) as run:
            yield run
        return
    run = RunLog(run_id, experiment_id, mlflow_experiment.tracking_uri())
    run.params(params)
    run.tags({f"{stage}.status": "RUNNING", **orphans.owner_tags(stage)})

    def end(status: str, reason: str | None) -> None:
        if reason:
            run.call("status", client.set_tag, run_id, f"{stage}.{orphans.REASON}", reason)
        run.call("status", client.set_tag, run_id, f"{stage}.status", status)

    with _outcome(run, end):
        yield run


@contextlib.contextmanager
def _active(params: dict, **start) -> Iterator[RunLog]:
    """``mlflow.start_run(**start)`` with its params, ended as FINISHED, FAILED (a
    ``failure_reason`` tag says why) or KILLED (a signal stopped it).

    Each write is retried while a parallel writer holds the store. The run is tagged
    with its process, so that a later stage can close it if the process dies first.
    """
    tags = {**start.pop("tags", {}), **orphans.owner_tags()}
    try:
        active = store.retrying(mlflow.start_run, tags=tags, **start)
    except LOST as error:
        raise store.unreachable(mlflow_experiment.tracking_uri(), error) from None
    run = RunLog(active.info.run_id, active.info.experiment_id, mlflow_experiment.tracking_uri())
    run.params(params)

    def end(status: str, reason: str | None) -> None:
        if reason:
            run.call("status", mlflow.set_tag, orphans.REASON, reason)
        try:
            store.retrying(mlflow.end_run, status)
        except LOST as error:
            _log.warning("run %s could not be ended as %s: %s", run.run_id, status, error)

    with _outcome(run, end):
        yield run


@contextlib.contextmanager
def _outcome(run: RunLog, end) -> Iterator[None]:
    """Calls ``end(status, reason)`` after the block: FINISHED; KILLED, with the signal,
    when one stopped it; FAILED, with the error, otherwise, and when the store was lost."""
    status, reason = "FAILED", None
    try:
        yield
        run.raise_if_lost()
        status = "FINISHED"
    except KeyboardInterrupt as error:
        status, reason = "KILLED", _reason(error)
        raise
    except Exception as error:
        reason = _reason(error)
        raise
    finally:
        end(status, reason)


def _reason(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return f"interrupted ({getattr(error, 'signal_name', 'SIGINT')})"
    return f"{type(error).__name__}: {error}"[:500]


def write_run_file(path: str | os.PathLike, run: RunLog) -> None:
    write_json(path, {"run_id": run.run_id, "experiment_id": run.experiment_id})


def read_run_file(path: str | os.PathLike) -> str:
    try:
        return json.loads(Path(path).read_text())["run_id"]
    except (OSError, ValueError, KeyError) as error:
        raise PipelineError(f"{path}: expected a JSON file with a run_id ({error})") from None


def params(section: str, *configs) -> dict:
    """The MLflow params of a stage, from its configs (or dicts): the one place they are
    built, so that every stage logs every field it runs with."""
    values = {}
    for given in configs:
        values.update(given if isinstance(given, dict) else dataclasses.asdict(given))
    return prefixed(section, values)


def prefixed(section: str, values: dict) -> dict:
    """Names and spells values as params.yaml and ``dvc exp show`` do (``train.latent_dim``,
    ``true``), so that the MLflow UI and DVC show the same params."""
    return {f"{section}.{key}": config.spell(value) for key, value in values.items()}
