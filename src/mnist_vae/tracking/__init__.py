"""MLflow: the store and its experiment (``mlflow_experiment``, ``store``), the runs a
stage opens and closes (``runs``, ``run_log``, ``orphans``), what a run was made from
(``provenance``, ``lineage``), the model registry and serving (``registry``,
``model_server``), and the team's server and accounts.

May import: MLflow, DVC's library, ``mnist_vae.mnist`` (the splits it names),
``mnist_vae.scoring`` (what makes scores comparable), ``mnist_vae.serving`` (the served
model's signature) and the top modules. Never click.
"""
