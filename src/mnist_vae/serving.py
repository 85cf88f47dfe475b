"""The registered model: an MLflow pyfunc that turns latent vectors into images.

``mlflow models serve`` and ``mlflow.pyfunc.load_model`` both call :meth:`Generator.predict`;
the VAE itself, for encoding and decoding, is ``load_model(uri).unwrap_python_model().vae``.
The ``.keras`` file travels as the model's artifact and this package as its code, so the
model loads wherever keras and its backend are installed, without this repository.
"""

import mlflow.pyfunc
import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import Schema, TensorSpec

MAX_ROWS = 1000
"""Rows one request may ask for: 1000 images are about 16 MB of JSON in the answer."""


class Generator(mlflow.pyfunc.PythonModel):
    # The signature, given when the model is logged, is what MLflow checks requests
    # against; without this, MLflow would ask in a coloured warning, on every stage that
    # logs the model, for type hints to infer one from.
    _skip_type_hint_validation = True

    def load_context(self, context):
        from mnist_vae.vae import model_file

        self.vae = model_file.load(context.artifacts["vae"])

    def predict(self, context, model_input, params=None):
        """Decoder means for ``{"z": (n, latent_dim)}``, plus ``"digit": (n,)`` labels for
        the conditional model, as ``(n, 28, 28)`` images in [0, 1]."""
        from mnist_vae.vae import decoding

        z, digits = validated(model_input)
        return decoding.decode_means(self.vae, z, digits)


def validated(model_input: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """The request's latent vectors and digits, refused with a 400 naming the field when
    a vector is not finite, a digit is outside 0-9, the digits are not one per vector,
    or there are over ``MAX_ROWS`` rows: a NaN vector decodes to a NaN image, a digit of
    -1 indexes from the end, and a short digit column fails deep in the decoder with a
    stack trace. (Over HTTP, MLflow parses the JSON into the signature's int64 before
    this sees it, which truncates 3.7 to 3; in Python, its schema refuses floats.)"""
    z, digits = np.asarray(model_input["z"]), model_input.get("digit")
    if len(z) > MAX_ROWS:
        raise _invalid(f"z: {len(z)} rows, expected at most {MAX_ROWS} per request")
    bad = np.flatnonzero(~np.isfinite(z).all(axis=1))
    if bad.size:
        raise _invalid(f"z: row {bad[0]} is not finite ({z[bad[0]].tolist()})")
    if digits is not None:
        digits = np.asarray(digits)
        if digits.shape != (len(z),):
            raise _invalid(f"digit: {len(digits)} rows, expected one per row of z ({len(z)})")
        bad = np.flatnonzero((digits < 0) | (digits > 9))
        if bad.size:
            raise _invalid(f"digit: row {bad[0]} is {digits[bad[0]]}, expected 0 to 9")
    return z, digits


def _invalid(message: str) -> MlflowException:
    return MlflowException.invalid_parameter_value(message)


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
