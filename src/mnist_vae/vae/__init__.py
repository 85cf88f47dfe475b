"""The model: the VAE and its sampling layer (``model``), its bounds and their terms
(``losses``), what the decoder draws (``decoding``), and its one file kind, saved and
loaded (``model_file``).

May import: Keras and numpy, ``mnist_vae.config``, ``mnist_vae.errors`` and
``mnist_vae.atomic``. Never MLflow or click.
"""
