"""Fetching from mirrors over HTTP on 127.0.0.1 and from local folders, checked by SHA-256."""

import hashlib
import http.server
import threading
from collections import Counter
from pathlib import Path

import pytest

from mnist_vae.errors import PipelineError
from mnist_vae.mnist import download

NAME = "train-labels-idx1-ubyte.gz"


class _Mirrors(http.server.BaseHTTPRequestHandler):
    """Serves one folder under several mirrors that each misbehave in their own way.

    /good/ serves the files, /down/ answers 500, /missing/ answers 404, /wrong/ serves other
    bytes, and /flaky/ answers 503 to the first request for each file, then serves it.
    """

    folder: Path
    requests: Counter

    def do_GET(self):
        mirror, name = self.path.strip("/").split("/", 1)
        self.requests[mirror] += 1
        if mirror == "down" or (mirror == "flaky" and self.requests[mirror] == 1):
            return self.send_error(503 if mirror == "flaky" else 500)
        if mirror == "missing" or not (self.folder / name).is_file():
            return self.send_error(404)
        body = (self.folder / name).read_bytes()
        if mirror == "wrong":
            body = b"<html>not the file</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirrors(request):
    """Starts the mirrors on a free port of 127.0.0.1 for the folder the test names."""

    def serve(folder: Path):
        handler = type("Handler", (_Mirrors,), {"folder": folder, "requests": Counter()})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        request.addfinalizer(server.shutdown)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        return (lambda mirror: f"{base}/{mirror}/"), handler.requests

    return serve


def test_skips_failing_and_wrong_mirrors(tiny_mnist, mirrors):
    folder, checksums = tiny_mnist
    url, requests = mirrors(folder)

    data = download.fetch(
        NAME, [url("down"), url("wrong"), url("good")], checksums[NAME], backoff=0
    )

    assert data == (folder / NAME).read_bytes()
    assert requests == {"down": 3, "wrong": 1, "good": 1}


def test_retries_a_mirror_that_fails_once(tiny_mnist, mirrors):
    folder, checksums = tiny_mnist
    url, requests = mirrors(folder)

    assert download.fetch(NAME, [url("flaky")], checksums[NAME], backoff=0)
    assert requests == {"flaky": 2}


def test_does_not_retry_a_missing_file(tiny_mnist, mirrors):
    folder, checksums = tiny_mnist
    url, requests = mirrors(folder)

    with pytest.raises(PipelineError, match="HTTP 404"):
        download.fetch(NAME, [url("missing")], checksums[NAME], backoff=0)
    assert requests == {"missing": 1}


def test_names_every_failed_source_on_one_line(tiny_mnist, mirrors):
    folder, checksums = tiny_mnist
    url, _ = mirrors(folder)
    wrong_digest = hashlib.sha256(b"<html>not the file</html>").hexdigest()

    with pytest.raises(PipelineError) as error:
        download.fetch(
            NAME, [url("down"), url("wrong"), str(folder / "nope")], checksums[NAME], backoff=0
        )

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{NAME}: no source gave the expected file; ")
    assert f"{url('down')}{NAME}: HTTP 500" in message
    assert f"{url('wrong')}{NAME}: sha256 is {wrong_digest}, expected {checksums[NAME]}" in message
    assert f"{folder / 'nope' / NAME}: no such file" in message


def test_local_file_with_wrong_checksum(tiny_mnist):
    folder, checksums = tiny_mnist
    (folder / NAME).write_bytes(b"corrupt")

    with pytest.raises(PipelineError) as error:
        download.fetch(NAME, [str(folder)], checksums[NAME])

    actual = hashlib.sha256(b"corrupt").hexdigest()
    assert str(error.value) == f"{folder / NAME}: sha256 is {actual}, expected {checksums[NAME]}"


def test_official_checksums_match_the_shared_copy(mnist_dir):
    for name, digest in download.SHA256.items():
        assert hashlib.sha256((mnist_dir / name).read_bytes()).hexdigest() == digest
