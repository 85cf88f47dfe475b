"""``mnist-vae review`` and ``mnist-vae seed-band``: each side of a review read from git
and DVC (``compare``), the seed band (``seed_band``), the verdicts that tell a change
from noise (``verdicts``), and the report and its charts (``report``, ``charts``).

May import: DVC's library, MLflow, pandas and matplotlib, ``mnist_vae.scoring``,
``mnist_vae.tracking``, ``mnist_vae.runtime``, ``mnist_vae.dvc_command`` and the other
top modules. Never the backend or click.
"""
