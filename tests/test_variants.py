"""Every model variant and research preset runs end to end through ``dvc exp run`` and
lands in MLflow."""

import pytest
from mlflow.tracking import MlflowClient
from pipeline_repo import dvc, experiments, git, make_repo, ran, run

from mnist_vae import presets

pytestmark = pytest.mark.slow

# Three experiments cover every variant's code path (a diverse pair each, for time).
VARIANTS = {
    "static-beta": {"binarize": "static", "beta": 4.0, "activation": "elu", "hidden_layers": 1},
    "dynamic-gaussian": {
        "binarize": "dynamic",
        "likelihood": "gaussian",
        "decoder_std": 0.5,
        "activation": "tanh",
    },
    "conditional": {"conditional": True, "latent_dim": 2, "classification_weight": 2.0},
}
PLOTS = ("loss_curves", "reconstructions", "latent_space", "interpolation", "samples", "manifold")


@pytest.fixture(scope="module")
def repo(tmp_path_factory, mnist_dir):
    """One small project with its baseline committed, so each variant reruns only training."""
    repo = make_repo(tmp_path_factory.mktemp("variants") / "repo")
    dvc(repo, "repro")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    return repo


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_runs_end_to_end(repo, name):
    overrides = [f"train.{key}={value}" for key, value in VARIANTS[name].items()]

    output = dvc(repo, "exp", "run", "--temp", "-n", name, *(f"-S{o}" for o in overrides))

    assert ran(output) == ["train", "evaluate", "generate"], output
    result = experiments(repo)[name]
    scores = result["metrics"]["metrics/evaluate.json"]["data"]["test"]
    assert scores["iw_nll"] <= scores["neg_elbo"]
    assert ("accuracy" in scores) == (name == "conditional")
    assert set(result["outs"]) >= {f"plots/{plot}.png" for plot in PLOTS}
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("mnist-vae")
    (run,) = client.search_runs([experiment.experiment_id], f"tags.`dvc.exp_name` = '{name}'")
    for key, value in VARIANTS[name].items():
        # As params.yaml and `dvc exp show` spell them: true, not True.
        spelled = str(value).lower() if isinstance(value, bool) else str(value)
        assert run.data.params[f"train.{key}"] == spelled
    assert run.data.metrics["test.neg_elbo"] == pytest.approx(scores["neg_elbo"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts >= {f"{plot}.png" for plot in PLOTS}
    steps = client.get_metric_history(run.info.run_id, "val_loss_elbo")
    assert [m.step for m in steps] == [1]


# A preset's protocol on the small data: its settings, a single short epoch.
SHORT = {"train.epochs": 1, "train.batch_size": 50, "evaluate.iw_samples": 10}


@pytest.mark.parametrize("name", presets.load())
def test_preset_runs_end_to_end_as_an_experiment_named_after_it(repo, name):
    changes = [f"-S{key}={value}" for key, value in SHORT.items()]
    output = run(repo, "mnist-vae", "preset", name, *changes)

    assert ran(output) == ["train", "evaluate", "generate"], output
    result = experiments(repo)[name]
    scores = result["metrics"]["metrics/evaluate.json"]["data"]["test"]
    assert scores["iw_nll"] <= scores["neg_elbo"]
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("mnist-vae")
    (mlflow_run,) = client.search_runs(
        [experiment.experiment_id], f"tags.`dvc.exp_name` = '{name}'"
    )
    for key, value in {**presets.changes(name), **SHORT}.items():
        if key.startswith("train."):
            assert mlflow_run.data.params[key] == presets.spell(value), key
    objective = presets.changes(name).get("train.objective", "elbo")
    assert any(key.startswith(f"val_loss_{objective}") for key in mlflow_run.data.metrics)
