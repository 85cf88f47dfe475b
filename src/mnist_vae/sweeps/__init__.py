"""``mnist-vae sweep``: a grid of DVC experiments (``grid``, DVC's own ``-S`` syntax) sent
to Slurm as one job array or to DVC's local queue (``submit``, ``slurm``), each point run
in its own clone by a task (``task``), and brought back together (``collect``).

May import: DVC's library, MLflow, ``mnist_vae.tracking`` (the store the points log to),
``mnist_vae.dvc_command`` and the other top modules. Never the backend or click.
"""
