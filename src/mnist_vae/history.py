"""The per-epoch history file that ``dvc plots`` draws train against validation from."""

import os

from mnist_vae.atomic import write_text


class HistoryWriter:
    """Rewrites the whole CSV after every epoch, so the file is always complete.

    ``dvc plots show`` can draw a run in progress, and a crash leaves the epochs so far.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = path
        self.rows: list[dict[str, float]] = []

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        import pandas as pd

        self.rows.append({"epoch": epoch, **dict(sorted(metrics.items()))})
        write_text(self.path, pd.DataFrame(self.rows).to_csv(index=False))

    @property
    def last(self) -> dict[str, float]:
        return {k: v for k, v in self.rows[-1].items() if k != "epoch"}
