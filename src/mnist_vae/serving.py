"""The registered model: an MLflow pyfunc that turns latent vectors into images.

``mlflow models serve`` and ``mlflow.pyfunc.load_model`` both call :meth:`Generator.predict`;
the VAE itself, for encoding and decoding, is ``load_model(uri).unwrap_python_model().vae``.
The ``.keras`` file travels as the model's artifact and this package as its code, so the
model loads wherever keras and its backend are installed, without this repository.
"""

import mlflow.pyfunc
import numpy as np
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec


class Generator(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from mnist_vae import model

        self.vae = model.load(context.artifacts["vae"])

    def predict(self, context, model_input, params=None):
        """Decoder means for ``{"z": (n, latent_dim)}``, plus ``"digit": (n,)`` labels for
        the conditional model, as ``(n, 28, 28)`` images in [0, 1]."""
        from mnist_vae import sampling

        return sampling.decode_means(self.vae, model_input["z"], model_input.get("digit"))


def signature(latent_dim: int, conditional: bool) -> ModelSignature:
    inputs = [TensorSpec(np.dtype(np.float32), (-1, latent_dim), "z")]
    if conditional:
        inputs.append(TensorSpec(np.dtype(np.int64), (-1,), "digit"))
    outputs = [TensorSpec(np.dtype(np.float32), (-1, 28, 28))]
    return ModelSignature(Schema(inputs), Schema(outputs))


def example(latent_dim: int, conditional: bool) -> dict[str, np.ndarray]:
    """Two requests' worth of input: the prior's mode, and digits 0 and 1 if conditional."""
    inputs = {"z": np.zeros((2, latent_dim), np.float32)}
    if conditional:
        inputs["digit"] = np.arange(2, dtype=np.int64)
    return inputs
