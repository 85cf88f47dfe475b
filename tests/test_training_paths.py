"""The fast training path against the plain one, determinism, and two-device training."""

import re
import subprocess
import sys
import warnings
from dataclasses import replace

import keras
import numpy as np
import pytest
from conftest import ROOT

from mnist_vae.config import ModelConfig, TrainConfig, from_params
from mnist_vae.mnist import data
from mnist_vae.runtime import execution
from mnist_vae.training import trainer

MODEL = from_params(ModelConfig, latent_dim=4, hidden_size=32, hidden_layers=2, activation="relu")
WIDE = replace(MODEL, latent_dim=20, hidden_size=512)
PLAIN = from_params(
    TrainConfig, learning_rate=1e-3, batch_size=50, epochs=2, seed=0, loop="fit", jit_compile=False
)
FAST = replace(PLAIN, loop="epoch", jit_compile=True)


def _history(config, train, val, model_config=MODEL) -> list[dict]:
    vae = trainer.build(model_config, config)
    seen = []
    trainer.fit(vae, config, train, val, [lambda epoch, m: seen.append(m)], verbose=0)
    return seen, vae


@pytest.fixture(scope="module")
def small(mnist_splits):
    return data.Split(mnist_splits["train"].images[:500], mnist_splits["train"].labels[:500])


@pytest.fixture
def without_op_determinism():
    """Op determinism off for one test, as in a fresh process. Keras's fit drops XLA
    under it, and an earlier test in this process may have turned it on for good: the
    public API has no way back."""
    from tensorflow.python.framework import config

    was_on = config.is_op_determinism_enabled()
    config.disable_op_determinism()
    yield
    if was_on:
        config.enable_op_determinism()


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.usefixtures("without_op_determinism")
def test_fast_and_plain_paths_give_the_same_loss_on_a_fixed_image(mnist_splits, jit_compile):
    """Two steps from the same weights, a batch of 50 and a short one of 20, on one image
    repeated: the same loss, the same update. Validation takes 50 rows, one batch in
    either loop, which draw their noise per batch.

    One image, so that the order each loop shuffles the rows into does not change which
    image meets which draw of the noise. Both paths compile with XLA or neither: from one
    seed, XLA draws other numbers than TensorFlow's kernels.
    """
    rows = data.Split(
        np.repeat(mnist_splits["test"].images[:1], 70, axis=0), np.zeros(70, np.uint8)
    )
    config = replace(PLAIN, epochs=1, jit_compile=jit_compile, deterministic=False)

    val = data.Split(rows.images[:50], rows.labels[:50])

    plain, _ = _history(config, rows, val)
    fast, _ = _history(replace(config, loop="epoch"), rows, val)

    assert set(fast[0]) == set(plain[0])
    for name, value in plain[0].items():
        assert fast[0][name] == pytest.approx(value, rel=1e-5), name


@pytest.mark.parametrize(("loop", "refused"), [("epoch", False), ("fit", True)])
def test_only_fit_under_determinism_reports_xla_refused(loop, refused):
    """Keras's fit drops XLA under op determinism and warns; the epoch loop compiles with
    XLA all the same, so its log must not carry that warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.build(MODEL, replace(FAST, loop=loop, deterministic=True))

    messages = [str(w.message) for w in caught]
    assert any("Proceeding with `jit_compile=False`" in m for m in messages) == refused


def test_fast_and_plain_paths_train_alike(small, mnist_splits):
    plain, _ = _history(PLAIN, small, mnist_splits["val"])
    fast, _ = _history(FAST, small, mnist_splits["val"])

    assert fast[-1]["val_loss"] == pytest.approx(plain[-1]["val_loss"], rel=0.02)
    assert fast[-1]["val_loss"] < fast[0]["val_loss"]


def test_deterministic_mode_gives_identical_metrics(small, mnist_splits):
    config = replace(FAST, deterministic=True)

    first, _ = _history(config, small, mnist_splits["val"])
    second, _ = _history(config, small, mnist_splits["val"])

    assert first == second


def test_deterministic_mode_repeats_the_graph_loop_over_a_full_training_set(mnist_files):
    """One epoch of the default's layer sizes over 50,000 images, without XLA: under
    grappler's constant folding this loop gave other numbers from run to run (every pair
    of three runs differed), where over 20,000 images it did not."""
    splits = data.split(mnist_files, 50_000, 500, 500, seed=0)
    config = replace(FAST, deterministic=True, jit_compile=False, batch_size=128, epochs=1)

    first, second = (_history(config, splits["train"], splits["val"], WIDE)[0] for _ in "ab")

    assert first == second


def test_trains_on_two_logical_devices_like_on_one(tmp_path, mnist_dir):
    """A fresh process splits the CPU into two logical devices before TensorFlow starts."""
    script = ROOT / "tests" / "two_devices.py"

    result = subprocess.run(
        [sys.executable, script, str(mnist_dir)], capture_output=True, text=True, cwd=ROOT
    )

    assert result.returncode == 0, result.stderr[-3000:]
    single, mirrored, replicas = (float(v) for v in result.stdout.split()[-3:])
    assert replicas == 2
    assert mirrored == pytest.approx(single, rel=0.02)


@pytest.mark.parametrize("loop", ["epoch", "fit"])
def test_mixed_precision_computes_in_16_bits_and_scores_in_32(small, mnist_splits, loop):
    config = replace(FAST, precision="mixed_float16", loop=loop)

    history, vae = _history(config, small, mnist_splits["val"])

    assert vae.encoder.get_layer("encoder_hidden_0").compute_dtype == "float16"
    assert vae.decoder.get_layer("logits").compute_dtype == "float16"
    assert isinstance(vae.optimizer, keras.optimizers.LossScaleOptimizer)
    outputs = vae(data.as_inputs(small.images[:4]))
    assert {keras.backend.standardize_dtype(v.dtype) for v in outputs.values()} == {"float32"}
    assert np.isfinite(history[-1]["val_loss"])
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_auto_precision_is_bfloat16_on_a_cpu_with_amx_without_xla_and_float32_elsewhere():
    amx = frozenset({"avx512f", "avx512_bf16", "amx_bf16"})
    no_amx = frozenset({"avx512f", "avx512_bf16"})

    assert execution.resolved_precision("auto", xla=False, flags=amx) == "mixed_bfloat16"
    assert execution.resolved_precision("auto", xla=True, flags=amx) == "float32"
    assert execution.resolved_precision("auto", xla=False, flags=no_amx) == "float32"
    assert execution.resolved_precision("mixed_float16", xla=True, flags=amx) == "mixed_float16"
    assert execution.resolved_precision("float32", xla=False, flags=amx) == "float32"


def test_keras_fit_prints_the_epoch_loops_line_with_the_time_left(small, mnist_splits, capsys):
    """Under Keras's fit, as under the epoch loops, a line per epoch ends with the time
    the remaining epochs should take, and Keras prints no bar or line of its own."""
    config = replace(PLAIN, epochs=3)
    vae = trainer.build(MODEL, config)

    trainer.fit(vae, config, small, mnist_splits["val"], [], verbose=2)

    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all(re.search(r" - val_loss: [\d.]+ - .* left$", line) for line in lines), lines
    assert lines[-1].endswith(" - 0s left")
