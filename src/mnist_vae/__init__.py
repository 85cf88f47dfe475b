"""A Keras 3 variational autoencoder on MNIST, as the library behind the DVC stages.

Importing the package is cheap on purpose: TensorFlow, MLflow and matplotlib load only
inside the modules that need them, so that every stage's ``--help`` answers at once.
"""

import os

# TensorFlow's C++ INFO lines (oneDNN, CPU features, no CUDA driver) bury the training
# log; warnings and errors still show, and a user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
