"""The VAE itself: its loss against a hand computation, training, and save/reload."""

import subprocess
import sys
import tarfile

import keras
import mlflow.pyfunc
import numpy as np
import pytest
from conftest import ROOT

from mnist_vae.config import ModelConfig, TrainConfig, from_params
from mnist_vae.mnist import data
from mnist_vae.scoring import evaluation
from mnist_vae.training import trainer
from mnist_vae.vae import losses, model, model_file

TINY = from_params(ModelConfig, latent_dim=2, hidden_size=8, hidden_layers=1, activation="tanh")


@pytest.fixture
def vae():
    keras.utils.set_random_seed(1)
    return model.build_vae(TINY, seed=1)


@pytest.fixture
def images():
    return (np.random.default_rng(0).uniform(size=(6, 784)) ** 4).astype(np.float32)


def _dense(layer, x, activation=None):
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    y = x @ kernel + bias
    return np.tanh(y) if activation == "tanh" else y


def _hand_scores(vae, x, epsilon):
    """The single-sample negative ELBO and squared error written out in numpy, layer by
    layer, in float64."""
    h = _dense(vae.encoder.get_layer("encoder_hidden_0"), x, "tanh")
    mean = _dense(vae.encoder.get_layer("z_mean"), h)
    log_var = _dense(vae.encoder.get_layer("z_log_var"), h)
    z = mean + np.exp(0.5 * log_var) * epsilon
    hz = _dense(vae.decoder.get_layer("decoder_hidden_0"), z, "tanh")
    logits = _dense(vae.decoder.get_layer("logits"), hz)
    bce = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + epsilon**2, axis=1)
    log_p = -0.5 * np.sum(np.log(2 * np.pi) + z**2, axis=1)
    squared = np.mean((x - 1 / (1 + np.exp(-logits))) ** 2, axis=1)
    return bce.sum(axis=1) + log_q - log_p, squared


def test_neg_elbo_and_squared_error_match_a_hand_computation(vae, images):
    epsilon = np.random.default_rng(5).standard_normal((len(images), 2)).astype(np.float32)

    rows, _ = evaluation.score(vae, images, k=1, batch_size=4, seed=5)

    neg_elbo, squared = _hand_scores(vae, images, epsilon)
    np.testing.assert_allclose(rows["neg_elbo"], neg_elbo, rtol=1e-5)
    np.testing.assert_allclose(rows["reconstruction_mse"], squared, rtol=1e-5)
    np.testing.assert_allclose(rows["neg_elbo"], rows["reconstruction_nll"] + rows["kl"])


def test_the_training_loss_is_the_batch_mean_of_the_neg_elbo(vae, images):
    outputs = vae(images)
    analytic_kl = losses.gaussian_kl(outputs["z_mean"], outputs["z_log_var"])
    expected = losses.bernoulli_nll(images, outputs["logits"]) + analytic_kl

    loss = vae.compute_loss(images, None, outputs)

    assert float(loss) == pytest.approx(float(np.mean(expected)), rel=1e-6)


@pytest.mark.parametrize("scale", [1.0, 30.0, 200.0])
def test_the_scorers_bernoulli_terms_match_their_textbook_forms(scale):
    """One shared exp must not cost accuracy where the logits saturate either way."""
    rng = np.random.default_rng(0)
    logits = (scale * rng.standard_normal((3, 784))).astype(np.float32)
    x = rng.uniform(size=(3, 784)).astype(np.float32)

    nll, mean = (np.asarray(v) for v in losses.bernoulli_nll_and_mean(x, logits))

    wide = logits.astype(np.float64)
    np.testing.assert_allclose(nll, np.sum(np.logaddexp(0, wide) - x * wide, axis=-1), rtol=1e-6)
    with np.errstate(over="ignore"):
        sigmoid = 1 / (1 + np.exp(-wide))
    np.testing.assert_allclose(mean, sigmoid, rtol=1e-6, atol=1e-12)


def test_closed_form_kl_matches_monte_carlo():
    mean = np.array([[0.5, -1.0, 2.0]])
    log_var = np.array([[0.3, -0.7, 1.1]])
    rng = np.random.default_rng(0)
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal((400_000, 3))
    log_q = -0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var))
    log_p = -0.5 * (np.log(2 * np.pi) + z**2)
    monte_carlo = np.mean(np.sum(log_q - log_p, axis=1))

    closed_form = float(losses.gaussian_kl(mean, log_var)[0])

    assert closed_form == pytest.approx(monte_carlo, abs=0.02)


def test_keras_evaluate_reports_the_loss_and_its_terms(vae, images):
    vae.compile(optimizer="adam")

    result = vae.evaluate(images, batch_size=3, verbose=0, return_dict=True)

    assert set(result) == {"loss", "reconstruction_nll", "kl"}
    assert result["loss"] > 500  # 784 pixels at about ln 2 nats each, untrained
    assert result["loss"] == pytest.approx(result["reconstruction_nll"] + result["kl"])


def test_a_train_step_changes_the_weights_and_an_eval_step_does_not(vae, images):
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = [w.copy() for w in vae.get_weights()]

    vae.test_on_batch(images)
    assert all(np.array_equal(a, b) for a, b in zip(before, vae.get_weights(), strict=True))

    vae.train_on_batch(images)
    assert not any(np.array_equal(a, b) for a, b in zip(before, vae.get_weights(), strict=True))


def test_a_few_steps_lower_the_loss_on_a_fixed_batch(images):
    config = from_params(
        TrainConfig, learning_rate=1e-2, batch_size=len(images), epochs=30, seed=0
    )
    split = data.Split((images * 255).reshape(-1, 28, 28).astype(np.uint8), np.zeros(6, np.uint8))
    seen = []

    vae = trainer.build(TINY, config)
    trainer.fit(vae, config, split, split, [lambda epoch, m: seen.append(m["loss"])], verbose=0)

    assert len(seen) == 30
    assert seen[-1] < seen[0] - 50


def test_reloads_in_a_fresh_process_with_identical_outputs(vae, images, tmp_path):
    path = tmp_path / "vae.keras"
    vae(images)  # builds the sampling layer, as training does
    vae.save(path)
    np.save(tmp_path / "x.npy", images)
    script = (
        "import sys, numpy as np; from mnist_vae.vae import model_file; "
        "vae = model_file.load(sys.argv[1]); x = np.load(sys.argv[2]); "
        "mean, log_var = vae.encoder.predict(x, verbose=0); "
        "decoded = vae.decoder.predict(mean, verbose=0); "
        "np.save(sys.argv[3], np.concatenate([mean, log_var, decoded], 1))"
    )
    out = tmp_path / "out.npy"

    subprocess.run([sys.executable, "-c", script, path, tmp_path / "x.npy", out], check=True)

    mean, log_var = vae.encoder.predict(images, verbose=0)
    expected = np.concatenate([mean, log_var, vae.decoder.predict(mean, verbose=0)], 1)
    assert isinstance(model_file.load(path), model.VAE)
    np.testing.assert_array_equal(np.load(out), expected)


PRE_MOVE = ROOT / "tests" / "data" / "pre-move-model.tar.gz"
LOAD_AND_PREDICT = (
    "import sys, numpy as np, mlflow.pyfunc; "
    "served = mlflow.pyfunc.load_model(sys.argv[1]); "
    "np.save(sys.argv[2], served.predict({'z': np.array([[0.5, -1.0]], np.float32)}))"
)


def test_a_model_saved_before_the_package_moved_still_loads_and_serves(tmp_path):
    """A ``.keras`` file and an MLflow model saved by the flat package of before the move
    (``tests/pre_move_model.py``): the file loads, and the model serves the same images in
    a fresh process, where its own copy of the old package goes first on the path, and in
    this one, where the moved package is loaded already and ``mnist_vae.serving`` stayed."""
    with tarfile.open(PRE_MOVE) as archive:
        archive.extractall(tmp_path, filter="data")
    expected = np.load(tmp_path / "expected.npy")

    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_AND_PREDICT,
            str(tmp_path / "model"),
            str(tmp_path / "fresh.npy"),
        ],
        capture_output=True,
        text=True,
    )
    here = mlflow.pyfunc.load_model(str(tmp_path / "model")).predict(
        {"z": np.array([[0.5, -1.0]], np.float32)}
    )

    assert isinstance(model_file.load(tmp_path / "vae.keras"), model.VAE)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "fresh.npy"), expected)
    np.testing.assert_array_equal(np.asarray(here), expected)
