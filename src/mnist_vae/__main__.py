"""``python -m mnist_vae``: the ``mnist-vae`` commands where only an interpreter is at hand,
as in a Slurm task that runs the package from its own clone."""

from mnist_vae.commands import main

main(prog_name="mnist-vae")
