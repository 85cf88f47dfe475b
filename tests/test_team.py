"""The team's MLflow: a tracking server the pipeline logs to, the registered model served
over HTTP, and the runs compared in the UI in a real browser.

The module trains twice against one ``mlflow server`` on loopback: the default model and,
as a ``dvc exp run``, the conditional one, so that both inputs of the served model are
exercised.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
from conftest import ROOT
from pipeline_repo import dvc, git, make_repo, run

pytestmark = pytest.mark.slow

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A command serving HTTP on a free loopback port, stopped on exit."""

    def __init__(self, *command: str, ready: str, cwd: Path, env: dict | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"server-{self.port}.log"
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.ready = ready

    def wait(self, timeout: float = 120) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(self.url + self.ready, timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"{self.url} did not answer in {timeout} s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _mlflow_command() -> str:
    return str(Path(sys.executable).with_name("mlflow"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``mlflow server`` with its own SQLite store and artifact folder, as a team runs one."""
    folder = tmp_path_factory.mktemp("team")
    server = Server(
        _mlflow_command(),
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--workers",
        "1",
        ready="/health",
        cwd=folder,
    ).wait()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def repo(server, tmp_path_factory, mnist_dir):
    """The pipeline run, then the conditional model as an experiment, logged to the server."""
    repo = make_repo(tmp_path_factory.mktemp("team-repo") / "repo")
    dvc(repo, "repro", MLFLOW_TRACKING_URI=server)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    dvc(repo, "exp", "run", "-n", "conditional", "-S", "train.conditional=true",
        MLFLOW_TRACKING_URI=server)  # fmt: skip
    return repo


def _runs(server: str) -> list:
    client = mlflow.MlflowClient(server)
    experiment = client.get_experiment_by_name("mnist-vae")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time"])


def test_the_pipeline_logs_to_a_team_server(server, repo, tmp_path):
    baseline, conditional = _runs(server)

    assert not (repo / "mlflow.db").exists()
    assert conditional.info.run_name == "conditional"
    assert [run.data.params["train.conditional"] for run in (baseline, conditional)] == [
        "false",
        "true",
    ]
    for logged in (baseline, conditional):
        assert logged.info.status == "FINISHED"
        assert logged.info.artifact_uri.startswith("mlflow-artifacts:/")
        assert "test.neg_elbo" in logged.data.metrics
    served = mlflow.MlflowClient(server).download_artifacts(
        conditional.info.run_id, "samples.png", str(tmp_path)
    )
    assert Path(served).read_bytes() == (repo / "plots" / "samples.png").read_bytes()


def test_the_champion_and_the_other_version_are_served(server, repo):
    """``mlflow models serve`` turns latent vectors, and digits for the conditional model,
    into the decoder's images: the same images as the model loaded in Python."""
    out = run(repo, "mnist-vae-champion", MLFLOW_TRACKING_URI=server)
    assert out.strip().splitlines()[-1].startswith("mnist-vae@champion -> version ")
    client = mlflow.MlflowClient(server)
    champion = client.get_model_version_by_alias("mnist-vae", "champion")
    (other,) = [
        v
        for v in client.search_model_versions("name = 'mnist-vae'")
        if v.version != champion.version
    ]
    uris = ["models:/mnist-vae@champion", f"models:/mnist-vae/{other.version}"]
    servers = [
        Server(
            _mlflow_command(),
            "models",
            "serve",
            "-m",
            uri,
            "--env-manager",
            "local",
            ready="/ping",
            cwd=repo,
            env={"MLFLOW_TRACKING_URI": server},
        )  # fmt: skip
        for uri in uris
    ]
    z = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    mlflow.set_tracking_uri(server)
    served = {}
    try:
        for uri, model_server in zip(uris, servers, strict=True):
            model = mlflow.pyfunc.load_model(uri)
            conditional = "digit" in model.metadata.get_input_schema().input_names()
            inputs = {"z": z, "digit": np.arange(10)} if conditional else {"z": z}
            body = {"inputs": {name: value.tolist() for name, value in inputs.items()}}
            answer = _post(model_server.wait().url + "/invocations", body)
            images = np.array(answer["predictions"], np.float32)
            assert images.shape == (10, 28, 28)
            assert 0 < images.min() <= images.max() < 1
            np.testing.assert_allclose(images, model.predict(inputs), atol=1e-6)
            served[conditional] = images
    finally:
        for model_server in servers:
            model_server.stop()
    assert set(served) == {False, True}
    assert np.abs(served[True] - served[False]).max() > 1e-3


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (make test installs it where apt-get may)",
)
def test_the_ui_shows_both_runs_with_params_and_metrics(server, repo):
    from playwright.sync_api import sync_playwright

    runs = _runs(server)
    experiment = runs[0].info.experiment_id
    ids = json.dumps([logged.info.run_id for logged in runs])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{server}/#/experiments/{experiment}/runs")
        for logged in runs:
            page.get_by_text(logged.info.run_name, exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=ARTIFACTS / "mlflow-ui-runs.png")

        page.goto(f"{server}/#/compare-runs?runs={ids}&experiments={json.dumps([experiment])}")
        page.get_by_text("test.neg_elbo", exact=True).first.wait_for(timeout=30_000)
        page.set_viewport_size({"width": 1600, "height": 3600})  # every row, unscrolled
        page.screenshot(path=ARTIFACTS / "mlflow-ui-compare.png")
        text = page.inner_text("body")
        browser.close()

    (row,) = [line for line in text.splitlines() if line.startswith("train.conditional\t")]
    assert row.split("\t")[1:] == ["false", "true"]
    for logged in runs:
        assert logged.info.run_id in text
        assert f"{logged.data.metrics['test.neg_elbo']:.4g}" in text
