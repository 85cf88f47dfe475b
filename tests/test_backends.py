"""The model and the training code on Keras's JAX backend, where JAX is installed.

TensorFlow is the project's backend; JAX, the GPU hosts' own, is in the lock for this
test, and the check also runs on a host with JAX alone.
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
    assert result.stdout.count("jax:") == 4
