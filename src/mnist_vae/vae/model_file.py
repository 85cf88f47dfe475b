"""The model file: one kind of artifact, byte for byte, whatever hardware trained it.

What is saved is a fresh float32 copy of the trained VAE, holding its weights and nothing
of its training (no optimizer state, no loss trackers, no compile settings). So the file has
the same content and dtypes whether training ran in float32 or under a mixed policy, and
scoring, sampling and serving never depend on the precision the training hardware favoured.
If resuming training ever needs the optimizer's state, that belongs in a checkpoint of its
own, not in this file.

Keras stamps every save with the time (``date_saved`` in ``metadata.json``, the zip
entries' times) and names the objects layers share by their ``id()``, a memory address that
changes with every process. The same weights saved twice would get two md5s, so DVC would
rerun the stages after train for nothing and ``dvc.lock`` would change on every rerun. The
archive is rewritten without the times, the shared objects numbered in order of appearance.
"""

import json
import os
import zipfile
from pathlib import Path

import keras
import numpy as np

from mnist_vae.atomic import atomic_path
from mnist_vae.errors import PipelineError
from mnist_vae.vae import model

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


def save(vae: model.VAE, path: str | os.PathLike) -> None:
    """Writes the float32 copy of ``vae`` to ``path``, atomically and byte-stably."""
    with atomic_path(path) as tmp:
        float32_copy(vae).save(tmp)
        _stabilised(tmp)


def float32_copy(vae: model.VAE) -> model.VAE:
    """A VAE computing in float32 with the weights of ``vae`` and nothing of its training."""
    with model.dtype_policy("float32"):
        copy = model.build_vae(vae.model_config, seed=vae.seed)
    copy(np.zeros((1, model.PIXELS), "float32"))  # builds it, as training built ``vae``
    copy.set_weights(vae.get_weights())
    return copy


def _stabilised(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, content in entries:
            if info.filename == "metadata.json":
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata).encode()
            elif info.filename == "config.json":
                content = json.dumps(_numbered(json.loads(content), {})).encode()
            stamped = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            archive.writestr(stamped, content, compress_type=info.compress_type)


def _numbered(config, numbers: dict[int, int]):
    """``config`` with each ``shared_object_id`` replaced by its order of first appearance;
    the ids only tell the loader which objects to share, so the model loads the same."""
    if isinstance(config, list):
        return [_numbered(item, numbers) for item in config]
    if not isinstance(config, dict):
        return config
    out = {key: _numbered(value, numbers) for key, value in config.items()}
    if "shared_object_id" in out:
        out["shared_object_id"] = numbers.setdefault(out["shared_object_id"], len(numbers))
    return out


def load(path) -> model.VAE:
    """Loads a saved VAE; importing ``model`` has registered its classes.

    Raises:
        PipelineError: the file is not a whole ``.keras`` archive of a VAE (Keras itself
            calls a truncated one "File not found").
    """
    if not zipfile.is_zipfile(path):
        raise PipelineError(f"{path}: not a .keras zip archive (damaged or truncated); retrain")
    try:
        vae = keras.saving.load_model(path)
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as error:
        raise PipelineError(f"{path}: not a loadable Keras model ({error}); retrain") from None
    if not isinstance(vae, model.VAE):
        raise PipelineError(f"{path}: a {type(vae).__name__}, expected a VAE")
    return vae
