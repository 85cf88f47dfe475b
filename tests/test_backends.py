"""The model and the training code on Keras's JAX backend.

TensorFlow is the project's backend; JAX, the GPU hosts' own, is in the lock for this
test, so it runs wherever the tests do rather than being skipped.
"""

import os
import subprocess
import sys

from conftest import ROOT


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
