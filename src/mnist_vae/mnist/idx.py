"""Decoding IDX files, the format MNIST ships in, with every header field checked.

A file that passes its checksum can still be the wrong one of the four (labels where images
were expected); checking the magic number, the dimensions and the exact length catches that
with a message that names the file.
"""

import gzip
import zlib

import numpy as np

from mnist_vae.errors import PipelineError

_UBYTE = 0x08


def decode(name: str, data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """Decodes gzipped IDX bytes of unsigned bytes into an array.

    Args:
        name: the file's name, used in error messages.
        data: the gzipped file's bytes.
        shape: the expected trailing dimensions, ``(28, 28)`` for images and ``()`` for
            labels; the leading dimension (the count) is read from the header.

    Raises:
        PipelineError: the bytes are not gzip, or the header or length are not as expected.
    """
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise PipelineError(f"{name}: not a valid gzip file ({error})") from None
    ndim = 1 + len(shape)
    magic = bytes(raw[:4])
    expected_magic = bytes([0, 0, _UBYTE, ndim])
    if magic != expected_magic:
        raise PipelineError(
            f"{name}: magic number is {magic.hex()}, expected {expected_magic.hex()} "
            f"(unsigned bytes, {ndim} dimension(s))"
        )
    if len(raw) < 4 + 4 * ndim:
        raise PipelineError(f"{name}: {len(raw)} bytes is too short for an IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    if dims[1:] != shape:
        raise PipelineError(f"{name}: dimensions are {dims}, expected (count, *{shape})")
    header = 4 + 4 * ndim
    expected_length = header + int(np.prod(dims))
    if len(raw) != expected_length:
        raise PipelineError(
            f"{name}: {len(raw)} bytes after decompression, expected {expected_length} "
            f"for dimensions {dims}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
