"""Where the project is: the folder whose ``dvc.yaml``, ``params.yaml`` and
``presets.yaml`` the commands and library callers read.

Found from the working directory, as DVC and git find theirs, so that it is right under
any install of the package (the package's own location says nothing about the project),
from a subfolder such as ``notebooks/``, and in the temporary copy where DVC runs a
queued experiment.
"""

from pathlib import Path

MARKER = "dvc.yaml"


def root() -> Path:
    """The nearest folder at or above the working directory that holds ``dvc.yaml``; the
    working directory where none does."""
    here = Path.cwd().resolve()
    return next((folder for folder in (here, *here.parents) if (folder / MARKER).is_file()), here)
