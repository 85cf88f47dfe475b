"""Scoring a trained model: the test metrics and their per-image and per-digit tables
(``evaluation``), what makes two scores comparable (``comparable``), and the figures the
stages draw (``figures``, ``plotting``).

May import: ``mnist_vae.vae``, ``mnist_vae.mnist``, ``mnist_vae.runtime``, the top
modules, numpy, pandas, Keras and matplotlib. Never MLflow or click.
"""
