"""A Jordan recurrent cell: the network's previous *output* is its context."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnnapps")
class JordanCell(keras.layers.Layer):
    """Jordan (1986) recurrence: the context fed back is the previous output, not the hidden state.

    An Elman network feeds back its hidden layer; a Jordan network feeds back what it
    emitted::

        h_t = activation(x_t W + y_{t-1} U + b)                  # hidden layer
        y_t = output_activation(h_t V + c)                       # the output, and the state

    The recurrent state is ``y_t`` alone (``state_size == output_units``), so the memory
    is only what the network chose to say: a bottleneck an Elman network does not have.
    Wrap it in ``keras.layers.RNN`` (or use ``recurrent_layer("jordan", units)``).

    Args:
        units: size of the hidden layer ``h_t``.
        output_units: size of the output ``y_t`` fed back as context; defaults to `units`.
        activation: of the hidden layer.
        output_activation: of the output; a bounded one (tanh) keeps the fed-back context
            bounded, as an Elman network's tanh does.
        use_bias: add ``b`` and ``c``.
        kernel_initializer: for ``W`` and ``V``.
        recurrent_initializer: for ``U`` (output-to-hidden).
        bias_initializer: for ``b`` and ``c``.
        **kwargs: base layer arguments (``name``, ``dtype``).

    Call arguments:
        inputs: ``x_t`` [batch, features].
        states: ``[y_{t-1}]`` (or the tensor itself) [batch, output_units].
        training: unused; kept for the cell protocol.

    Returns ``(y_t, [y_t])`` (``(y_t, y_t)`` when `states` is a bare tensor, as Keras's
    GRU and SimpleRNN cells do).

    Example:
        >>> rnn = keras.layers.RNN(JordanCell(32), return_sequences=True)
        >>> rnn(np.zeros((2, 10, 4), "float32")).shape
        (2, 10, 32)
    """

    def __init__(
        self,
        units: int,
        output_units: int | None = None,
        activation: str = "tanh",
        output_activation: str = "tanh",
        use_bias: bool = True,
        kernel_initializer: str | dict = "glorot_uniform",
        recurrent_initializer: str | dict = "orthogonal",
        bias_initializer: str | dict = "zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        if output_units is not None and output_units < 1:
            raise ValueError(f"output_units must be >= 1 or None, got {output_units}")
        self.units = units
        self.output_units = output_units or units
        self.activation = keras.activations.get(activation)
        self.output_activation = keras.activations.get(output_activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.state_size = self.output_units
        self.output_size = self.output_units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, self.units), initializer=self.kernel_initializer, name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.output_units, self.units),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
        )
        self.output_kernel = self.add_weight(
            shape=(self.units, self.output_units),
            initializer=self.kernel_initializer,
            name="output_kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer=self.bias_initializer, name="bias"
            )
            self.output_bias = self.add_weight(
                shape=(self.output_units,), initializer=self.bias_initializer, name="output_bias"
            )

    def call(self, inputs, states, training=False):
        previous_output = states[0] if isinstance(states, list | tuple) else states
        hidden = ops.matmul(inputs, self.kernel) + ops.matmul(
            previous_output, self.recurrent_kernel
        )  # [batch, units]
        if self.use_bias:
            hidden = hidden + self.bias
        hidden = self.activation(hidden)
        output = ops.matmul(hidden, self.output_kernel)  # [batch, output_units]
        if self.use_bias:
            output = output + self.output_bias
        output = self.output_activation(output)
        new_state = [output] if isinstance(states, list | tuple) else output
        return output, new_state

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.output_units), dtype=self.compute_dtype)]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "output_units": self.output_units,
            "activation": keras.activations.serialize(self.activation),
            "output_activation": keras.activations.serialize(self.output_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
