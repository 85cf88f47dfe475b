"""The MNIST splits every stage shares: splitting, saving and loading the arrays, and turning
images into the model's inputs."""

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_vae.atomic import atomic_path
from mnist_vae.errors import PipelineError

SPLITS = ("train", "val", "test")
IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class Split:
    """Images as uint8 ``(n, 28, 28)`` and their digit labels as uint8 ``(n,)``."""

    images: np.ndarray
    labels: np.ndarray


def split(official: dict, train_size: int, val_size: int, test_size: int, seed: int) -> dict:
    """Draws disjoint train and validation sets from the official training set.

    The draw is a seeded permutation, so one seed always gives the same split. The test set
    is the official one, cut to its first ``test_size`` images.
    """
    available = len(official["train"].labels)
    if train_size + val_size > available:
        raise PipelineError(
            f"train_size + val_size = {train_size + val_size}, expected at most {available}"
        )
    if test_size > len(official["test"].labels):
        raise PipelineError(
            f"test_size = {test_size}, expected at most {len(official['test'].labels)}"
        )
    order = np.random.default_rng(seed).permutation(available)
    picks = {"val": order[:val_size], "train": order[val_size : val_size + train_size]}
    out = {name: _take(official["train"], rows) for name, rows in picks.items()}
    out["test"] = _take(official["test"], np.arange(test_size))
    return {name: out[name] for name in SPLITS}


def class_counts(splits: dict):
    """A table of how many images of each digit every split holds (digits as rows)."""
    import pandas as pd

    counts = {name: np.bincount(s.labels, minlength=10) for name, s in splits.items()}
    return pd.DataFrame(counts, index=pd.RangeIndex(10, name="digit"))


def save(split_: Split, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, images=split_.images, labels=split_.labels)


def load(path: str | os.PathLike) -> Split:
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file; run the prepare stage first")
    if not zipfile.is_zipfile(path):
        raise PipelineError(f"{path}: not an npz archive (damaged or truncated); rerun prepare")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return Split(arrays["images"], arrays["labels"])
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise PipelineError(
            f"{path}: not an npz of images and labels ({error}); rerun prepare"
        ) from None


def as_inputs(images: np.ndarray, binarize: str = "none", seed: int = 0) -> np.ndarray:
    """Flattens uint8 images into the model's float32 inputs in [0, 1].

    With ``binarize`` other than ``none``, each pixel becomes 1 with probability equal to
    its gray level, drawn once with ``seed``: the fixed binarization of a static data set,
    or of a held-out set under dynamic binarization.
    """
    x = (images.reshape(len(images), -1) / np.float32(255)).astype(np.float32)
    return x if binarize == "none" else sample_pixels(x, np.random.default_rng(seed))


def validation_inputs(val: Split, binarize: str, seed: int) -> np.ndarray:
    """The validation images as the model sees them while training: binarized once, with
    a seed of their own (the training seed + 1), when the model binarizes."""
    return as_inputs(val.images, binarize, seed + 1)


def loop_inputs(train: Split, val: Split, binarize: str, labels: bool, seed: int) -> tuple:
    """What a compiled epoch loop puts on the device: the training images as stored (gray
    under dynamic binarization, which each batch draws anew), their digits, the
    validation images as the model sees them and theirs; the digits are None unless
    ``labels``."""
    stored = "none" if binarize == "dynamic" else binarize

    def digits(split: Split) -> np.ndarray | None:
        return split.labels.astype(np.int32) if labels else None

    return (
        as_inputs(train.images, stored, seed),
        digits(train),
        validation_inputs(val, binarize, seed),
        digits(val),
    )


def sample_pixels(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Binary images whose pixels are 1 with probability ``x``."""
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def _take(split_: Split, rows: np.ndarray) -> Split:
    return Split(split_.images[rows], split_.labels[rows])
