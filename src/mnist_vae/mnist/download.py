"""Fetching the four official MNIST files from mirrors or a local folder, checked by SHA-256.

A file is accepted only when its bytes match the published digest, so a mirror that serves
an HTML error page, a truncated file or another data set is skipped like one that is down.
"""

import hashlib
import time
import urllib.error
import urllib.request
from pathlib import Path

from mnist_vae.errors import PipelineError

SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}

PUBLIC_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_CHUNK = 1 << 16


def fetch(
    name: str, sources: list[str], sha256: str, retries: int = 3, backoff: float = 1.0
) -> bytes:
    """Returns the bytes of ``name`` from the first source that has the right file.

    Args:
        name: the file name, as on the mirrors.
        sources: mirror URLs (``http://``, ``https://``) or local folders, tried in order.
        sha256: the expected hex digest.
        retries: attempts per URL for errors that may pass (time-outs, 5xx answers).
        backoff: seconds before the first retry, doubled for each further one.

    Raises:
        PipelineError: no source had the file with that digest; the message lists why
            each one failed.
    """
    failures = []
    for source in sources:
        location = _join(source, name)
        try:
            data = _read(location, retries, backoff)
        except (OSError, urllib.error.URLError) as error:
            failures.append(f"{location}: {_reason(error)}")
            continue
        actual = hashlib.sha256(data).hexdigest()
        if actual == sha256:
            return data
        failures.append(f"{location}: sha256 is {actual}, expected {sha256}")
    if len(failures) == 1:
        raise PipelineError(failures[0])
    raise PipelineError(f"{name}: no source gave the expected file; " + "; ".join(failures))


def _join(source: str, name: str) -> str:
    if _is_url(source):
        return source.rstrip("/") + "/" + name
    return str(Path(source) / name)


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _read(location: str, retries: int, backoff: float) -> bytes:
    if not _is_url(location):
        return Path(location).read_bytes()
    for attempt in range(retries - 1):
        try:
            return _download(location)
        except urllib.error.HTTPError as error:
            if error.code < 500:
                raise
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            pass
        time.sleep(backoff * 2**attempt)
    return _download(location)


def _download(url: str) -> bytes:
    from tqdm import tqdm

    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        chunks = []
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1]) as bar:
            while chunk := response.read(_CHUNK):
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"unreachable ({error.reason})"
    if isinstance(error, FileNotFoundError):
        return "no such file"
    return str(error)
