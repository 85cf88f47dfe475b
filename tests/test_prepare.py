"""The prepare command, on the real MNIST files, through click's CliRunner."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import ROOT
from test_download import mirrors  # noqa: F401  (the fixture)

from mnist_vae.mnist import data, download
from stages.prepare import prepare

# Digits 0-9 in the official training set.
OFFICIAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def _run(tmp_path, *sources, sizes=("55000", "5000", "10000"), env=None):
    args = [f"--source={source}" for source in sources]
    train, val, test = sizes
    args += ["--train-size", train, "--val-size", val, "--test-size", test, "--seed", "0"]
    args += ["--out-dir", str(tmp_path / "out"), "--class-counts", str(tmp_path / "counts.csv")]
    return CliRunner().invoke(prepare, args, env=env)


def test_downloads_past_bad_mirrors_and_splits(tmp_path, mnist_dir, mirrors):  # noqa: F811
    url, _ = mirrors(mnist_dir)

    result = _run(tmp_path, url("missing"), url("wrong"), url("good"))

    assert result.exit_code == 0, result.output
    splits = {name: data.load(tmp_path / "out" / f"{name}.npz") for name in data.SPLITS}
    assert [len(s.labels) for s in splits.values()] == [55000, 5000, 10000]
    official = np.concatenate([splits["train"].images, splits["val"].images]) / 255
    assert official.mean() == pytest.approx(0.1306604762738429, abs=1e-12)
    assert official.std() == pytest.approx(0.3081078038564622, abs=1e-12)
    assert splits["test"].labels[0] == 7
    counts = pd.read_csv(tmp_path / "counts.csv", index_col="digit")
    assert list(counts.columns) == ["train", "val", "test"]
    assert (counts["train"] + counts["val"]).tolist() == OFFICIAL_TRAIN_COUNTS
    saved = json.loads((tmp_path / "out" / "params.json").read_text())
    assert saved == {"train_size": 55000, "val_size": 5000, "test_size": 10000, "seed": 0}


def test_split_depends_only_on_the_seed(tmp_path, mnist_dir):
    sizes = ("300", "100", "50")
    assert _run(tmp_path / "a", mnist_dir, sizes=sizes).exit_code == 0
    assert _run(tmp_path / "b", env={"MNIST_MIRROR": str(mnist_dir)}, sizes=sizes).exit_code == 0

    for name in data.SPLITS:
        a, b = (data.load(tmp_path / run / "out" / f"{name}.npz") for run in "ab")
        assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    train, val = (data.load(tmp_path / "a" / "out" / f"{n}.npz") for n in ("train", "val"))
    assert not {im.tobytes() for im in train.images} & {im.tobytes() for im in val.images}


def test_corrupt_file_fails_on_one_line_and_writes_nothing(tmp_path, mnist_dir):
    source = tmp_path / "mirror"
    shutil.copytree(mnist_dir, source)
    damaged = source / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10])

    result = _run(tmp_path, source)

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {damaged}: sha256 is ")
    assert lines[0].endswith(", expected " + download.SHA256[damaged.name])
    assert not (tmp_path / "out").exists() and not (tmp_path / "counts.csv").exists()


def test_split_larger_than_the_data_is_refused(tmp_path, mnist_dir):
    result = _run(tmp_path, mnist_dir, sizes=("58000", "5000", "10000"))

    assert result.exit_code == 1
    assert result.output == "Error: train_size + val_size = 63000, expected at most 60000\n"
    assert not (tmp_path / "out").exists()


def test_a_mirror_s_password_is_never_printed(tmp_path):
    """The failing URL is named, with its password hidden: the line ends up in CI logs."""
    result = CliRunner().invoke(
        prepare,
        ["--params", str(ROOT / "params.yaml"), "--source", "http://bob:pw0rd@127.0.0.1:9/mnist"]
        + ["--out-dir", str(tmp_path / "data"), "--class-counts", str(tmp_path / "c.csv")],
    )

    assert result.exit_code == 1
    assert "pw0rd" not in result.output
    assert result.output.startswith("Error: http://bob:***@127.0.0.1:9/mnist/")
    assert not (tmp_path / "data").exists()
