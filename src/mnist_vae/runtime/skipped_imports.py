"""Keeps Keras and TensorFlow from importing two packages they only might use.

Keras imports scikit-learn for its scikit-learn wrappers, and JAX for its Orbax
checkpoints; TensorFlow imports JAX for ``tf.lite``'s JAX converter. They do wherever
those packages are installed: MLflow brings the one, the JAX backend the other. No
stage uses either, and on a 2-core AMD EPYC Zen 3 they add about 2.2 s to every stage's
start (``python -X importtime -c "import keras"``). Each of those import sites carries
on without the package when its import fails, so this finder fails those imports, from
those modules only; every other importer, ours or MLflow's, gets the real package. Under
the JAX backend, Keras has imported JAX before any of these run, so nothing is skipped.
"""

import sys
from importlib.abc import MetaPathFinder

# The importing module's name prefix, and the top-level package it is not given.
SKIPPED = (
    ("keras.src.wrappers", "sklearn"),
    ("keras.src.callbacks.orbax_checkpoint", "jax"),
    ("tensorflow.lite.python.util", "jax"),
)
_PACKAGES = frozenset(skipped for _, skipped in SKIPPED)


class _Skip(MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        package = fullname.partition(".")[0]
        if package not in _PACKAGES:  # every import passes here: nothing more for most
            return None
        importer = _importer()
        if any(importer.startswith(prefix) and package == skipped for prefix, skipped in SKIPPED):
            raise ModuleNotFoundError(f"{package} is not imported for {importer}", name=fullname)
        return None


def _importer() -> str:
    """The name of the module whose code runs the import statement: the first frame
    outside the import machinery."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


def install() -> None:
    if not any(isinstance(finder, _Skip) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Skip())
