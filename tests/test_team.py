"""The team's set-up on real servers, on loopback: MLflow on PostgreSQL with its artifacts in
an S3 bucket, a DVC remote in another bucket of the same S3 API, the registered model
served over HTTP, several machines' experiments meeting in one place, and the runs
compared in the UI in a real browser.

The module trains twice against one ``mlflow server``: the default model and, as a
``dvc exp run``, the conditional one, so that both inputs of the served model are
exercised. Nothing lands in a local ``mlflow.db`` or ``mlartifacts/``.
"""

import json
import os
import shutil
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import psycopg
import pytest
from conftest import ROOT
from pipeline_repo import dvc, experiments, git, make_repo, ran, run
from servers import (
    S3,
    S3_CREDENTIALS,
    Postgres,
    Server,
    free_port,
    mlflow_command,
    postgres_bin,
)

from mnist_vae import serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        postgres_bin() is None,
        reason="PostgreSQL is not installed (make test installs Debian's where apt-get may)",
    ),
]

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))
MLFLOW_BUCKET, DVC_BUCKET = "mlflow", "dvc-remote"
UI_TIMEOUT_MS = 90_000  # a guard against a hang: the pages drew in seconds on a Zen 3
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (make test installs it where apt-get may)",
)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The S3 API, and the credentials every client here uses for it."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in S3_CREDENTIALS.items():
            patch.setenv(name, value)
        s3 = S3(tmp_path_factory.mktemp("s3"), MLFLOW_BUCKET, DVC_BUCKET)
        yield s3
        s3.stop()


@pytest.fixture(scope="module")
def postgres():
    database = Postgres(postgres_bin())
    yield database
    database.stop()


def _team_host() -> str | None:
    """A name of this machine that is neither localhost nor an IP address and resolves to
    loopback (its host name, where /etc/hosts maps it so): the tests' stand-in for the
    team's ``mlflow.internal``."""
    name = socket.gethostname()
    try:
        address = socket.gethostbyname(name)
    except OSError:
        return None
    return name if address.startswith("127.") and name != "localhost" else None


TEAM_HOST = _team_host()
needs_team_host = pytest.mark.skipif(
    TEAM_HOST is None, reason="no name of this machine but localhost resolves to loopback"
)


@pytest.fixture(scope="module")
def server(postgres, s3, tmp_path_factory):
    """``mlflow server`` as a team runs one: PostgreSQL behind it, artifacts in S3 through
    its proxy (so that clients need no S3 credentials of their own), and the one host
    name its clients use allowed, as a Host and as the UI's origin. Every client here,
    the browser too, reaches it by that name."""
    folder = tmp_path_factory.mktemp("team")
    host, port = TEAM_HOST or "127.0.0.1", free_port()
    server = Server(
        mlflow_command(),
        "server",
        "--backend-store-uri",
        postgres.url,
        "--artifacts-destination",
        f"s3://{MLFLOW_BUCKET}/artifacts",
        "--allowed-hosts",
        f"{host}:{port}",
        "--cors-allowed-origins",  # the UI's own requests come from that name too
        f"http://{host}:{port}",
        "--workers",
        "1",
        ready="/health",
        cwd=folder,
        env={"MLFLOW_S3_ENDPOINT_URL": s3.url},
        port=port,
    ).wait()
    yield f"http://{host}:{port}"
    server.stop()


@needs_team_host
def test_the_server_answers_its_name_and_refuses_a_host_it_was_not_told_of(server):
    """Clients use the team's name for the server, which MLflow refuses (403) unless it
    is in ``--allowed-hosts``; any other Host header, as a DNS-rebinding page sends, is
    still refused."""
    assert urllib.parse.urlsplit(server).hostname == TEAM_HOST
    assert mlflow.MlflowClient(server).search_experiments() is not None
    port = urllib.parse.urlsplit(server).port
    forged = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1",
        headers={"Host": f"attacker.example:{port}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=60)
    assert refused.value.code == 403


@pytest.fixture(scope="module")
def repo(server, s3, tmp_path_factory, mnist_dir):
    """The pipeline run, then the conditional model as an experiment, logged to the server;
    the repo's DVC remote is the S3 bucket, committed in its DVC config."""
    repo = make_repo(tmp_path_factory.mktemp("team-repo") / "repo")
    dvc(repo, "remote", "add", "-d", "shared", f"s3://{DVC_BUCKET}/store")
    dvc(repo, "remote", "modify", "shared", "endpointurl", s3.url)
    git(repo, "commit", "-qam", "the team's DVC remote")
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


def test_the_pipeline_logs_to_a_team_server(server, repo, tmp_path, postgres, s3):
    baseline, conditional = _runs(server)

    assert not (repo / "mlflow.db").exists() and not (repo / "mlartifacts").exists()
    with psycopg.connect(postgres.url) as database, database.cursor() as cursor:
        cursor.execute("SELECT run_uuid FROM runs")
        assert {row[0] for row in cursor} == {baseline.info.run_id, conditional.info.run_id}
    stored = s3.keys(MLFLOW_BUCKET)
    for logged in (baseline, conditional):
        assert any(f"/{logged.info.run_id}/artifacts/samples.png" in key for key in stored)
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


def test_a_second_clone_pulls_every_output_and_reruns_nothing(repo, tmp_path):
    """``dvc push`` to the S3 remote, then a teammate's clone: ``dvc pull`` brings every
    output of the commit, so its ``dvc repro`` has nothing to run."""
    dvc(repo, "push", "--all-commits")  # the workspace holds an experiment; HEAD's too
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))

    dvc(clone, "pull")

    assert ran(dvc(clone, "repro")) == []
    assert (clone / "dvc.lock").read_text() == git(repo, "show", "HEAD:dvc.lock")
    assert (clone / "models" / "vae.keras").stat().st_size > 0
    assert not (clone / "mlflow.db").exists()


def test_the_champion_and_the_other_version_are_served(server, repo):
    """``mlflow models serve`` turns latent vectors, and digits for the conditional model,
    into the decoder's images: the same images as the model loaded in Python."""
    out = run(repo, "mnist-vae", "champion", MLFLOW_TRACKING_URI=server)
    # The workspace holds the conditional experiment (`dvc exp run` applies it there); a
    # conditional model bounds -log p(x | digit), so the other version does not compete.
    assert out.strip().splitlines()[-1].startswith("mnist-vae@champion -> version ")
    assert ", best of 1 like bernoulli, gray, conditional, test set " in out
    client = mlflow.MlflowClient(server)
    champion = client.get_model_version_by_alias("mnist-vae", "champion")
    assert client.get_run(champion.run_id).data.params["train.conditional"] == "true"
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


def test_a_review_gives_no_verdict_between_models_that_score_different_things(server, repo):
    """The conditional model's -ELBO bounds -log p(x | digit): a lower number than the
    unconditional model's is no better model, and the review says so."""
    run(repo, "mnist-vae", "review", "--rev", "conditional", "--output", "review/cond.md",
        MLFLOW_TRACKING_URI=server)  # fmt: skip

    report = (repo / "review" / "cond.md").read_text()
    assert (
        "**Not comparable**: conditional: unconditional against conditional (HEAD against "
        "conditional)."
    ) in report
    rows = [line for line in report.splitlines() if line.startswith("| test.")]
    assert rows and all(row.endswith("| **not comparable** |") for row in rows), rows


def _check_bad_requests_are_refused(url: str, inputs: dict) -> None:
    """A NaN latent vector, a digit outside 0-9, digits that do not match the vectors row
    for row, and an oversized request each get a 400 naming the field, and no stack
    trace, where a NaN image, a wrapped-around digit, a stack trace or 160 MB would come
    back."""
    nan_z = inputs["z"].copy()
    nan_z[3, 1] = np.nan
    bad = [({"z": nan_z}, "z: row 3 is not finite")]
    if "digit" in inputs:
        digits = inputs["digit"].copy()
        digits[2] = -1
        bad.append(({"digit": digits}, "digit: row 2 is -1, expected 0 to 9"))
        bad.append(
            ({"digit": inputs["digit"][:-1]}, "digit: 9 rows, expected one per row of z (10)")
        )
    many = np.zeros((serving.MAX_ROWS + 1, inputs["z"].shape[1]), np.float32)
    many_digits = {"digit": np.zeros(len(many), np.int64)} if "digit" in inputs else {}
    bad.append(({"z": many, **many_digits}, f"expected at most {serving.MAX_ROWS} per request"))
    for change, message in bad:
        body = {"inputs": {k: v.tolist() for k, v in {**inputs, **change}.items()}}
        try:
            answered = _post(url + "/invocations", body)
        except urllib.error.HTTPError as refused:
            assert refused.code == 400, message
            answer = json.load(refused)
        else:
            pytest.fail(f"answered, where {message!r} was expected: {str(answered)[:200]}")
        assert message in answer["message"], answer
        assert "Traceback" not in json.dumps(answer), answer


def _chromium(playwright):
    """Debian's Chromium, headless; playwright's own browser download needs the internet."""
    return playwright.chromium.launch(
        executable_path=shutil.which("chromium"), args=["--no-sandbox"]
    )


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@needs_chromium
def test_the_ui_shows_both_runs_with_their_datasets_params_and_metrics(server, repo):
    from playwright.sync_api import sync_playwright

    runs = _runs(server)
    experiment = runs[0].info.experiment_id
    ids = json.dumps([logged.info.run_id for logged in runs])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = _chromium(playwright)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{server}/#/experiments/{experiment}/runs")
        for logged in runs:
            page.get_by_text(logged.info.run_name, exact=True).first.wait_for(
                timeout=UI_TIMEOUT_MS
            )
        page.screenshot(path=ARTIFACTS / "mlflow-ui-runs.png")
        runs_table = page.inner_text("body")

        page.goto(f"{server}/#/compare-runs?runs={ids}&experiments={json.dumps([experiment])}")
        page.get_by_text("test.neg_elbo", exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)
        page.set_viewport_size({"width": 1600, "height": 3600})  # every row, unscrolled
        page.screenshot(path=ARTIFACTS / "mlflow-ui-compare.png")
        text = page.inner_text("body")
        browser.close()

    # The Dataset column: each run's training split, with DVC's hash of its folder.
    (digest,) = {given.dataset.digest for logged in runs for given in logged.inputs.dataset_inputs}
    assert runs_table.count(f"train ({digest})") == len(runs), runs_table
    (row,) = [line for line in text.splitlines() if line.startswith("train.conditional\t")]
    assert row.split("\t")[1:] == ["false", "true"]
    for logged in runs:
        assert logged.info.run_id in text
        assert f"{logged.data.metrics['test.neg_elbo']:.4g}" in text


@needs_chromium
def test_dvc_plots_draw_with_the_network_off(repo, tmp_path):
    """The repo's DVC config names a page that carries Vega itself: the workspace's
    experiment against HEAD draws every chart in a browser that has no network."""
    from playwright.sync_api import sync_playwright

    dvc(repo, "plots", "diff", "HEAD", "-o", str(tmp_path / "plots"))
    page_file = tmp_path / "plots" / "index.html"
    html = page_file.read_text()
    charts = html.count("vegaEmbed(")
    asked = []
    with sync_playwright() as playwright:
        browser = _chromium(playwright)
        page = browser.new_context(
            offline=True, viewport={"width": 1400, "height": 1000}
        ).new_page()
        page.on("request", lambda request: asked.append(request.url))
        page.goto(page_file.as_uri())
        drawn = page.locator(".vega-embed canvas")
        drawn.nth(charts - 1).wait_for(timeout=UI_TIMEOUT_MS)
        widths = [(chart.bounding_box() or {"width": 0})["width"] for chart in drawn.all()]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "dvc-plots-offline.png")
        browser.close()

    assert charts >= 6 and "cdn." not in html
    assert len(widths) == charts and min(widths) > 0
    assert [url for url in asked if not url.startswith("file:")] == []


def test_experiments_from_two_machines_meet_in_a_third_clone(server, repo, tmp_path):
    """The module's repo, where the conditional experiment ran, and a clone of the team's
    bare repository stand for two machines. Each runs an experiment against the shared
    MLflow server and S3 remote and sends it with ``dvc exp push``; a third clone's
    ``dvc exp pull`` then shows both, with the metrics MLflow holds, and restores either
    one's outputs. (Last in the module: it adds runs and versions that the tests above do
    not expect.)"""
    dvc(repo, "push", "--all-commits")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    dvc(repo, "exp", "push", str(origin), "conditional")
    machine = tmp_path / "machine-b"
    git(tmp_path, "clone", "-q", str(origin), str(machine))
    dvc(machine, "pull")
    dvc(machine, "exp", "run", "-n", "machine-b", "-S", "train.hidden_size=16",
        MLFLOW_TRACKING_URI=server)  # fmt: skip
    dvc(machine, "exp", "push", "origin", "machine-b")
    third = tmp_path / "third"
    git(tmp_path, "clone", "-q", str(origin), str(third))

    for name in ("conditional", "machine-b"):
        dvc(third, "exp", "pull", "origin", name)

    shown = experiments(third)
    assert set(shown) == {"conditional", "machine-b"}
    logged = {run.data.tags.get("dvc.exp_name"): run for run in _runs(server)}
    for name in shown:
        test = shown[name]["metrics"]["metrics/evaluate.json"]["data"]["test"]
        assert test and {f"test.{key}": value for key, value in test.items()} == {
            key: pytest.approx(value)
            for key, value in logged[name].data.metrics.items()
            if key.startswith("test.")
        }
    dvc(third, "exp", "apply", "conditional")
    assert ran(dvc(third, "repro")) == []
    assert "conditional: true" in (third / "params.yaml").read_text()
