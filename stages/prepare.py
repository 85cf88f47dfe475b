"""The prepare stage: fetch the official MNIST files, check them, split them, save arrays."""

from pathlib import Path

import click

from mnist_vae.stage_command import Command, output_path, stage_options


@click.command(cls=Command)
@stage_options("prepare")
@click.option(
    "--source",
    "sources",
    multiple=True,
    envvar="MNIST_MIRROR",
    help="Mirror URL or local folder holding the four .gz files; repeat to try several in "
    "order. Taken from MNIST_MIRROR (space-separated) when not given; the public mirrors "
    "otherwise.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for train.npz, val.npz, test.npz and params.json.",
)
@output_path("--class-counts", "CSV of the images per digit in each split.")
def prepare(sources, out_dir, class_counts, **options):
    """Fetch MNIST, verify its SHA-256 sums, and split it into train, validation and test.

    The validation set is drawn from the official training set with SEED; the test set is
    the official one. Nothing is written unless every file checks out.
    """
    from dataclasses import asdict

    from mnist_vae.atomic import write_json, write_text
    from mnist_vae.config import PrepareConfig, from_options
    from mnist_vae.mnist import data, download, official

    config = from_options(PrepareConfig, options)
    files = official.read_official(list(sources) or list(download.PUBLIC_MIRRORS))
    splits = data.split(files, config.train_size, config.val_size, config.test_size, config.seed)
    for name, split in splits.items():
        data.save(split, out_dir / f"{name}.npz")
    write_json(out_dir / "params.json", asdict(config))
    write_text(class_counts, data.class_counts(splits).to_csv())


if __name__ == "__main__":
    prepare()
