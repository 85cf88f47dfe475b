"""The prepare stage: fetch the official MNIST files, check them, split them, save arrays."""

from pathlib import Path

import click

from mnist_vae.cli import Command, output_path, params_file, seed_option


@click.command(cls=Command)
@params_file("prepare")
@click.option(
    "--source",
    "sources",
    multiple=True,
    envvar="MNIST_MIRROR",
    help="Mirror URL or local folder holding the four .gz files; repeat to try several in "
    "order. Taken from MNIST_MIRROR (space-separated) when not given; the public mirrors "
    "otherwise.",
)
@click.option("--train-size", type=click.IntRange(min=1), required=True, help="Training images.")
@click.option("--val-size", type=click.IntRange(min=1), required=True, help="Validation images.")
@click.option("--test-size", type=click.IntRange(min=1), required=True, help="Test images.")
@seed_option
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for train.npz, val.npz, test.npz and params.json.",
)
@output_path("--class-counts", "CSV of the images per digit in each split.")
def prepare(sources, train_size, val_size, test_size, seed, out_dir, class_counts):
    """Fetch MNIST, verify its SHA-256 sums, and split it into train, validation and test.

    The validation set is drawn from the official training set with SEED; the test set is
    the official one. Nothing is written unless every file checks out.
    """
    from mnist_vae import data, download
    from mnist_vae.atomic import write_json, write_text

    official = data.read_official(list(sources) or list(download.PUBLIC_MIRRORS))
    splits = data.split(official, train_size, val_size, test_size, seed)
    for name, split in splits.items():
        data.save(split, out_dir / f"{name}.npz")
    params = {"train_size": train_size, "val_size": val_size, "test_size": test_size}
    write_json(out_dir / "params.json", {**params, "seed": seed})
    write_text(class_counts, data.class_counts(splits).to_csv())


if __name__ == "__main__":
    prepare()
