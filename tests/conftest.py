"""Shared fixtures: an MLflow store per test, tiny MNIST-shaped files, and the real files."""

import contextlib
import gzip
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ["pytester", "duration_budget"]


# The modules that took longest on a 2-core AMD EPYC Zen 3, longest first (--durations).
LONGEST = (
    "test_team.py",
    "test_pipeline.py",
    "test_resume.py",
    "test_failures.py",
    "test_queue.py",
    "test_training_paths.py",
)


def pytest_configure(config):
    """One folder of XLA's compiled programs for the run, and one empty MLflow store,
    which its xdist workers find through the environment: each program costs its compile
    once per run, as on a fresh machine, and nothing of the user's own cache is read or
    written."""
    if not hasattr(config, "workerinput"):
        config.xla_cache = tempfile.mkdtemp(prefix="mnist-vae-xla-")
        os.environ["MNIST_VAE_XLA_CACHE"] = config.xla_cache
        config.empty_store = tempfile.mkdtemp(prefix="mnist-vae-store-")
        os.environ[EMPTY_STORE] = str(_empty_store(Path(config.empty_store)))
    # What the package sets before TensorFlow loads, set before any test module imports
    # Keras: importing JAX first would set TF_CPP_MIN_LOG_LEVEL=1 for every stage the
    # tests start, and the stages keep a level they inherit.
    import mnist_vae  # noqa: F401


def pytest_report_header(config):
    """The CPU a run's times come from: they mean nothing without it (issue 28)."""
    from mnist_vae.runtime import machine

    info = machine.cpu_info()
    kind = f"family {info.get('cpu family', '?')} model {info.get('model', '?')}"
    return f"cpu: {machine.cpu_model()}, {kind}: {' '.join(machine.speed_flags()) or 'no avx2'}"


def pytest_unconfigure(config):
    for folder in ("xla_cache", "empty_store"):
        if hasattr(config, folder):
            shutil.rmtree(getattr(config, folder), ignore_errors=True)


# Where the run's empty MLflow store is, for its xdist workers.
EMPTY_STORE = "MNIST_VAE_EMPTY_STORE"


def _copy_of_empty_store(folder: Path) -> Path:
    """``folder``'s ``mlflow.db``, a copy of the run's empty store (``_empty_store``)."""
    return Path(shutil.copyfile(os.environ[EMPTY_STORE], folder / "mlflow.db"))


def _empty_store(folder: Path) -> Path:
    """An MLflow store with its tables and nothing in them, made once per run by MLflow
    itself, as a stage makes one (``store.created``), in a process that then ends, so
    that the file is whole. Making one takes MLflow's schema migrations, about 2 s; each
    test starts from a copy instead. The pipeline and queue tests, and ``test_store``,
    still have their stages make theirs."""
    path = folder / "mlflow.db"
    make = (
        "import sys; from mlflow.tracking import MlflowClient; "
        "from mnist_vae.tracking import store; "
        "uri = 'sqlite:///' + sys.argv[1]\n"
        "with store.created(uri): MlflowClient(uri).search_experiments()"
    )
    subprocess.run([sys.executable, "-c", make, str(path)], check=True, capture_output=True)
    return path


def pytest_collection_modifyitems(items):
    """The longest modules first, then the other slow ones: the two xdist workers
    (pyproject's addopts) take whole modules in this order, so each starts on a long one
    and both finish together, rather than one waiting out the last pipeline run while the
    other idles."""

    def rank(item) -> tuple[int, bool]:
        name = item.path.name
        return (
            LONGEST.index(name) if name in LONGEST else len(LONGEST),
            item.get_closest_marker("slow") is None,
        )

    items.sort(key=rank)


@pytest.fixture(autouse=True)
def mlflow_store(tmp_path, monkeypatch):
    """Points MLflow at a SQLite file of the test's own, with artifacts beside it: a copy
    of the run's empty store."""
    store = _copy_of_empty_store(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "true")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    return tmp_path / "mlflow.db"


@pytest.fixture(autouse=True)
def reaped():
    """Nothing a test started in the background outlives it (``reaping``)."""
    yield
    from reaping import reap

    reap()


def mnist_folder() -> Path:
    """The folder with the four official files: MNIST_MIRROR, else ../shared/mnist."""
    return Path(os.environ.get("MNIST_MIRROR", ROOT.parent / "shared" / "mnist")).resolve()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = mnist_folder()
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"{folder}: no MNIST files; set MNIST_MIRROR to a folder holding them")
    return folder


def idx_bytes(array: np.ndarray) -> bytes:
    """Gzipped IDX bytes of a uint8 array, laid out as the MNIST files are."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.tobytes())


@pytest.fixture
def tiny_mnist(tmp_path) -> tuple[Path, dict[str, str]]:
    """Four MNIST-shaped files of 40 training and 20 test images, with their SHA-256 sums."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "tiny_mnist"
    folder.mkdir()
    sizes = {"train": 40, "t10k": 20}
    checksums = {}
    for prefix, n in sizes.items():
        arrays = {
            f"{prefix}-images-idx3-ubyte.gz": rng.integers(0, 256, (n, 28, 28)),
            f"{prefix}-labels-idx1-ubyte.gz": np.arange(n) % 10,
        }
        for name, array in arrays.items():
            data = idx_bytes(array)
            (folder / name).write_bytes(data)
            checksums[name] = hashlib.sha256(data).hexdigest()
    return folder, checksums


@pytest.fixture(scope="session")
def mnist_files(mnist_dir):
    """The official files of real MNIST, read once per test process."""
    from mnist_vae.mnist import official

    return official.read_official([str(mnist_dir)])


@pytest.fixture(scope="session")
def mnist_splits(mnist_files):
    """3000 training, 500 validation and 500 test images of real MNIST."""
    from mnist_vae.mnist import data

    return data.split(mnist_files, train_size=3000, val_size=500, test_size=500, seed=0)


def _prepare(root: Path, mnist_dir: Path) -> Path:
    from click.testing import CliRunner

    from stages.prepare import prepare

    result = CliRunner().invoke(
        prepare,
        ["--source", str(mnist_dir), "--train-size", "200", "--val-size", "50"]
        + ["--test-size", "50", "--seed", "0", "--out-dir", str(root / "data")]
        + ["--class-counts", str(root / "counts.csv")],
    )
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def prepared(tmp_path, mnist_dir):
    """200 real training images, 50 for validation and 50 for test, in ``data/``."""
    return _prepare(tmp_path, mnist_dir)


@pytest.fixture(scope="session")
def trained_once(tmp_path_factory, mnist_dir):
    """``trained``'s folder, made once per test process: its own store, its artifacts
    beside it."""
    from click.testing import CliRunner

    from stages.train import train

    root = _prepare(tmp_path_factory.mktemp("trained"), mnist_dir)
    store = _copy_of_empty_store(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
        patch.setenv("DVC_ROOT", str(root))
        result = CliRunner().invoke(train, train_args(root / "data", root))
    assert result.exit_code == 0, result.output
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the store whole in its one file
    return root


@pytest.fixture
def trained(trained_once, tmp_path, mlflow_store):
    """A small model trained on the prepared images for two epochs, with its run in the
    test's store: a copy of ``trained_once``, the paths its store holds moved with it."""
    shutil.copytree(trained_once, tmp_path, dirs_exist_ok=True)
    _move_store(mlflow_store, trained_once, tmp_path)
    return tmp_path


def _move_store(store: Path, old: Path, new: Path) -> None:
    """Points every path that the store holds under ``old`` (artifact locations, model
    sources) under ``new``, whatever column of MLflow's schema holds it."""
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        listed = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for table in [row[0] for row in listed]:
            for _, column, kind, *_ in db.execute(f"PRAGMA table_info('{table}')").fetchall():
                if any(text in kind.upper() for text in ("CHAR", "TEXT")):
                    db.execute(
                        f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?)',
                        (str(old), str(new)),
                    )


def train_args(data: Path, out: Path, **changes) -> list[str]:
    """Arguments for the train command: params.yaml's train section, as ``dvc.yaml`` passes
    it, but a small, quick model; inputs in ``data``, outputs in ``out``. A param added to
    the config needs nothing here."""
    values = {
        "--params": ROOT / "params.yaml",
        "--latent-dim": "3",
        "--hidden-size": "16",
        "--hidden-layers": "2",
        "--activation": "elu",
        "--learning-rate": "0.01",
        "--batch-size": "50",
        "--epochs": "2",
        "--checkpoint-every": "100",
        "--deterministic": "false",
        "--train-data": data / "train.npz",
        "--val-data": data / "val.npz",
        "--prepare-params": data / "params.json",
        "--model": out / "models" / "vae.keras",
        "--run-file": out / "models" / "run.json",
        "--history": out / "metrics" / "history.csv",
        "--metrics": out / "metrics" / "train.json",
        "--curves": out / "plots" / "loss_curves.png",
        "--checkpoint": out / "models" / "checkpoint.npz",
    }
    return [str(x) for option in {**values, **changes}.items() for x in option]
