"""Decoding IDX files, and refusing malformed ones with a message that names the file."""

import gzip

import numpy as np
import pytest
from conftest import idx_bytes

from mnist_vae.errors import PipelineError
from mnist_vae.mnist import idx


def test_decodes_images_and_labels():
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    labels = np.array([7, 2, 1], dtype=np.uint8)

    assert np.array_equal(idx.decode("i.gz", idx_bytes(images), (28, 28)), images)
    assert np.array_equal(idx.decode("l.gz", idx_bytes(labels), ()), labels)


def _images() -> bytes:
    return gzip.decompress(idx_bytes(np.zeros((2, 28, 28))))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not gzip at all", "not a valid gzip file"),
        (gzip.compress(b"\x00\x00\x08\x03\x00\x00"), "6 bytes is too short for an IDX header"),
        (gzip.compress(b"\x00\x00\x0d\x03" + _images()[4:]), "magic number is 00000d03"),
        (idx_bytes(np.zeros(2)), "magic number is 00000801"),
        (idx_bytes(np.zeros((2, 28, 27))), "dimensions are (2, 28, 27)"),
        (gzip.compress(_images()[:-1]), "1583 bytes after decompression, expected 1584"),
        (gzip.compress(_images() + b"\x00"), "1585 bytes after decompression, expected 1584"),
    ],
    ids=[
        "not-gzip",
        "short-header",
        "wrong-type",
        "labels-for-images",
        "wrong-dims",
        "truncated",
        "trailing-bytes",
    ],
)
def test_rejects_malformed_files(data, message):
    with pytest.raises(PipelineError, match=r"^bad\.gz: ") as error:
        idx.decode("bad.gz", data, (28, 28))
    assert message in str(error.value)
