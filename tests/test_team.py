"""The team's set-up on real servers, on loopback: MLflow on PostgreSQL with its artifacts in
an S3 bucket, a DVC remote in another bucket of the same S3 API, the registered model
served over HTTP, several machines' experiments meeting in one place, and the runs
compared in the UI in a real browser.

The module trains twice against one ``mlflow server``: the default model and, as a
``dvc exp run``, the conditional one, so that both inputs of the served model are
exercised. Nothing lands in a local ``mlflow.db`` or ``mlartifacts/``.
"""

import base64
import http.client
import json
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import psycopg
import pytest
import slurm_cluster
from browser import ARTIFACTS, TIMEOUT_MS, chromium, needs_chromium
from click.testing import CliRunner
from conftest import ROOT
from pipeline_repo import dvc, experiments, git, make_repo, ran, run, user_env
from servers import (
    S3,
    S3_CREDENTIALS,
    Postgres,
    Server,
    free_port,
    mlflow_command,
    postgres_bin,
)
from stage_processes import store_runs

from mnist_vae import commands, serving
from mnist_vae.tracking import mlflow_experiment, model_server
from mnist_vae.tracking.accounts import ROLES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        postgres_bin() is None,
        reason="PostgreSQL is not installed (make test installs Debian's where apt-get may)",
    ),
]

MLFLOW_BUCKET, DVC_BUCKET = "mlflow", "dvc-remote"


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


# The team's accounts, one per role (``mnist-vae team-account``), with passwords made for
# this run: nothing here is a default credential.
PASSWORDS = {name: f"{name}-{secrets.token_hex(8)}" for name in ("admin", *ROLES)}


def as_user(name: str, server: str) -> dict[str, str]:
    """A client's environment, as the docs set one up: the server, and an account."""
    return {
        "MLFLOW_TRACKING_URI": server,
        "MLFLOW_TRACKING_USERNAME": name,
        "MLFLOW_TRACKING_PASSWORD": PASSWORDS[name],
    }


@pytest.fixture(scope="module")
def server(postgres, s3, tmp_path_factory):
    """``tools/team-server``, as the docs start it: PostgreSQL behind it, artifacts in S3
    through its proxy (so clients need no S3 credentials), every request authenticated,
    and the one host name its clients use allowed, as a Host and as the UI's origin. Every
    client here, the browser too, reaches it by that name. The admin then opens one
    account per role; this process reads the store as the reviewer."""
    folder = tmp_path_factory.mktemp("team")
    host, port = TEAM_HOST or "127.0.0.1", free_port()
    settings = {  # the docs' /etc/mlflow/server.env
        "MLFLOW_SERVER_NAME": f"{host}:{port}",
        "MLFLOW_BACKEND_STORE_URI": postgres.url,
        "MLFLOW_AUTH_DATABASE_URI": postgres.create("mlflow_auth"),
        "MLFLOW_ARTIFACTS_DESTINATION": f"s3://{MLFLOW_BUCKET}/artifacts",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORDS["admin"],
        "MLFLOW_S3_ENDPOINT_URL": s3.url,
        "MLFLOW_WORKERS": "1",
        "XDG_STATE_HOME": str(folder),
    }
    team_server = Server(
        str(ROOT / "tools" / "team-server"), ready="/health", cwd=folder, env=settings, port=port
    ).wait()
    url = f"http://{host}:{port}"
    first, *others = ROLES
    team_account(first, first, url, PASSWORDS[first])
    for role in others:  # the same command, without a process start each
        result = CliRunner().invoke(
            commands.main,
            ["team-account", role, "--role", role],
            input=PASSWORDS[role] + "\n",
            env=as_user("admin", url),
        )
        assert result.exit_code == 0, result.output
    with pytest.MonkeyPatch.context() as patch:
        for name, value in as_user("reviewer", url).items():
            patch.setenv(name, value)
        yield url
    team_server.stop()
    log = team_server.log.read_text()
    assert not [word for word in PASSWORDS.values() if word in log], "a password in the log"


def team_account(username: str, role: str, server: str, password: str) -> str:
    """``mnist-vae team-account``, run by the admin, the password piped in."""
    result = subprocess.run(
        ["mnist-vae", "team-account", username, "--role", role],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=user_env(**as_user("admin", server)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


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
    dvc(repo, "repro", **as_user("trainer", server))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    dvc(repo, "exp", "run", "-n", "conditional", "-S", "train.conditional=true",
        **as_user("trainer", server))  # fmt: skip
    return repo


def test_the_pipeline_logs_to_a_team_server(server, repo, tmp_path, postgres, s3):
    baseline, conditional = store_runs(server, oldest_first=True)

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


def maintainer(server: str, home: Path) -> dict[str, str]:
    """The maintainer's client as the docs set one up: the account in
    ``~/.mlflow/credentials`` (mode 600), none in the environment."""
    credentials = home / ".mlflow" / "credentials"
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.touch(mode=0o600)
    credentials.write_text(
        "[mlflow]\nmlflow_tracking_username = maintainer\n"
        f"mlflow_tracking_password = {PASSWORDS['maintainer']}\n"
    )
    unset = {"MLFLOW_TRACKING_USERNAME": "", "MLFLOW_TRACKING_PASSWORD": ""}
    return {"MLFLOW_TRACKING_URI": server, "HOME": str(home), **unset}


def _status(server: str, user: str | None, password: str = "") -> int:
    request = urllib.request.Request(f"{server}/api/2.0/mlflow/experiments/search?max_results=5")
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_anonymous_and_wrong_password_clients_are_refused(server):
    assert _status(server, None) == 401
    assert _status(server, "trainer", "not-" + PASSWORDS["trainer"]) == 401
    assert _status(server, "nobody", PASSWORDS["trainer"]) == 401
    assert _status(server, "reviewer", PASSWORDS["reviewer"]) == 200


def test_a_wrong_password_stops_a_command_with_one_line_that_names_the_fix(server, repo):
    """The line names the server and the fix, and never a password: it ends up in CI and
    ``dvc queue`` logs."""
    wrong = {**as_user("trainer", server), "MLFLOW_TRACKING_PASSWORD": PASSWORDS["reviewer"]}
    failed = subprocess.run(
        ["mnist-vae", "champion"], cwd=repo, capture_output=True, text=True, env=user_env(**wrong)
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    (line,) = failed.stderr.strip().splitlines()
    assert f"MLflow store {server} refused the request" in line
    assert "MLFLOW_TRACKING_PASSWORD" in line and PASSWORDS["reviewer"] not in line


def test_only_the_maintainer_moves_the_champion(server, repo, tmp_path):
    """A trainer registers versions but cannot move ``@champion``, nor can a reviewer;
    each is refused in one line, and the alias stays where the maintainer put it."""
    run(repo, "mnist-vae", "champion", **maintainer(server, tmp_path))
    client = mlflow.MlflowClient(server)
    before = client.get_model_version_by_alias("mnist-vae", "champion").version
    for role in ("trainer", "reviewer"):
        refused = subprocess.run(
            ["mnist-vae", "champion", "--like", "1"],
            cwd=repo, capture_output=True, text=True, env=user_env(**as_user(role, server)),
        )  # fmt: skip
        assert refused.returncode == 1, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert line.startswith("Error: mnist-vae@champion was not moved: ") and "403" in line
    with pytest.raises(mlflow.exceptions.MlflowException, match="403"):
        client.delete_registered_model_alias("mnist-vae", "champion")  # as the reviewer
    assert client.get_model_version_by_alias("mnist-vae", "champion").version == before


def test_the_champion_and_the_other_version_are_served(server, repo, tmp_path):
    """``mnist-vae serve`` and ``mlflow models serve`` turn latent vectors, and digits for
    the conditional model, into the decoder's images: the same images as the model loaded
    in Python. Both are read as the reviewer."""
    out = run(repo, "mnist-vae", "champion", **maintainer(server, tmp_path))
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
    # The champion as the docs serve it, bounded; the other version as MLflow does.
    local = ["--env-manager", "local"]  # this environment, where MLflow would build one
    commands = {
        "models:/mnist-vae@champion": ["mnist-vae", "serve"],
        f"models:/mnist-vae/{other.version}": [mlflow_command(), "models", "serve", *local],
    }
    servers = {
        uri: Server(*command, "-m", uri, ready="/ping", cwd=repo, env=as_user("reviewer", server))
        for uri, command in commands.items()
    }
    z = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    mlflow.set_tracking_uri(server)
    served = {}
    try:
        for uri, process in servers.items():
            model = mlflow.pyfunc.load_model(uri)
            conditional = "digit" in model.metadata.get_input_schema().input_names()
            inputs = {"z": z, "digit": np.arange(10)} if conditional else {"z": z}
            body = {"inputs": {name: value.tolist() for name, value in inputs.items()}}
            answer = _post(process.wait().url + "/invocations", body)
            images = np.array(answer["predictions"], np.float32)
            assert images.shape == (10, 28, 28)
            assert 0 < images.min() <= images.max() < 1
            np.testing.assert_allclose(images, model.predict(inputs), atol=1e-6)
            served[conditional] = images
            guarded = uri == "models:/mnist-vae@champion"
            _check_bad_requests_are_refused(process.url, inputs, guarded)
        _check_the_request_size_is_bounded(servers["models:/mnist-vae@champion"].url)
    finally:
        for process in servers.values():
            process.stop()
    assert set(served) == {False, True}
    assert np.abs(served[True] - served[False]).max() > 1e-3


def test_a_review_gives_no_verdict_between_models_that_score_different_things(server, repo):
    """The conditional model's -ELBO bounds -log p(x | digit): a lower number than the
    unconditional model's is no better model, and the review says so."""
    run(repo, "mnist-vae", "review", "--rev", "conditional", "--output", "review/cond.md",
        **as_user("reviewer", server))  # fmt: skip

    report = (repo / "review" / "cond.md").read_text()
    assert (
        "**Not comparable**: conditional: unconditional against conditional (HEAD against "
        "conditional)."
    ) in report
    rows = [line for line in report.splitlines() if line.startswith("| test.")]
    assert rows and all(row.endswith("| **not comparable** |") for row in rows), rows


def _check_bad_requests_are_refused(url: str, inputs: dict, guarded: bool) -> None:
    """A NaN latent vector, a digit outside 0-9, digits that do not match the vectors row
    for row, and an oversized request each get a 400 naming the field, and no stack
    trace, where a NaN image, a wrapped-around digit, a stack trace or 160 MB would come
    back; so does a fractional digit, which MLflow's own server casts, where ``guarded``
    (``mnist-vae serve``)."""
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
        if guarded:
            fractional = inputs["digit"] + 0.5
            bad.append(({"digit": fractional}, "digit: row 0 is 0.5, expected a whole number"))
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


def _check_the_request_size_is_bounded(url: str) -> None:
    """A body over the limit gets a 413 before it is read: from its Content-Length, with
    not a byte of it sent, and, sent in chunks, as soon as it passes the limit, where its
    JSON, which does not parse, would otherwise get a 400 from MLflow's parser."""
    limit = model_server.MAX_REQUEST_BYTES
    address = urllib.parse.urlsplit(url)
    declared = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    declared.putrequest("POST", "/invocations")
    declared.putheader("Content-Type", "application/json")
    declared.putheader("Content-Length", str(limit + 1))
    declared.endheaders()
    chunked = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    halves = iter([b"[" * (limit // 2), b"[" * (limit - limit // 2 + 1)])
    chunked.request("POST", "/invocations", halves, {"Content-Type": "application/json"})
    for connection, size in ((declared, f"{limit + 1} bytes"), (chunked, f"over {limit} bytes")):
        answer = connection.getresponse()
        assert answer.status == 413, answer.read()[:300]
        assert f"request: {size}, expected at most {limit}" in json.load(answer)["message"]
        connection.close()


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@needs_chromium
def test_the_ui_shows_both_runs_with_their_datasets_params_and_metrics(server, repo):
    from playwright.sync_api import sync_playwright

    runs = store_runs(server, oldest_first=True)
    experiment = runs[0].info.experiment_id
    ids = json.dumps([logged.info.run_id for logged in runs])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        reviewer = {"username": "reviewer", "password": PASSWORDS["reviewer"]}
        page = browser.new_page(
            viewport={"width": 1600, "height": 1000}, http_credentials=reviewer
        )
        page.goto(f"{server}/#/experiments/{experiment}/runs")
        for logged in runs:
            page.get_by_text(logged.info.run_name, exact=True).first.wait_for(timeout=TIMEOUT_MS)
        page.screenshot(path=ARTIFACTS / "mlflow-ui-runs.png")
        runs_table = page.inner_text("body")

        # The README's link: the shared view, with what a reviewer compares on one screen.
        page.goto(
            f"{server}/#/experiments/{experiment}/runs?viewStateShareKey={mlflow_experiment.VIEW}"
        )
        names = [column.split("`")[1] for column in mlflow_experiment.COLUMNS]
        headers = [page.get_by_text(name, exact=True).first for name in names]
        for header in headers:
            header.wait_for(timeout=TIMEOUT_MS)
        first_screen = [header.bounding_box() for header in headers]
        page.screenshot(path=ARTIFACTS / "mlflow-ui-view.png")

        page.goto(f"{server}/#/compare-runs?runs={ids}&experiments={json.dumps([experiment])}")
        page.get_by_text("test.neg_elbo", exact=True).first.wait_for(timeout=TIMEOUT_MS)
        page.set_viewport_size({"width": 1600, "height": 3600})  # every row, unscrolled
        page.screenshot(path=ARTIFACTS / "mlflow-ui-compare.png")
        text = page.inner_text("body")
        browser.close()

    for name, box in zip(names, first_screen, strict=True):
        assert box and box["x"] + box["width"] <= 1600 and box["y"] <= 1000, (name, box)
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
        browser = chromium(playwright)
        page = browser.new_context(
            offline=True, viewport={"width": 1400, "height": 1000}
        ).new_page()
        page.on("request", lambda request: asked.append(request.url))
        page.goto(page_file.as_uri())
        drawn = page.locator(".vega-embed canvas")
        drawn.nth(charts - 1).wait_for(timeout=TIMEOUT_MS)
        widths = [(chart.bounding_box() or {"width": 0})["width"] for chart in drawn.all()]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "dvc-plots-offline.png")
        browser.close()

    assert charts >= 6 and "cdn." not in html
    assert len(widths) == charts and min(widths) > 0
    assert [url for url in asked if not url.startswith("file:")] == []


@pytest.fixture(scope="module")
def slurm():
    lacking = slurm_cluster.missing()
    if lacking:
        pytest.skip(
            f"Slurm is not installed (no {', '.join(lacking)}); make test installs Debian's "
            "slurm-wlm and munge where apt-get may"
        )
    cluster = slurm_cluster.Cluster()
    yield cluster
    cluster.stop()


# Four points on the small data; the last diverges.
SWEEP = ("-S", "train.learning_rate=1e-3,3e-3,1e-2,1000")
POINTS = [f"learning_rate-{rate}" for rate in ("0.001", "0.003", "0.01", "1000")]


def test_a_sweep_run_by_slurm_meets_again_in_a_third_clone(server, repo, slurm, tmp_path):
    """``mnist-vae sweep --slurm`` from a clone of the team's git remote: one job array on
    a real Slurm, each task in its own clone (the submitter's is gone before any starts),
    pulling from the S3 remote and logging to the team server. A third clone's ``--collect``
    pulls what came back: DVC's metrics are MLflow's, the diverged point is FAILED with its
    reason and unregistered, the best point is reviewed and restores without a rerun, and a
    resubmission would run the diverged point alone. (Last in the module: it adds runs and
    versions that the tests above do not expect.)"""
    dvc(repo, "push", "--all-commits")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    submitter, third = tmp_path / "submitter", tmp_path / "third"
    git(tmp_path, "clone", "-q", str(origin), str(submitter))
    trainer = {**as_user("trainer", server), **slurm.env}
    logs = f"--sbatch-arg=--output={tmp_path}/slurm-%A_%a.out"
    sweep = ["mnist-vae", "sweep", *SWEEP, "--cpus-per-task", "1", logs]

    submitted = run(submitter, *sweep, "--slurm", **trainer)
    shutil.rmtree(submitter)
    job = re.search(r"submitted Slurm job (\d+): 4 of 4 points", submitted)[1]
    states = slurm.wait(job, timeout=900)
    assert sorted(states.values()) == ["COMPLETED"] * 3 + ["FAILED"], _task_log(tmp_path, job)
    git(tmp_path, "clone", "-q", str(origin), str(third))
    collected = run(third, *sweep, "--collect", **trainer)

    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in collected.splitlines()
            if line.startswith("| learning_rate-")}  # fmt: skip
    assert list(rows) == POINTS, collected
    assert [row[0].strip() for row in rows.values()] == ["FINISHED"] * 3 + ["FAILED"]
    assert rows[POINTS[-1]][-2].strip().startswith("Diverged: training diverged at epoch 1")
    logged = {
        run.data.tags.get("dvc.exp_name"): run for run in store_runs(server, oldest_first=True)
    }
    shown = experiments(third)
    assert set(shown) == set(POINTS[:3])
    for name in shown:
        test = shown[name]["metrics"]["metrics/evaluate.json"]["data"]["test"]
        assert test and {f"test.{key}": value for key, value in test.items()} == {
            key: pytest.approx(value)
            for key, value in logged[name].data.metrics.items()
            if key.startswith("test.")
        }
    diverged = logged[POINTS[-1]]
    assert diverged.info.status == "FAILED"
    client = mlflow.MlflowClient(server)
    assert client.search_model_versions(f"run_id = '{diverged.info.run_id}'") == []
    best = min(
        shown,
        key=lambda n: shown[n]["metrics"]["metrics/evaluate.json"]["data"]["test"]["neg_elbo"],
    )
    head = git(third, "rev-parse", "HEAD").strip()
    assert (third / "review" / "sweep.md").read_text().startswith(f"# {best} against {head}")
    again = run(third, *sweep, "--slurm", "--dry-run", **trainer)
    assert "--array=3 " in again and POINTS[-1] in again
    assert not any(name in again for name in POINTS[:3]), again
    dvc(third, "exp", "apply", best)
    assert ran(dvc(third, "repro")) == []


# One long point on the small data, a checkpoint every 5 epochs.
LONG = ("-S", "train.epochs=40", "-S", "train.checkpoint_every=5")


def test_a_task_cancelled_by_slurm_ends_killed_and_resumes_from_the_store(
    server, repo, slurm, tmp_path
):
    """``scancel`` mid-training ends the point's MLflow run KILLED. Submitting the sweep
    again runs the point in a fresh clone, which has no checkpoint but finds the run's in
    the store, goes on from it in the same run to the end, and pushes the experiment. (A
    requeued task takes the same path, after Slurm's fixed two-minute requeue delay, which
    is why it is not run here.)"""
    dvc(repo, "push", "--all-commits")
    origin, clone = tmp_path / "origin.git", tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    trainer = {**as_user("trainer", server), **slurm.env}
    logs = f"--sbatch-arg=--output={tmp_path}/slurm-%A_%a.out"
    sweep = ["mnist-vae", "sweep", *LONG, "--cpus-per-task", "1", logs, "--slurm"]
    name = "epochs-40_checkpoint_every-5"

    job = re.search(r"submitted Slurm job (\d+)", run(clone, *sweep, **trainer))[1]
    task = (slurm, job, tmp_path)
    running = _wait_for_run(server, name, lambda r: "checkpoint.epoch" in r.data.tags, task)
    slurm.run("scancel", job)
    assert list(slurm.wait(job, timeout=300).values()) == ["CANCELLED"]
    killed = _wait_for_run(server, name, lambda r: r.info.status != "RUNNING")
    assert (killed.info.run_id, killed.info.status) == (running.info.run_id, "KILLED")
    assert killed.data.tags["failure_reason"] == "interrupted (SIGTERM)"

    job = re.search(r"submitted Slurm job (\d+): 1 of 1", run(clone, *sweep, **trainer))[1]
    states = slurm.wait(job, timeout=600)
    log = _task_log(tmp_path, job)
    assert list(states.values()) == ["COMPLETED"], log
    resumed = _wait_for_run(server, name, lambda r: r.info.status == "FINISHED")
    assert resumed.info.run_id == killed.info.run_id
    after = resumed.data.tags["resumed_after_epoch"]
    assert after == killed.data.tags["checkpoint.epoch"] != "1"  # not the baseline's
    assert f"fetched run {killed.info.run_id}'s checkpoint of epoch {after} from the store" in log
    assert name in git(origin, "for-each-ref", "refs/exps")


def _wait_for_run(server: str, name: str, condition, task=None, timeout: float = 300):
    """The newest run of experiment ``name`` once ``condition(run)`` holds, while the
    Slurm ``task`` (cluster, job, its log's folder) runs; the timeout guards against a
    hang only."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = store_runs(server, f"tags.`dvc.exp_name` = '{name}'")
        if found and condition(found[0]):
            return found[0]
        if task and not task[0].run("squeue", "-h", "-j", task[1]).strip():
            log = _task_log(task[2], task[1])[-3000:]
            raise AssertionError(f"job {task[1]} ended first; its log ends:\n{log}")
        time.sleep(0.5)
    raise AssertionError(f"no run of {name} as expected in {timeout} s: {found}")


def _task_log(folder: Path, job: str) -> str:
    """What the tasks of Slurm job ``job`` wrote (their --output files in ``folder``)."""
    return "".join(path.read_text() for path in sorted(folder.glob(f"slurm-{job}_*.out")))
