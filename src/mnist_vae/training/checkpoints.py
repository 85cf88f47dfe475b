"""A training run's state every ``checkpoint_every`` epochs, so that Ctrl-C or a killed
process costs at most that many epochs of an hour-long run.

The state is everything the epochs to come depend on: the model's variables (the
sampling layer's seed state among them), the optimizer's (the moments, and the step
count) and the history so far. The MLflow run it logged into is found by the fingerprint
it was tagged with (``runs.CHECKPOINT``), so that the file's bytes are the same on every
rerun. Epoch e's shuffle and binarization are drawn from the seed and e alone
(``epoch_draws``), and the learning rate is a function of e, so no other state exists: on
the same machine, under either backend's epoch loop, a resumed run ends with the very
weights of an uninterrupted one; under Keras's ``fit`` too, when the binarization is
dynamic. (Otherwise ``fit`` shuffles from a global generator that is not saved; there a
resumed run is a different, equally valid draw.)

The file lives beside the model, and a copy in the run's artifacts (``kept`` by the
caller), so that a rerun elsewhere (another node, a fresh clone) finds it in the store.
A checkpoint is used only by a run with the params and data it was written under,
``epochs`` and ``checkpoint_every`` aside: a longer run of the same settings goes on
from it, since no epoch depends on how many follow.
"""

import dataclasses
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from mnist_vae.atomic import atomic_path
from mnist_vae.config import ModelConfig, TrainConfig
from mnist_vae.training import schedules

_FREE = ("epochs", "checkpoint_every")  # settings a run may change and still go on


@dataclasses.dataclass
class State:
    """Where a run stands after ``epoch`` epochs."""

    epoch: int = 0
    history: list[dict] = dataclasses.field(default_factory=list)


def fingerprint(model_config: ModelConfig, train_config: TrainConfig, *data: str) -> str:
    """What a checkpoint must match to be resumed from: the settings, then the data files,
    each as a digest, so that a refusal can say which of the two differs."""
    settings = {**dataclasses.asdict(model_config), **dataclasses.asdict(train_config)}
    for name in _FREE:
        settings.pop(name)
    files = hashlib.sha256()
    for path in data:
        files.update(hashlib.md5(Path(path).read_bytes()).digest())
    chosen = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    return f"{chosen.hexdigest()}:{files.hexdigest()}"


def resume(path: str | os.PathLike, vae, key: str, epochs: int) -> tuple[State, str | None]:
    """Restores ``vae`` (and its optimizer) from the checkpoint at ``path`` when it was
    written under ``key`` and stopped before ``epochs``; otherwise a fresh state.

    Returns:
        The state, and a line for the user: where the run goes on from, or why the
        checkpoint cannot be used. None where there is no checkpoint.
    """
    if not Path(path).exists():
        return State(), None
    try:
        with np.load(path) as archive:
            meta = json.loads(str(archive["meta"]))
            arrays = [archive[f"v{i}"] for i in range(meta["variables"])]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        return State(), f"{path} is unreadable ({type(error).__name__}: {error}); {_AFRESH}"
    refused = _refusal(meta, key, epochs)
    variables = _variables(vae)
    if refused is None and len(variables) != len(arrays):
        refused = f"holds {len(arrays)} variables where the model has {len(variables)}"
    if refused:
        return State(), f"{path} {refused}; {_AFRESH}"
    for variable, value in zip(variables, arrays, strict=True):
        variable.assign(value)
    return State(meta["epoch"], meta["history"]), f"resumed from epoch {meta['epoch']} of {path}"


_AFRESH = "training from epoch 1"


def _refusal(meta: dict, key: str, epochs: int) -> str | None:
    settings, _, data = str(meta.get("fingerprint", "")).partition(":")
    wanted_settings, _, wanted_data = key.partition(":")
    if settings != wanted_settings:
        return "was written under other params"
    if data != wanted_data:
        return "was written for other data"
    if meta["epoch"] >= epochs:
        return f"is of a finished run ({meta['epoch']} epochs, {epochs} asked for)"
    return None


class Writer:
    """An epoch hook writing ``state`` and the variables every
    ``train_config.checkpoint_every`` epochs and after the last one, atomically, so that an
    interruption leaves the previous checkpoint whole, then calling ``kept(path, epoch)``
    (which keeps a copy elsewhere). ``state.history`` is the list the history file is
    written from."""

    def __init__(self, path, vae, key: str, train_config: TrainConfig, state: State, kept):
        self.path, self.vae, self.key, self.state, self.kept = path, vae, key, state, kept
        self.every, self.epochs = train_config.checkpoint_every, train_config.epochs

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        if not schedules.due(epoch, self.every, self.epochs):
            return
        self.state.epoch = epoch
        variables = _variables(self.vae)
        meta = {**dataclasses.asdict(self.state), "fingerprint": self.key}
        meta["variables"] = len(variables)
        arrays = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
        with atomic_path(self.path) as tmp:
            np.savez(tmp, meta=json.dumps(meta), **arrays)
        self.kept(self.path, epoch)


def _variables(vae) -> list:
    """The model's variables and its optimizer's, built if need be, in a fixed order."""
    vae.optimizer.build(vae.trainable_variables)
    return [*vae.variables, *vae.optimizer.variables]
