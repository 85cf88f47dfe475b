"""The team's MLflow server app (``mlflow server --app-name mnist-vae``): MLflow's
basic-auth app with one rule more.

Basic-auth lets whoever may add a version to a registered model (EDIT) also move its
aliases. Here moving or deleting an alias takes MANAGE, so trainers register what they
train while only a maintainer chooses ``@champion``: the version that every machine loads
and serves, its code included (the model is logged from code).
"""

from mlflow.server import auth

ALIAS_ROUTE = "/mlflow/registered-models/alias"
MOVES = ("POST", "DELETE")  # setting and deleting an alias; GET reads it


def create_app(app=auth.app):
    """The basic-auth app, with the validators of an alias's moves also requiring MANAGE."""
    for (path, method), validator in list(auth.BEFORE_REQUEST_VALIDATORS.items()):
        if path.endswith(ALIAS_ROUTE) and method in MOVES:
            auth.BEFORE_REQUEST_VALIDATORS[path, method] = _also_manage(validator)
    return auth.create_app(app)


def _also_manage(validator):
    def validate() -> bool:
        return validator() and auth.validate_can_manage_registered_model()

    return validate
