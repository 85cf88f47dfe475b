"""The compiled epoch loop on JAX: one ``jax.jit`` call per epoch, as on TensorFlow.

Keras's ``fit`` on JAX returns to Python between steps. At the IWAE paper's batch of 20
that is 2,750 dispatches an epoch, and on a GPU they, not the steps, set the pace. Here
Keras's own pure ``train_step`` is scanned over the epoch's batches inside one compiled
function: the data sits on the device and is shuffled and binarized there.

The state (weights, the sampling layer's seed, Adam's moments and rate, the loss's
trackers) goes into each call from the Keras variables and back into them after it, so
the epoch hooks (the schedule's rate, checkpoints, logging) see and set what they do under
TensorFlow.
"""

import jax
import jax.numpy as jnp

from mnist_vae.mnist import data
from mnist_vae.runtime.epoch_progress import VALIDATION_BATCH
from mnist_vae.training import epoch_draws, epoch_loop


class JaxLoop(epoch_loop.EpochLoop):
    def __init__(self, vae, train_config, train: data.Split, val: data.Split):
        super().__init__(vae, train_config)
        x, y, val_x, val_y = data.loop_inputs(
            train, val, vae.model_config.binarize, vae.model_config.conditional, train_config.seed
        )
        # The images, and the digits for a conditional model, on the default device.
        self.train = tuple(jnp.asarray(a) for a in (x, y) if a is not None)
        self.val = tuple(jnp.asarray(a) for a in (val_x, val_y) if a is not None)
        # As Keras's fit builds the model: symbolically, so no draw moves the seed's state.
        vae._symbolic_build(data_batch=tuple(array[:1] for array in self.val))
        vae.optimizer.build(vae.trainable_variables)
        self._train_epoch = jax.jit(self._epoch)
        self._validate = jax.jit(self._validation)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        vae = self.vae
        state = (
            _values(vae.trainable_variables),
            _values(vae.non_trainable_variables),
            _values(vae.optimizer.variables),
            self._fresh_metrics(),
        )
        key = epoch_draws.jax_key(self.train_config.seed, epoch)
        trainable, non_trainable, optimizer, metrics = self._train_epoch(state, key, *self.train)
        _assign(vae.trainable_variables, trainable)
        _assign(vae.non_trainable_variables, non_trainable)
        _assign(vae.optimizer.variables, optimizer)
        return self._results(metrics)

    def validate(self) -> dict[str, float]:
        vae = self.vae
        state = (
            _values(vae.trainable_variables),
            _values(vae.non_trainable_variables),
            self._fresh_metrics(),
        )
        non_trainable, metrics = self._validate(state, *self.val)
        _assign(vae.non_trainable_variables, non_trainable)
        return self._results(metrics)

    def _fresh_metrics(self) -> list:
        for metric in self.vae.metrics:
            metric.reset_state()
        return _values(self.vae.metrics_variables)

    def _results(self, metrics) -> dict[str, float]:
        _assign(self.vae.metrics_variables, metrics)
        return {name: float(value) for name, value in self.vae.get_metrics_result().items()}

    def _epoch(self, state, key, x, y=None):
        """Keras's ``train_step`` over every batch of a fresh shuffle; the last batch is
        short when the batch size does not divide the training set."""
        n, batch = x.shape[0], self.train_config.batch_size
        order = epoch_draws.jax_order(n, key)

        def step(state, i):
            rows = jax.lax.dynamic_slice_in_dim(order, i * batch, batch)
            return self._step(state, key, i, x, y, rows), None

        full = n // batch
        state, _ = jax.lax.scan(step, state, jnp.arange(full))
        if n % batch:
            state = self._step(state, key, full, x, y, order[full * batch :])
        return state

    def _step(self, state, key, batch, x, y, rows):
        x = x[rows]
        if self.dynamic:
            x = epoch_draws.jax_pixels(x, key, batch)
        _, state = self.vae.train_step(state, (x,) if y is None else (x, y[rows]))
        return state

    def _validation(self, state, x, y=None):
        """Keras's ``test_step`` over the validation set, in batches of VALIDATION_BATCH."""
        for start in range(0, x.shape[0], VALIDATION_BATCH):
            rows = slice(start, start + VALIDATION_BATCH)
            _, state = self.vae.test_step(state, (x[rows],) if y is None else (x[rows], y[rows]))
        _, non_trainable, metrics = state
        return non_trainable, metrics


def _values(variables) -> list:
    return [variable.value for variable in variables]


def _assign(variables, values) -> None:
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
