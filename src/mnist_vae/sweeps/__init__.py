"""Sweeps that leave the machine: a DVC experiment grid run as a Slurm job array, each
point a ``dvc exp run`` in its own clone, meeting again in git, DVC and MLflow."""
