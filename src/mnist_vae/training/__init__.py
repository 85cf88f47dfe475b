"""Training: the trainer (``trainer``) and the loops it picks from (``tf_epoch_loop`` and
``jax_epoch_loop``, both an ``epoch_loop``, and ``keras_fit``), the rule for what each
epoch draws (``epoch_draws``), the learning-rate schedules, the divergence check,
the checkpoints that let a run resume, and the train stage's run from its files to the
registered model (``training_run``).

May import: ``mnist_vae.vae``, ``mnist_vae.mnist``, ``mnist_vae.runtime``,
``mnist_vae.scoring`` (the figures) and the top modules. Only ``epoch_hooks`` and
``training_run`` reach MLflow (through ``mnist_vae.tracking``): the loops log through the
hooks they are given.
"""
