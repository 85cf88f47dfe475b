"""How a stage process starts, what it runs on, and what it tells the user while it runs:
the imports it skips and the start-up lines it silences, XLA's compile cache, the watch
on the ``dvc`` that started it, the host's facts (``machine``) and what the backend is
told from them (``execution``), and the progress lines of long loops.

May import: the standard library, the numeric libraries and the backend, and
``mnist_vae.errors``. Never MLflow, click or another subpackage.
"""
