"""A Keras 3 variational autoencoder on MNIST, as the library behind the DVC stages.

Importing the package is cheap on purpose: TensorFlow, MLflow and matplotlib load only
inside the modules that need them, so that every stage's ``--help`` answers at once.
"""
