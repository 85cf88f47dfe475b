"""The model's and the training's settings, typed, so that a library caller (a test, a
benchmark, a notebook) names every one of them as the stages do.

A trained model needs no config to be reloaded: its ``.keras`` file holds the layers.
"""

from dataclasses import asdict, dataclass
from typing import Literal

Activation = Literal["relu", "elu", "tanh", "sigmoid"]
ACTIVATIONS: tuple[str, ...] = Activation.__args__


@dataclass(frozen=True)
class ModelConfig:
    """The shape of the VAE.

    Attributes:
        latent_dim: dimensions of z.
        hidden_size: units in each hidden layer of the encoder and of the decoder.
        hidden_layers: hidden layers in each of the two MLPs.
        activation: the hidden layers' activation.
    """

    latent_dim: int
    hidden_size: int
    hidden_layers: int
    activation: Activation

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig:
    """How the VAE is fitted.

    Attributes:
        learning_rate: Adam's step size.
        batch_size: images per gradient step.
        epochs: passes over the training set.
        seed: seeds the weights, the shuffling and the reparameterisation noise.
    """

    learning_rate: float
    batch_size: int
    epochs: int
    seed: int
