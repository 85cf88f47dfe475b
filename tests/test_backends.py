"""The model and the training code on Keras's JAX backend, where JAX is installed.

TensorFlow is the project's backend and the one CI installs; this check runs on machines
that also have JAX (such as a GPU host without TensorFlow).
"""

import importlib.util
import os
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_trains_and_samples_under_the_jax_backend(mnist_dir):
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT / "src")}

    result = subprocess.run(
        [sys.executable, ROOT / "tests" / "jax_backend.py", str(mnist_dir)],
        capture_output=True,
        text=True,
        env=env,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("jax:") == 3
