"""Every parameter, declared once: its type, its range or choices, and its help.

``params.yaml`` holds the values, one section per stage, and nothing else does. Each
stage's click options are generated from its section's classes (``SECTIONS``), take
their values from the section, and are logged to MLflow as ``<section>.<field>``; so a
field added here is an option, a logged param and a required key of ``params.yaml``,
with no other change. Library callers (tests, benchmarks, notebooks) build configs from
``params.yaml`` too (``from_params``), changing only what they mean to.

The model config travels inside the ``.keras`` file (``VAE.get_config``), so a reloaded
model knows its likelihood, its binarization and whether it is conditional.
"""

import dataclasses
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

import yaml

from mnist_vae import project

Activation = Literal["relu", "elu", "tanh", "sigmoid"]
Likelihood = Literal["bernoulli", "gaussian"]
Binarize = Literal["none", "dynamic", "static"]
Loop = Literal["epoch", "fit"]
Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]
Objective = Literal["elbo", "iwae"]
OutputBias = Literal["zeros", "data_mean"]
_STAGE = r"[1-9][0-9]*:([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"
SCHEDULE = rf"constant|iwae|{_STAGE}(,{_STAGE})*"


def spell(value):
    """A bool as ``params.yaml`` and ``dvc exp show`` spell it (``true``, not Python's
    ``True``), so that DVC and MLflow show one value; any other value as it is."""
    return str(value).lower() if isinstance(value, bool) else value


def param(
    help: str, *, min: float | None = None, min_open: bool = False, pattern: str = "", expected=""
):
    """A field's declaration beyond its type: its help; its lower bound (``min_open``: the
    bound itself is refused); or the regular expression a string must match whole, and
    how to say what it expects."""
    metadata = {"help": help, "min": min, "min_open": min_open}
    return dataclasses.field(metadata={**metadata, "pattern": pattern, "expected": expected})


@dataclass(frozen=True)
class PrepareConfig:
    """How the official files become the three splits."""

    train_size: int = param("Training images, drawn from the official training set.", min=1)
    val_size: int = param("Validation images, drawn apart from the training images.", min=1)
    test_size: int = param("Test images: the first of the official test set.", min=1)
    seed: int = param("Seed of the train/validation draw.", min=0)


@dataclass(frozen=True)
class ModelConfig:
    """The VAE and what it models."""

    latent_dim: int = param("Dimensions of z.", min=1)
    hidden_size: int = param("Units in each hidden layer of the encoder and decoder.", min=1)
    hidden_layers: int = param("Hidden layers in each of the two MLPs.", min=1)
    activation: Activation = param("The hidden layers' activation.")
    likelihood: Likelihood = param(
        "p(x|z): Bernoullis on the pixels, or a Gaussian of fixed decoder_std around the mean."
    )
    decoder_std: float = param(
        "The Gaussian likelihood's standard deviation.", min=0, min_open=True
    )
    binarize: Binarize = param(
        "Pixels as 0/1: none keeps gray levels; static samples each image once; dynamic "
        "samples each training batch anew (the IWAE protocol). Held-out sets are sampled "
        "once, seeded."
    )
    beta: float = param(
        "Weight of the KL term in the loss (1: the plain VAE).", min=0, min_open=True
    )
    conditional: bool = param(
        "Add a digit classifier on the encoder whose softmax joins z at the decoder, so "
        "that digits can be asked for."
    )
    classification_weight: float = param("Weight of the classifier's cross-entropy.", min=0)
    objective: Objective = param(
        "The bound trained on: elbo (one posterior sample, the KL in closed form) or iwae "
        "(Burda et al.'s importance-weighted bound with `samples` posterior samples)."
    )
    samples: int = param("Posterior samples per image (k) of the iwae objective.", min=1)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """How the VAE is fitted.

    ``precision`` is ``float32`` in ``params.yaml`` so that the default config gives the
    same test metrics on every machine: bf16 is faster on AMX only, and its cost in nats is
    measured (docs). The saved model computes in float32 whatever trained it.
    ``deterministic`` costs nothing measurable on a CPU, whose ops are deterministic
    already; it makes GPU runs repeat too.
    """

    learning_rate: float = param(
        "Adam's step size; under a staged schedule, that of its first stage.", min=0, min_open=True
    )
    schedule: str = param(
        "The learning rate by epoch: constant; iwae (Burda et al.: stage i runs 3^i epochs "
        "at learning_rate * 10^(-i/7)); or EPOCHS:RATE,EPOCHS:RATE,... stages. The last "
        "stage goes on for as long as `epochs` asks.",
        pattern=SCHEDULE,
        expected="constant, iwae or stages such as 10:1e-3,20:1e-4",
    )
    elbo_epochs: int = param(
        "Epochs trained on the ELBO before `objective` takes over: a VAE fine-tuned on the "
        "IWAE bound, as in Burda et al.'s Table 2. 0: `objective` from the first epoch.",
        min=0,
    )
    adam_beta_1: float = param("Adam's decay of the first moment.", min=0)
    adam_beta_2: float = param("Adam's decay of the second moment.", min=0)
    adam_epsilon: float = param("Adam's epsilon.", min=0, min_open=True)
    output_bias: OutputBias = param(
        "The decoder's output bias at the start: zeros, or data_mean (the logit of each "
        "pixel's training mean, clipped to [0.001, 0.999], as Burda et al. do)."
    )
    batch_size: int = param("Images per gradient step.", min=1)
    epochs: int = param("Passes over the training set.", min=1)
    seed: int = param("Seeds the weights, the shuffling, the binarization and the noise.", min=0)
    loop: Loop = param(
        "epoch: each whole epoch compiled (TensorFlow, or JAX), the data on the device; "
        "fit: Keras's fit, for every backend and tf.distribute (taken whenever epoch can't be)."
    )
    checkpoint_every: int = param(
        "Epochs between checkpoints, which a rerun with the same settings resumes from.", min=1
    )
    jit_compile: bool = param(
        "Compile with XLA: TensorFlow's epoch loop (its steps and validation), or fit's "
        "step, which Keras leaves uncompiled under `deterministic`. From one seed XLA draws "
        "other noise than TensorFlow's kernels. JAX always compiles."
    )
    deterministic: bool = param("Make the backend's ops deterministic, on GPUs too.")
    precision: Precision = param(
        "Dtype policy to train under; mixed ones compute the layers in 16 bits; auto: "
        "mixed_bfloat16 on a CPU with AMX when jit_compile is off (under XLA bf16 is "
        "slower there), float32 elsewhere."
    )


@dataclass(frozen=True)
class EvaluateConfig:
    """How the test set is scored."""

    iw_samples: int = param("Importance samples per image (k) for the -ELBO and IW bound.", min=1)
    batch_size: int = param("Latent points decoded per pass.", min=1)
    seed: int = param("Seeds the posterior samples and any binarization.", min=0)


@dataclass(frozen=True)
class GenerateConfig:
    """What is drawn from the prior."""

    n_samples: int = param("Digits to draw.", min=1)
    digits: str = param(
        "For a conditional model, the digits to ask for, such as 0123456789: a row per "
        "digit, the columns sharing style vectors.",
        pattern="[0-9]+",
        expected="a string of digits such as 0123456789",
    )
    seed: int = param("Seeds the draws from the prior.", min=0)


SECTIONS: dict[str, tuple[type, ...]] = {
    "prepare": (PrepareConfig,),
    "train": (ModelConfig, TrainConfig),
    "evaluate": (EvaluateConfig,),
    "generate": (GenerateConfig,),
}


def from_options(config_class, options: dict):
    """Builds a config from the values (command options, a params section) that bear its
    fields' names."""
    return config_class(**{f.name: options[f.name] for f in fields(config_class)})


def from_params(config_class, params: Path | None = None, **changes):
    """``config_class`` as ``params.yaml`` (the project's, by default) sets it, but for
    ``changes``."""
    (section,) = [name for name, classes in SECTIONS.items() if config_class in classes]
    params = params or project.root() / "params.yaml"
    values = yaml.safe_load(params.read_text())[section]
    return from_options(config_class, {**values, **changes})
