"""What trains the VAE: the IWAE bound beside the ELBO, the learning-rate schedule, Adam's
settings and the decoder's starting bias."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import train_args
from mlflow.tracking import MlflowClient

from mnist_vae.config import ModelConfig, TrainConfig, from_params
from mnist_vae.mnist import data
from mnist_vae.training import schedules, trainer
from mnist_vae.vae import losses, model, model_file

TINY = from_params(ModelConfig, latent_dim=4, hidden_size=16, hidden_layers=1, activation="tanh")


def _iwae(k: int, **changes) -> model.VAE:
    keras.utils.set_random_seed(3)
    config = from_params(
        ModelConfig, **{**TINY.to_dict(), "objective": "iwae", "samples": k, **changes}
    )
    return model.build_vae(config, seed=3)


@pytest.fixture(scope="module")
def images():
    gray = np.random.default_rng(0).uniform(size=(8, 784)) ** 4
    return np.tile(gray.astype(np.float32), (250, 1))  # 2000 rows: the noise averages out


def test_the_iwae_bound_with_one_sample_is_the_elbo_estimate(images):
    vae = _iwae(1)
    x = images[:16]

    outputs = vae(x)
    loss = float(vae.compute_loss(x, None, outputs))

    z, mean, log_var = (np.asarray(outputs[n], np.float64) for n in ("z", "z_mean", "z_log_var"))
    reconstruction = np.asarray(losses.bernoulli_nll(x, outputs["logits"]), np.float64)
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var), -1)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + z**2, -1)
    assert z.shape == (1, 16, 4)
    assert loss == pytest.approx(np.mean(reconstruction + log_q - log_p), rel=1e-5)


def test_the_iwae_bound_tightens_as_k_grows(images):
    bounds = []
    for k in (1, 5, 50):
        vae = _iwae(k)  # the same weights for every k: they depend on the seed alone
        bounds.append(float(vae.compute_loss(images, None, vae(images))))

    assert bounds[0] > bounds[1] + 0.1 > bounds[2] + 0.2, bounds


def test_a_few_steps_on_the_iwae_bound_lower_it(images):
    vae = _iwae(5)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = float(vae.compute_loss(images, None, vae(images)))

    for _ in range(20):
        vae.train_on_batch(images[:200])

    after = float(vae.compute_loss(images, None, vae(images)))
    assert after < before - 20, (before, after)


def test_the_iwae_objective_trains_a_conditional_model_in_the_epoch_loop(mnist_splits):
    model_config = from_params(
        ModelConfig, **{**TINY.to_dict(), "objective": "iwae", "samples": 3, "conditional": True}
    )
    train_config = from_params(TrainConfig, batch_size=100, epochs=3, seed=0)
    seen = []

    vae = trainer.build(model_config, train_config)
    trainer.fit(
        vae,
        train_config,
        mnist_splits["train"],
        mnist_splits["val"],
        [lambda epoch, metrics: seen.append(metrics)],
        verbose=0,
    )

    assert trainer.uses_epoch_loop(vae, train_config)
    assert seen[-1]["val_loss"] < seen[0]["val_loss"]
    assert {"classification_nll", "val_classification_nll"} <= set(seen[-1])


@pytest.mark.parametrize("loop", ["epoch", "fit"])
def test_a_fine_tune_trains_on_the_elbo_then_on_the_iwae_bound(prepared, mlflow_store, loop):
    """Burda et al.'s VAE fine-tuned on the IWAE bound, in one run: its ELBO epochs are
    an ELBO run's to the last digit, and each epoch's losses are named after its bound."""
    from stages.train import train

    def run(name: str, **changes) -> pd.DataFrame:
        args = train_args(prepared / "data", prepared / name, **{"--loop": loop, **changes})
        result = CliRunner().invoke(train, args)
        assert result.exit_code == 0, result.output
        return pd.read_csv(prepared / name / "metrics" / "history.csv")

    elbo = run("elbo", **{"--epochs": "1"})
    tuned = run("tuned", **{"--objective": "iwae", "--samples": "5", "--elbo-epochs": "1"})

    pd.testing.assert_frame_equal(tuned.iloc[:1], elbo, check_exact=True)
    run_id = json.loads((prepared / "tuned" / "models" / "run.json").read_text())["run_id"]
    client = MlflowClient(f"sqlite:///{mlflow_store}")
    steps = {
        name: [m.step for m in client.get_metric_history(run_id, name)]
        for name in ("loss_elbo", "val_loss_elbo", "loss_iwae_k5", "val_loss_iwae_k5")
    }
    assert steps == {
        "loss_elbo": [1],
        "val_loss_elbo": [1],
        "loss_iwae_k5": [2],
        "val_loss_iwae_k5": [2],
    }
    final = json.loads((prepared / "tuned" / "metrics" / "train.json").read_text())
    assert final["loss_iwae_k5"] == pytest.approx(tuned["loss"].iloc[-1])
    saved = model_file.load(prepared / "tuned" / "models" / "vae.keras").model_config
    assert (saved.objective, saved.samples) == ("iwae", 5)


def test_the_objective_phases_start_where_a_resumed_run_left_off():
    config = from_params(TrainConfig, epochs=10, elbo_epochs=4)

    assert schedules.objective_phases(config, 0) == [(1, 4), (5, 10)]
    assert schedules.objective_phases(config, 3) == [(4, 4), (5, 10)]
    assert schedules.objective_phases(config, 6) == [(7, 10)]
    short = from_params(TrainConfig, epochs=3, elbo_epochs=4)
    assert schedules.objective_phases(short, 0) == [(1, 3)]
    iwae = from_params(ModelConfig, **{**TINY.to_dict(), "objective": "iwae", "samples": 5})
    assert schedules.objective_at(iwae, config, 4) == from_params(
        ModelConfig, **{**iwae.to_dict(), "objective": "elbo"}
    )
    assert schedules.objective_at(iwae, config, 5) == iwae


def _schedule(schedule: str, learning_rate: float = 1e-3) -> TrainConfig:
    return from_params(TrainConfig, schedule=schedule, learning_rate=learning_rate)


def test_the_iwae_schedule_gives_the_papers_rates_at_its_stage_boundaries():
    config = _schedule("iwae")
    first_epochs = np.cumsum([0] + [3**i for i in range(8)])[:-1] + 1  # 1, 2, 5, 14, ...

    for i, epoch in enumerate(first_epochs):
        assert schedules.rate(config, epoch) == pytest.approx(1e-3 * 10 ** (-i / 7))
        if i:
            assert schedules.rate(config, epoch - 1) == pytest.approx(1e-3 * 10 ** (-(i - 1) / 7))
    assert sum(epochs for epochs, _ in schedules.stages(config)) == 3280
    assert schedules.rate(config, 5000) == pytest.approx(1e-4)


def test_a_piecewise_schedule_holds_each_rate_for_its_epochs_then_the_last():
    config = _schedule("2:1e-3,3:.0005,1:2.5E-4")

    assert [schedules.rate(config, e) for e in range(1, 9)] == [
        1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4, 2.5e-4,
    ]  # fmt: skip
    assert schedules.rate(_schedule("constant", 3e-3), 1000) == 3e-3


def test_training_follows_the_schedule_and_adams_settings(mnist_splits):
    config = from_params(
        TrainConfig,
        schedule="1:1e-3,1:1e-4,1:1e-5",
        batch_size=500,
        epochs=3,
        adam_beta_1=0.5,
        adam_epsilon=1e-4,
    )
    rates = []

    vae = trainer.build(TINY, config)
    optimizer = vae.optimizer
    hook = lambda epoch, metrics: rates.append(float(optimizer.learning_rate))  # noqa: E731
    trainer.fit(vae, config, mnist_splits["train"], mnist_splits["val"], [hook], verbose=0)

    assert (optimizer.beta_1, optimizer.epsilon) == (0.5, 1e-4)
    assert rates == pytest.approx([1e-4, 1e-5, 1e-5])  # each set for the epoch to come


def test_the_output_bias_can_start_at_the_training_sets_pixel_means(mnist_splits):
    config = from_params(TrainConfig, output_bias="data_mean")
    train = mnist_splits["train"]

    vae = trainer.build(TINY, config, train)

    bias = vae.decoder.get_layer("logits").bias.numpy()
    mean = np.clip(data.as_inputs(train.images).mean(axis=0), 0.001, 0.999)
    np.testing.assert_allclose(1 / (1 + np.exp(-bias)), mean, rtol=1e-5)
    assert bias.min() == pytest.approx(np.log(0.001 / 0.999), rel=1e-5)  # border pixels
