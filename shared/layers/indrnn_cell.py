"""An independently recurrent (IndRNN) cell with a bounded recurrent weight."""

from __future__ import annotations

import keras
from keras import ops


def recurrent_bound(timesteps: int, max_growth: float = 2.0) -> float:
    """The |u| bound under which a unit's gradient grows at most `max_growth` over `timesteps`.

    Back through ``T`` steps an IndRNN unit's gradient is multiplied by ``u^T`` (times the
    activation's slopes, at most 1 for a ReLU), so ``|u| <= max_growth^(1/T)`` keeps it from
    exploding past ``max_growth`` while a unit with ``|u|`` near the bound keeps it from
    vanishing (Li et al. 2018, "Independently Recurrent Neural Network", section 3).

    Example:
        >>> round(recurrent_bound(1000), 5)
        1.00069
    """
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    if max_growth <= 0:
        raise ValueError(f"max_growth must be > 0, got {max_growth}")
    return float(max_growth ** (1.0 / timesteps))


class _AbsoluteBound(keras.constraints.Constraint):
    """Clip every value to [-bound, bound] after each optimizer update."""

    def __init__(self, bound: float):
        self.bound = bound

    def __call__(self, weight):
        return ops.clip(weight, -self.bound, self.bound)

    def get_config(self) -> dict:
        return {"bound": self.bound}


@keras.saving.register_keras_serializable(package="rnnapps")
class IndRNNCell(keras.layers.Layer):
    """IndRNN (Li et al. 2018): every unit has one scalar recurrent weight of its own.

    ::

        h_t = activation(x_t W + u * h_{t-1} + b)      # u: [units], element-wise

    Units do not talk to each other through time (a following layer mixes them), so unit
    ``i``'s gradient back through ``k`` steps is ``prod(u_i * activation')``: with a ReLU it
    neither vanishes nor explodes while ``|u_i|`` stays near 1. The optimizer keeps
    ``|u| <= recurrent_max_abs`` after every update (a constraint); pass
    :func:`recurrent_bound` ``(T)`` (``2^(1/T)``) to let a gradient grow at most two-fold
    over ``T`` steps, or leave the default 1.0, under which no unit can amplify its past.

    Args:
        units: number of units.
        activation: "relu" in the paper; any Keras activation.
        recurrent_max_abs: the bound on ``|u|`` (> 0).
        use_bias: add ``b``.
        kernel_initializer: for ``W``.
        recurrent_initializer: for ``u``; None draws uniformly from ``[0, recurrent_max_abs]``,
            as the authors' adding-problem code does: some units start near the bound, and
            remember.
        bias_initializer: for ``b``.
        **kwargs: base layer arguments (``name``, ``dtype``).

    Call arguments:
        inputs: ``x_t`` [batch, features].
        states: ``[h_{t-1}]`` (or the tensor itself) [batch, units].
        training: unused; kept for the cell protocol.

    Returns ``(h_t, [h_t])`` (``(h_t, h_t)`` when `states` is a bare tensor).

    Example:
        >>> cell = IndRNNCell(32, recurrent_max_abs=recurrent_bound(200))
        >>> keras.layers.RNN(cell)(np.zeros((2, 200, 4), "float32")).shape
        (2, 32)
    """

    def __init__(
        self,
        units: int,
        activation: str = "relu",
        recurrent_max_abs: float = 1.0,
        use_bias: bool = True,
        kernel_initializer: str | dict = "glorot_uniform",
        recurrent_initializer: str | dict | None = None,
        bias_initializer: str | dict = "zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        if not recurrent_max_abs > 0:
            raise ValueError(f"recurrent_max_abs must be > 0, got {recurrent_max_abs}")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.recurrent_max_abs = float(recurrent_max_abs)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        if recurrent_initializer is None:
            recurrent_initializer = keras.initializers.RandomUniform(0.0, self.recurrent_max_abs)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units), initializer=self.kernel_initializer, name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units,),
            initializer=self.recurrent_initializer,
            constraint=_AbsoluteBound(self.recurrent_max_abs),
            name="recurrent_kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer=self.bias_initializer, name="bias"
            )

    def call(self, inputs, states, training=False):
        previous = states[0] if isinstance(states, list | tuple) else states
        # [batch, units]: the recurrent term is element-wise, the independence of the units.
        hidden = ops.matmul(inputs, self.kernel) + previous * self.recurrent_kernel
        if self.use_bias:
            hidden = hidden + self.bias
        hidden = self.activation(hidden)
        new_state = [hidden] if isinstance(states, list | tuple) else hidden
        return hidden, new_state

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "recurrent_max_abs": self.recurrent_max_abs,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
