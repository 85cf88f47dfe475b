"""Made ``data/pre-move-model.tar.gz``: a tiny VAE's ``.keras`` file and its MLflow model,
saved by the flat package of commit 659f8c4, before the package moved into subpackages.
``test_model.py`` checks that both still load and serve. Run against that commit's code:

    git worktree add /tmp/premove 659f8c4
    PYTHONPATH=/tmp/premove/src python tests/pre_move_model.py OUT
    tar -C OUT -czf tests/data/pre-move-model.tar.gz model vae.keras expected.npy
"""

import shutil
import sys
from pathlib import Path

import keras
import mlflow.pyfunc
import numpy as np

from mnist_vae import model, saving, serving
from mnist_vae.config import ModelConfig, from_params

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
config = from_params(ModelConfig, latent_dim=2, hidden_size=8, hidden_layers=1, activation="relu")
keras.utils.set_random_seed(0)
vae = model.build_vae(config, seed=0)
vae(np.zeros((1, 784), np.float32))
saving.save(vae, out / "vae.keras")
package = Path(model.__file__).parent
code = out / "code-src" / "mnist_vae"
shutil.copytree(package, code, ignore=shutil.ignore_patterns("__pycache__"))
mlflow.pyfunc.save_model(
    out / "model",
    python_model=str(package / "served_model.py"),
    artifacts={"vae": str(out / "vae.keras")},
    code_paths=[str(code)],
    signature=serving.signature(config.latent_dim, config.conditional),
    input_example=serving.example(config.latent_dim, config.conditional),
    pip_requirements=["keras"],
)
shutil.rmtree(out / "code-src")
z = np.array([[0.5, -1.0]], np.float32)
np.save(out / "expected.npy", mlflow.pyfunc.load_model(str(out / "model")).predict({"z": z}))
