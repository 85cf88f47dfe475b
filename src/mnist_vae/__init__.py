"""A Keras 3 variational autoencoder on MNIST, as the library behind the DVC stages.

Importing the package is cheap on purpose: TensorFlow, MLflow and matplotlib load only
inside the modules that need them, so that every stage's ``--help`` answers at once. It
sets what must be set before TensorFlow loads: the imports it skips, where XLA keeps
what it compiled, TensorFlow's C++ log level and the lines it prints before reading it,
and MLflow's progress bars.
"""

import os

from mnist_vae.runtime import compile_cache, quiet_start, skipped_imports

skipped_imports.install()
compile_cache.configure()
# TensorFlow's C++ log is INFO lines, and ERROR lines for what is no error here: the CUDA
# probe on a machine without a GPU, and each program loaded from the compile cache (which
# TensorFlow first tries to parse as text). A real failure raises in Python all the same.
# TF_CPP_MIN_LOG_LEVEL=0 brings the log back, with the lines of TensorFlow's start.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
quiet_start.install()
# A bar redrawn with carriage returns is clutter in a log file (dvc queue logs, CI, Slurm);
# MLflow draws one for every artifact it reads back. MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR
# set to true brings it back.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
