"""The file MLflow runs to build the registered model when it loads it ("models from
code"), so no pickled object travels with the model."""

from mlflow.models import set_model

from mnist_vae.serving import Generator

set_model(Generator())
