"""The MNIST files: the official IDX files read and checked (``official``, ``idx``),
fetched from mirrors or a local folder (``download``), and split and stored as the
pipeline's arrays (``data``).

May import: numpy and the standard library, ``mnist_vae.errors`` and ``mnist_vae.atomic``.
Never the backend, MLflow or click.
"""
