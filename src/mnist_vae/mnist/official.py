"""The official MNIST files, fetched from a mirror or a folder, verified and decoded.

Only the prepare stage reads them; every later stage reads the splits it wrote.
"""

from mnist_vae.errors import PipelineError
from mnist_vae.mnist import download, idx
from mnist_vae.mnist.data import IMAGE_SHAPE, Split

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_official(sources: list[str], checksums: dict[str, str] = download.SHA256) -> dict:
    """Returns the official ``train`` and ``test`` sets, every file verified before decoding."""
    sets = {}
    for split, (images_name, labels_name) in _FILES.items():
        images = idx.decode(
            images_name, download.fetch(images_name, sources, checksums[images_name]), IMAGE_SHAPE
        )
        labels = idx.decode(
            labels_name, download.fetch(labels_name, sources, checksums[labels_name]), ()
        )
        if len(images) != len(labels):
            raise PipelineError(
                f"{labels_name}: {len(labels)} labels, expected {len(images)} as in {images_name}"
            )
        sets[split] = Split(images, labels)
    return sets
