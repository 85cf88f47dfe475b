"""A teammate's account on the team's MLflow server, by role.

The server (``team_server``) grants nothing by default, so an account sees and changes
only what its role grants on the pipeline's experiment and registered model:

- a reviewer reads runs, models and artifacts;
- a trainer also creates runs and registers model versions;
- a maintainer also moves the registered model's aliases, ``@champion`` among them.
"""

from mnist_vae.errors import PipelineError, redacted

# role: (permission on the experiment, permission on the registered model)
ROLES = {
    "reviewer": ("READ", "READ"),
    "trainer": ("EDIT", "EDIT"),
    "maintainer": ("EDIT", "MANAGE"),
}


def grant(username: str, role: str, password=None) -> bool:
    """Gives ``username`` ``role``, opening the account first when it is new, and the
    experiment and registered model when the server has neither yet (so that their
    creator, who would MANAGE them, is the admin, not the first trainer).

    Runs with the admin's credentials (MLflow's ``MLFLOW_TRACKING_USERNAME`` and
    ``MLFLOW_TRACKING_PASSWORD``, or ``~/.mlflow/credentials``).

    Args:
        password: called for the new account's password, only when it is new.

    Returns:
        Whether the account was opened.

    Raises:
        PipelineError: the server refused, or is not the team's auth server.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client
    from mlflow.tracking import MlflowClient

    from mnist_vae.tracking import mlflow_experiment, registry

    experiment_id = mlflow_experiment.configure()
    uri = mlflow_experiment.tracking_uri()
    client, auth = MlflowClient(uri), get_app_client("basic-auth", tracking_uri=uri)
    try:
        if not client.search_registered_models(f"name = '{registry.NAME}'"):
            client.create_registered_model(registry.NAME)
        opened = not _exists(auth, username)
        if opened:
            auth.create_user(username, password())
        on_experiment, on_model = ROLES[role]
        auth.grant_user_permission(username, "experiment", experiment_id, on_experiment)
        auth.grant_user_permission(username, "registered_model", registry.NAME, on_model)
    except MlflowException as error:
        raise PipelineError(f"{redacted(uri)}: {error.message}") from None
    return opened


def _exists(auth, username: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        auth.get_user(username)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise
    return True
