"""Stopping training at the first epoch whose losses are not finite.

A diverged model scores NaN everywhere, and NaN compares as neither better nor worse than
anything: left to run, it would be saved, registered, and could be crowned. Stopping at
once also names the params most likely at fault while they are still the question.
"""

from mnist_vae.config import ModelConfig, TrainConfig
from mnist_vae.errors import PipelineError, not_finite


class Diverged(PipelineError):
    """A loss term became NaN or infinite."""


def check(model: ModelConfig, config: TrainConfig, epoch: int, metrics: dict[str, float]):
    """Raises ``Diverged`` naming the epoch, the terms and the suspect params if any of
    ``metrics`` is not finite."""
    bad = not_finite(metrics)
    if not bad:
        return
    suspects = [f"train.learning_rate ({config.learning_rate:g}) may be too high"]
    if model.likelihood == "gaussian":
        suspects.append(f"train.decoder_std ({model.decoder_std:g}) too small")
    raise Diverged(
        f"training diverged at epoch {epoch}: {', '.join(bad)}; "
        f"{' or '.join(suspects)}; no model was saved"
    )
