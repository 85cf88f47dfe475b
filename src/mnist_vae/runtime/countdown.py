"""A line now and then while a long loop runs: how far it is, and how long the rest should
take. One line per tenth of the way and no carriage return, so that it reads the same in
a terminal and in a log file; a loop that ends within ``QUIET`` seconds prints nothing.
"""

import sys
import time

from mnist_vae.runtime.epoch_progress import duration

QUIET = 10.0  # seconds: what ends sooner needs no progress


class Countdown:
    """Counts ``total`` steps, each line starting with ``what`` (``scoring ...: chunk``)."""

    def __init__(self, total: int, what: str, clock=time.monotonic):
        self.total, self.what, self.clock = total, what, clock
        self.started = clock()
        self.done = self.tenths = 0

    def step(self, item=None):
        """Counts one step, and returns ``item``, so that it can wrap a loop's results."""
        self.done += 1
        elapsed = self.clock() - self.started
        tenths = self.done * 10 // self.total
        if elapsed >= QUIET and tenths > self.tenths:
            self.tenths = tenths
            left = elapsed / self.done * (self.total - self.done)
            print(
                f"{self.what} {self.done}/{self.total} - {duration(elapsed)} - "
                f"{duration(left)} left",
                file=sys.stdout,
                flush=True,
            )
        return item
