"""The team's MLflow: a tracking server the pipeline logs to, the registered model served
over HTTP, and the runs compared in the UI in a real browser.

The module trains twice against one ``mlflow server`` on loopback: the default model and,
as a ``dvc exp run``, the conditional one, so that both inputs of the served model are
exercised.
"""

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pytest
from conftest import ROOT
from pipeline_repo import dvc, git, make_repo, run
from servers import Server, mlflow_command

from mnist_vae import serving

pytestmark = pytest.mark.slow

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``mlflow server`` with its own SQLite store and artifact folder, as a team runs one."""
    folder = tmp_path_factory.mktemp("team")
    server = Server(
        mlflow_command(),
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
    out = run(repo, "mnist-vae", "champion", MLFLOW_TRACKING_URI=server)
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
            mlflow_command(),
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
            _check_bad_requests_are_refused(model_server.url, inputs)
    finally:
        for model_server in servers:
            model_server.stop()
    assert set(served) == {False, True}
    assert np.abs(served[True] - served[False]).max() > 1e-3


def _check_bad_requests_are_refused(url: str, inputs: dict) -> None:
    """A NaN latent vector, a digit outside 0-9 and an oversized request each get a 400
    naming the field, where a NaN image, a wrapped-around digit or 160 MB would come back."""
    nan_z = inputs["z"].copy()
    nan_z[3, 1] = np.nan
    bad = [({"z": nan_z}, "z: row 3 is not finite")]
    if "digit" in inputs:
        digits = inputs["digit"].copy()
        digits[2] = -1
        bad.append(({"digit": digits}, "digit: row 2 is -1, expected 0 to 9"))
    many = np.zeros((serving.MAX_ROWS + 1, inputs["z"].shape[1]), np.float32)
    many_digits = {"digit": np.zeros(len(many), np.int64)} if "digit" in inputs else {}
    bad.append(({"z": many, **many_digits}, f"expected at most {serving.MAX_ROWS} per request"))
    for change, message in bad:
        body = {"inputs": {k: v.tolist() for k, v in {**inputs, **change}.items()}}
        with pytest.raises(urllib.error.HTTPError) as refused:
            _post(url + "/invocations", body)
        assert refused.value.code == 400
        assert message in json.load(refused.value)["message"]


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
