"""The MLflow model registry: every trained model is a version of one registered model,
and the ``champion`` alias names the version with the best test -ELBO."""

import math
import os
from pathlib import Path

import mlflow.pyfunc

from mnist_vae.run_log import RunLog

NAME = "mnist-vae"
METRIC = "test.neg_elbo"


def crown(client, name: str, alias: str, metric: str = METRIC):
    """Points ``alias`` at the version of ``name`` whose run has the lowest ``metric``,
    the newest of equals (a rerun of the same pipeline registers the same scores again).

    Only versions whose run FINISHED with a finite ``metric`` compete: NaN compares as
    neither better nor worse than anything, so a diverged model could otherwise win.

    Returns:
        The chosen model version and its metric.

    Raises:
        PipelineError: no version's run has the metric yet.
    """
    from mnist_vae.errors import PipelineError

    scored = []
    for version in client.search_model_versions(f"name = '{name}'"):
        run = client.get_run(version.run_id)
        value = run.data.metrics.get(metric)
        if run.info.status == "FINISHED" and value is not None and math.isfinite(value):
            scored.append((value, int(version.version), version))
    if not scored:
        raise PipelineError(
            f"{name}: no registered version has a FINISHED run with a finite {metric}"
        )
    value, _, best = min(scored, key=lambda item: (item[0], -item[1]))
    client.set_registered_model_alias(name, alias, best.version)
    return best, value


def log_model(run: RunLog, model_path: str | os.PathLike, config) -> None:
    """Logs the saved VAE as a :class:`~mnist_vae.serving.Generator` and registers it as a
    new version of ``NAME``.

    The package goes with it as code, so the model loads without this repository. Naming
    the requirements spares MLflow its slow inference of them, which reloads the model in
    a subprocess.
    """
    from importlib.metadata import version

    import keras

    from mnist_vae import serving

    backend = keras.backend.backend()
    run.call(
        "model",
        mlflow.pyfunc.log_model,
        name="model",
        python_model=Path(__file__).with_name("served_model.py"),
        artifacts={"vae": str(model_path)},
        code_paths=[str(Path(__file__).parent)],
        signature=serving.signature(config.latent_dim, config.conditional),
        input_example=serving.example(config.latent_dim, config.conditional),
        pip_requirements=[f"keras=={keras.__version__}", f"{backend}=={version(backend)}"],
        registered_model_name=NAME,
    )
