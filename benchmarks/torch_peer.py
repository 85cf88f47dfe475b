"""The PyTorch peer of the training benchmark: a plain eager loop, as one writes it.

The same VAE as the project's default model (ReLU MLPs, a Bernoulli decoder, the
analytic-KL ELBO), the same data, batch size, epochs and Adam, in float32, with Keras's
initialisation (Glorot-uniform weights, zero biases) so that the final -ELBO compares.
Each epoch trains on the shuffled training set, then scores the validation set, as the
project's epochs do. It runs in an environment of its own (``train_speed.py`` makes it
with PyTorch from PyPI), never in the project's lock, so it imports numpy and torch only.

    .torch-venv/bin/python benchmarks/torch_peer.py --size 20x512x128 --epochs 5 \\
        --hidden-layers 1 --data-dir data/prepared
"""

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def mlp(widths: list[int], out: int) -> nn.Sequential:
    layers = []
    for a, b in zip(widths, widths[1:], strict=False):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], out))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class VAE(nn.Module):
    def __init__(self, latent: int, hidden: int, layers: int):
        super().__init__()
        self.latent = latent
        self.encoder = mlp([784] + [hidden] * layers, 2 * latent)
        self.decoder = mlp([latent] + [hidden] * layers, 784)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The mean negative ELBO: one posterior sample, the KL in closed form."""
        mean, log_var = self.encoder(x).chunk(2, dim=-1)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        logits = self.decoder(z)
        reconstruction = nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none"
        ).sum(-1)
        kl = -0.5 * (1 + log_var - mean.square() - log_var.exp()).sum(-1)
        return (reconstruction + kl).mean()


def inputs(path: Path) -> torch.Tensor:
    with np.load(path, allow_pickle=False) as arrays:
        images = arrays["images"]
    return torch.from_numpy((images.reshape(len(images), -1) / np.float32(255)).astype("f4"))


@torch.no_grad()
def score(vae: VAE, x: torch.Tensor, batch: int = 10_000) -> float:
    return float(sum(vae.loss(chunk) * len(chunk) for chunk in x.split(batch)) / len(x))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", required=True, help="latent x hidden x batch")
    parser.add_argument("--hidden-layers", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    latent, hidden, batch = (int(v) for v in args.size.split("x"))
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    train, val, test = (inputs(args.data_dir / f"{n}.npz") for n in ("train", "val", "test"))
    vae = VAE(latent, hidden, args.hidden_layers)
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3, eps=1e-7)  # Keras's epsilon
    ends = [time.perf_counter()]
    for _ in range(args.epochs):
        for rows in torch.randperm(len(train)).split(batch):
            optimizer.zero_grad(set_to_none=True)
            vae.loss(train[rows]).backward()
            optimizer.step()
        score(vae, val)
        ends.append(time.perf_counter())
    seconds = np.diff(ends)
    result = {
        "impl": "pytorch",
        "size": args.size,
        "precision": f"float32, torch {torch.__version__}, {args.threads} threads",
        "examples_per_second": len(train) / float(np.median(seconds[1:])),
        "whole_run_examples_per_second": args.epochs * len(train) / float(seconds.sum()),
        "first_epoch_seconds": float(seconds[0]),
        "neg_elbo": score(vae, test),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
