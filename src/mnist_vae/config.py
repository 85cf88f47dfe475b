"""The model's and the training's settings, typed, so that a library caller (a test, a
benchmark, a notebook) names every one of them as the stages do.

The model config travels inside the ``.keras`` file (``VAE.get_config``), so a reloaded
model knows its likelihood, its binarization and whether it is conditional.
"""

from dataclasses import asdict, dataclass, fields
from typing import Literal

Activation = Literal["relu", "elu", "tanh", "sigmoid"]
Likelihood = Literal["bernoulli", "gaussian"]
Binarize = Literal["none", "dynamic", "static"]
Loop = Literal["epoch", "fit"]
Precision = Literal["auto", "float32", "mixed_float16", "mixed_bfloat16"]
ACTIVATIONS: tuple[str, ...] = Activation.__args__
LIKELIHOODS: tuple[str, ...] = Likelihood.__args__
BINARIZATIONS: tuple[str, ...] = Binarize.__args__
LOOPS: tuple[str, ...] = Loop.__args__
PRECISIONS: tuple[str, ...] = Precision.__args__


@dataclass(frozen=True)
class ModelConfig:
    """The VAE and what it models.

    Attributes:
        latent_dim: dimensions of z.
        hidden_size: units in each hidden layer of the encoder and of the decoder.
        hidden_layers: hidden layers in each of the two MLPs.
        activation: the hidden layers' activation.
        likelihood: p(x|z): independent Bernoullis on the pixels, or a Gaussian with a
            fixed standard deviation around the decoder's mean.
        decoder_std: that standard deviation (used by the Gaussian likelihood only).
        binarize: how pixels become 0/1 before modelling: ``none`` keeps the gray levels,
            ``static`` samples each image once, ``dynamic`` samples each training batch
            anew (the IWAE paper's protocol); held-out sets are sampled once, seeded.
        beta: weight of the KL term in the training loss (1 is the plain VAE).
        conditional: add a digit classifier on the encoder whose softmax joins z at the
            decoder's input, so that digits can be asked for when generating.
        classification_weight: weight of the classifier's cross-entropy in the loss.
    """

    latent_dim: int
    hidden_size: int
    hidden_layers: int
    activation: Activation
    likelihood: Likelihood = "bernoulli"
    decoder_std: float = 0.5
    binarize: Binarize = "none"
    beta: float = 1.0
    conditional: bool = False
    classification_weight: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """How the VAE is fitted.

    Attributes:
        learning_rate: Adam's step size.
        batch_size: images per gradient step.
        epochs: passes over the training set.
        seed: seeds the weights, the shuffling, the binarization and the noise.
        loop: ``epoch`` runs each whole epoch in one compiled TensorFlow function, the data
            held in tensors and shuffled in the graph; ``fit`` is Keras's own ``fit``, which
            every backend and ``tf.distribute`` support (taken whenever ``epoch`` can't be).
        jit_compile: compile with XLA: the optimizer's update in the epoch loop, the whole
            step under ``fit``.
        deterministic: make TensorFlow's ops deterministic, so two runs with one seed give
            the same numbers, and so the same bytes in every output, on GPUs too (on a
            CPU the ops are deterministic already, and this costs nothing measurable).
        precision: the Keras dtype policy training computes under: the mixed ones run
            the layers' products in 16 bits and keep the weights, the sampling and the loss
            in float32 (with loss scaling for float16); ``auto`` is ``mixed_bfloat16``
            where TensorFlow trains on a CPU with AMX, ``float32`` elsewhere. The default
            is ``float32``, so that the default config gives the same test metrics on every
            machine; bf16 is an opt-in, faster on AMX only, its cost in nats measured
            (README).
            The saved model computes in float32 whatever trained it.
    """

    learning_rate: float
    batch_size: int
    epochs: int
    seed: int
    loop: Loop = "epoch"
    jit_compile: bool = True
    deterministic: bool = True
    precision: Precision = "float32"


def from_options(config_class, options: dict):
    """Builds a config from the command options that bear its fields' names."""
    return config_class(**{f.name: options[f.name] for f in fields(config_class)})
