"""What makes two runs' test metrics comparable: the same bound, on the same inputs.

A test -ELBO bounds -log p(x) of one set of inputs under one kind of likelihood. A
Gaussian's density is in other units than a Bernoulli's probability (and goes negative
for a small ``decoder_std``); binarized pixels are other data than gray ones, and each
evaluate seed draws other binary images; a conditional model bounds -log p(x | digit);
another test set is other images. The champion is crowned, and a review judged, only
among runs whose key agrees on all of these. The training objective is not part of it:
the evaluate stage scores every model on the same ELBO and IW bound, whatever it trained
on.

The evaluate stage tags its run and the run's model versions with the key (``TAG`` +
field), so that a key can be read wherever the scores are.
"""

import hashlib

import numpy as np

from mnist_vae.mnist.data import Split

TAG = "comparable."
FIELDS = ("likelihood", "inputs", "conditional", "test_set")


def key(model_config, evaluate_seed: int, test: Split) -> dict[str, str]:
    """The key of a model of ``model_config`` scored on ``test`` by the evaluate stage."""
    binarized = model_config.binarize != "none"
    return {
        "likelihood": model_config.likelihood,
        "inputs": f"binarized, seed {evaluate_seed}" if binarized else "gray",
        "conditional": "conditional" if model_config.conditional else "unconditional",
        "test_set": f"{digest(test)}, {len(test.labels)} images",
    }


def digest(split: Split) -> str:
    """The split's images and labels, hashed: any other image or order is another set."""
    hashed = hashlib.sha256()
    for array in (split.images, split.labels):
        hashed.update(np.ascontiguousarray(array).tobytes())
    return hashed.hexdigest()[:12]


def tags(values: dict[str, str]) -> dict[str, str]:
    return {TAG + field: values[field] for field in FIELDS}


def from_tags(tags: dict[str, str]) -> dict[str, str] | None:
    """The key a run or model version was tagged with; None where it has none (scored
    before keys were kept, or not scored at all)."""
    if not all(TAG + field in tags for field in FIELDS):
        return None
    return {field: tags[TAG + field] for field in FIELDS}


def spelled(values: dict[str, str] | None) -> str:
    """The key as one line a reviewer reads, e.g. ``bernoulli, gray, unconditional, test
    set 3f2a..., 10000 images``."""
    if values is None:
        return "unknown (no comparable.* tags)"
    return ", ".join(
        f"test set {values[field]}" if field == "test_set" else values[field] for field in FIELDS
    )


def differences(a: dict[str, str] | None, b: dict[str, str] | None) -> list[str]:
    """Where two known keys disagree, as ``field: a against b``; none where a key is
    unknown, which says nothing either way."""
    if a is None or b is None:
        return []
    return [f"{field}: {a[field]} against {b[field]}" for field in FIELDS if a[field] != b[field]]
