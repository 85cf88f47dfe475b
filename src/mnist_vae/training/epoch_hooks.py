"""What train does after every epoch, besides checking the losses are finite: the history
file ``dvc plots`` draws, and the losses and samples MLflow charts.

Each hook is called as ``hook(epoch, metrics)``, ``epoch`` counting from 1.
"""

import os

import numpy as np

from mnist_vae.atomic import write_text
from mnist_vae.scoring import plotting
from mnist_vae.tracking.run_log import RunLog
from mnist_vae.training import schedules
from mnist_vae.vae import decoding


class HistoryWriter:
    """Rewrites the whole CSV after every epoch, so the file is always complete.

    ``dvc plots show`` can draw a run in progress, and a crash leaves the epochs so far.
    """

    def __init__(self, path: str | os.PathLike, rows: list[dict[str, float]]):
        """``rows``: the epochs so far, which a resumed run starts from; appended to."""
        self.path = path
        self.rows = rows

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        import pandas as pd

        self.rows.append({"epoch": epoch, **dict(sorted(metrics.items()))})
        write_text(self.path, pd.DataFrame(self.rows).to_csv(index=False))

    @property
    def last(self) -> dict[str, float]:
        return {k: v for k, v in self.rows[-1].items() if k != "epoch"}


def log_epoch(run: RunLog, model_config, train_config):
    """A per-epoch hook logging the epoch's losses, named after their objective, and its
    learning rate, with the epoch as their step."""

    def log(epoch: int, metrics: dict[str, float]) -> None:
        values = {
            **objective_named(schedules.objective_at(model_config, train_config, epoch), metrics),
            "learning_rate": schedules.rate(train_config, epoch),
        }
        run.metrics(values, step=epoch, what=f"epoch {epoch}")

    return log


def objective_named(model_config, metrics: dict[str, float]) -> dict[str, float]:
    """``loss`` and ``val_loss`` named after the bound they are (``loss_elbo``,
    ``val_loss_iwae_k50``): an ELBO and a tighter IWAE bound are different numbers, which
    MLflow's charts and ``dvc metrics diff`` must never set side by side under one name."""
    objective = model_config.objective
    suffix = objective if objective == "elbo" else f"{objective}_k{model_config.samples}"
    renamed = {"loss": f"loss_{suffix}", "val_loss": f"val_loss_{suffix}"}
    return {renamed.get(name, name): value for name, value in metrics.items()}


class EpochSamples:
    """Logs the decodes of fixed latent points as one image per step, so the MLflow UI
    shows the samples sharpening as training goes on.

    At most ``IMAGES`` of them, evenly spaced, and the last epoch's: an image costs about
    half a second to draw and store, which a 3,000-epoch run should not pay every epoch.
    """

    IMAGES = 100

    def __init__(self, run: RunLog, vae, n: int, seed: int, epochs: int):
        self.run = run
        self.vae = vae
        self.z = decoding.prior_latents(n, vae.model_config.latent_dim, seed)
        self.digits = np.arange(n) % 10 if vae.model_config.conditional else None
        self.every, self.epochs = max(1, epochs // self.IMAGES), epochs

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        if not schedules.due(epoch, self.every, self.epochs):
            return
        images = decoding.decode_means(self.vae, self.z, self.digits)
        canvas = plotting.tile(images, ncols=10)
        self.run.image((canvas * 255).round().astype(np.uint8), "epoch_samples", epoch)
