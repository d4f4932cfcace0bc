"""The training model: character ids -> embedding -> stacked stateful RNN -> next-id logits."""

from __future__ import annotations

import contextlib
import math

import keras
import tensorflow as tf

from apps.text_generation.config import TextGenerationConfig
from shared.errors import UserError
from shared.layers import make_cell


@keras.saving.register_keras_serializable(package="rnnapps")
def bits_per_character(y_true, y_pred, characters_per_token=1.0):
    """Cross-entropy in bits (log base 2) of integer targets under logits, per character:
    per position, divided by the characters one position stands for on average."""
    nats = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return nats / (math.log(2.0) * characters_per_token)


@keras.saving.register_keras_serializable(package="rnnapps")
class BitsPerCharacter(keras.metrics.MeanMetricWrapper):
    """The mean ``bits_per_character`` of a run, for character or subword models alike.

    Args:
        characters_per_token: characters per id of the text scored (1 for characters). One
            number serves training and validation: the app passes the validation text's, so
            ``val_bits_per_character`` counts the validation text's characters and the training
            figure is off by the two texts' difference (0.4% on the default text, 1,024 pieces).
    """

    def __init__(self, characters_per_token=1.0, name="bits_per_character", dtype=None):
        super().__init__(
            bits_per_character, name=name, dtype=dtype, characters_per_token=characters_per_token
        )
        self.characters_per_token = float(characters_per_token)

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "characters_per_token": self.characters_per_token,
        }


@keras.saving.register_keras_serializable(package="rnnapps")
class ReplicaStatefulRNN(keras.layers.RNN):
    """A stateful ``keras.layers.RNN`` whose carried state belongs to each replica.

    Keras keeps a stateful RNN's state in variables of the layer's batch size. Made under a
    ``tf.distribute`` strategy these are mirrored variables, to which a replica may not assign
    a value of its own. Here they are sync-on-read variables: every replica reads and writes
    its own copy, the state of the lanes it is given. ``tf.distribute`` splits each global
    batch in order, so replica r gets the same block of lanes every step and carries exactly
    the states one device would carry for them. With one replica this is a stateful ``RNN``.

    Args:
        cell: the recurrent cell.
        **kwargs: as for ``keras.layers.RNN`` (``stateful=True`` and a fixed batch expected).

    Call arguments:
        sequences: [per-replica batch, time, features].

    Example:
        >>> layer = ReplicaStatefulRNN(keras.layers.GRUCell(4), stateful=True)
        >>> tuple(layer(keras.ops.zeros((2, 3, 5))).shape)
        (2, 4)
    """

    def _create_state_variables(self, batch_size):
        def per_replica(next_creator, **kwargs):
            kwargs["synchronization"] = tf.VariableSynchronization.ON_READ
            # Read outside a replica (building the model, reset_state) as the first replica's
            # copy: no sum or mean of states of different text would mean anything. The states
            # are neither weights nor checkpointed, so nothing else reads them there.
            kwargs["aggregation"] = tf.VariableAggregation.ONLY_FIRST_REPLICA
            return next_creator(**kwargs)

        with tf.variable_creator_scope(per_replica):
            super()._create_state_variables(batch_size)


class _WeightDropCell:
    """Mixin for a Keras GRU or LSTM cell: inside ``with cell.recurrent_kernel_replaced(k)``
    every step multiplies the state by ``k`` instead of the cell's recurrent kernel.

    ``WeightDropRNN`` replaces it, for one window, by a dropped copy (DropConnect). Outside the
    ``with`` block the cell is the Keras cell, step for step, so the inference graphs that call
    it directly compute what a Keras cell would with the same weights.
    """

    _replaced_recurrent_kernel = None

    @contextlib.contextmanager
    def recurrent_kernel_replaced(self, kernel):
        self._replaced_recurrent_kernel = kernel
        try:
            yield
        finally:
            self._replaced_recurrent_kernel = None


@keras.saving.register_keras_serializable(package="rnnapps")
class WeightDropGRUCell(_WeightDropCell, keras.layers.GRUCell):
    """``keras.layers.GRUCell`` (``reset_after=True``) whose recurrent kernel
    ``WeightDropRNN`` can drop for a window; otherwise the same cell.

    Args:
        units: state size.
        **kwargs: as for ``keras.layers.GRUCell``; its own ``dropout`` and
            ``recurrent_dropout`` stay 0 (``weight_drop`` replaces them).

    Call arguments:
        inputs: [batch, features]; states: the [batch, units] state (or a list of it).

    Example:
        >>> cell = WeightDropGRUCell(4)
        >>> tuple(keras.layers.RNN(cell)(keras.ops.zeros((2, 3, 5))).shape)
        (2, 4)
    """

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        if not self.reset_after or self.dropout or self.recurrent_dropout:
            raise ValueError(
                "WeightDropGRUCell needs reset_after=True and no dropout or recurrent_dropout"
            )

    def call(self, inputs, states, training=False):
        if self._replaced_recurrent_kernel is None:
            return super().call(inputs, states, training=training)
        h_tm1 = states[0] if isinstance(states, list | tuple) else states  # [batch, units]
        x = keras.ops.matmul(inputs, self.kernel)  # [batch, 3 units]
        inner = keras.ops.matmul(h_tm1, self._replaced_recurrent_kernel)  # [batch, 3 units]
        if self.use_bias:
            x, inner = x + self.bias[0], inner + self.bias[1]
        x_z, x_r, x_h = keras.ops.split(x, 3, axis=-1)
        recurrent_z, recurrent_r, recurrent_h = keras.ops.split(inner, 3, axis=-1)
        z = self.recurrent_activation(x_z + recurrent_z)
        r = self.recurrent_activation(x_r + recurrent_r)
        candidate = self.activation(x_h + r * recurrent_h)
        h = z * h_tm1 + (1 - z) * candidate
        return h, [h] if isinstance(states, list | tuple) else h


@keras.saving.register_keras_serializable(package="rnnapps")
class WeightDropLSTMCell(_WeightDropCell, keras.layers.LSTMCell):
    """``keras.layers.LSTMCell`` whose recurrent kernel ``WeightDropRNN`` can drop for a
    window; otherwise the same cell.

    Args:
        units: state size.
        **kwargs: as for ``keras.layers.LSTMCell``; its own ``dropout`` and
            ``recurrent_dropout`` stay 0 (``weight_drop`` replaces them).

    Call arguments:
        inputs: [batch, features]; states: ``[h, c]``, each [batch, units].

    Example:
        >>> cell = WeightDropLSTMCell(4)
        >>> tuple(keras.layers.RNN(cell)(keras.ops.zeros((2, 3, 5))).shape)
        (2, 4)
    """

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        if self.dropout or self.recurrent_dropout:
            raise ValueError("WeightDropLSTMCell needs no dropout or recurrent_dropout")

    def call(self, inputs, states, training=False):
        if self._replaced_recurrent_kernel is None:
            return super().call(inputs, states, training=training)
        h_tm1, c_tm1 = states  # [batch, units] each
        z = keras.ops.matmul(inputs, self.kernel) + keras.ops.matmul(
            h_tm1, self._replaced_recurrent_kernel
        )  # [batch, 4 units]
        if self.use_bias:
            z = z + self.bias
        c, o = self._compute_carry_and_output_fused(keras.ops.split(z, 4, axis=1), c_tm1)
        h = o * self.activation(c)
        return h, [h, c]


WEIGHT_DROP_CELLS = {"gru": WeightDropGRUCell, "lstm": WeightDropLSTMCell}


@keras.saving.register_keras_serializable(package="rnnapps")
class WeightDropRNN(ReplicaStatefulRNN):
    """A ``ReplicaStatefulRNN`` that, in training, drops each recurrent weight with
    probability ``weight_drop`` (DropConnect; the "weight drop" of Merity et al. 2018, AWD-LSTM).

    One mask is drawn per call, before the loop, and used at every step of the window: the
    recurrent connections are regularised without a mask op inside the loop (Keras's
    ``recurrent_dropout`` masks the state at every step and splits the fused product, 3x slower
    a pass here). Out of training, or with ``weight_drop=0``, it is a ``ReplicaStatefulRNN``.

    Args:
        cell: a ``WeightDropGRUCell`` or ``WeightDropLSTMCell``.
        weight_drop: the fraction of recurrent weights dropped, in [0, 1).
        seed: seed of the masks.
        **kwargs: as for ``ReplicaStatefulRNN``.

    Call arguments:
        sequences: [per-replica batch, time, features].

    Example:
        >>> layer = WeightDropRNN(WeightDropGRUCell(4), weight_drop=0.5, return_sequences=True)
        >>> tuple(layer(keras.ops.ones((2, 3, 5)), training=True).shape)
        (2, 3, 4)
    """

    def __init__(self, cell, weight_drop=0.0, seed=None, **kwargs):
        super().__init__(cell, **kwargs)
        if not isinstance(cell, _WeightDropCell):
            raise ValueError(f"WeightDropRNN needs a weight-drop cell, got {type(cell).__name__}")
        if not 0.0 <= weight_drop < 1.0:
            raise ValueError(f"weight_drop must be in [0, 1), got {weight_drop}")
        self.weight_drop = weight_drop
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if not (training and self.weight_drop):
            return super().call(sequences, initial_state, mask, training)
        dropped = keras.random.dropout(
            self.cell.recurrent_kernel, self.weight_drop, seed=self.seed_generator
        )
        with self.cell.recurrent_kernel_replaced(dropped):
            return super().call(sequences, initial_state, mask, training)

    def get_config(self):
        return {**super().get_config(), "weight_drop": self.weight_drop, "seed": self.seed}


def recurrent_layer_names(config: TextGenerationConfig) -> list[str]:
    return [f"{config.cell}_{index + 1}" for index in range(config.num_layers)]


def build_model(
    config: TextGenerationConfig,
    vocabulary_size: int,
    steps_per_epoch: int = 0,
    characters_per_token: float = 1.0,
) -> keras.Model:
    """Many-to-many language model for truncated BPTT over stream lanes.

    The recurrent layers are stateful with a fixed batch (``config.batch_size`` lanes of
    ``config.window_length`` ids, per replica ``batch_size / replicas``): the final state of a window is the initial state of the
    next window of the same lane (see ``TextGenerationApp.make_datasets``). The states are never
    reset: where a lane jumps (a new epoch, the validation pass) the next begin token ``<s>``
    washes out the stale context within a few characters. Inference graphs (one step, or a whole
    sequence with explicit states) are built from these layers in ``export.py``.

    Under a ``tf.distribute`` strategy (build the model in its scope) ``config.batch_size`` is
    the global batch: each of the R replicas gets ``batch_size / R`` lanes, always the same ones,
    and carries their states (``ReplicaStatefulRNN``): R replicas train as one device does
    (but for dropout masks, which each replica draws for its own lanes).

    Output ``logits`` [batch, window, vocabulary]: the next id at each position.
    ``steps_per_epoch`` (windows per pass) sets the cosine decay's length when it is on;
    ``characters_per_token`` turns the bits of each position into bits per character.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if config.batch_size % replicas:
        raise UserError(
            f"--set batch_size={config.batch_size}: the lanes must divide evenly among the "
            f"{replicas} replicas of strategy={config.strategy}"
        )
    lanes_per_replica = config.batch_size // replicas
    token_ids = keras.Input(
        batch_shape=(lanes_per_replica, config.window_length), dtype="int32", name="token_ids"
    )
    x = keras.layers.Embedding(vocabulary_size, config.embedding_dim, name="embedding")(token_ids)
    x = keras.layers.Dropout(config.embedding_dropout, name="embedding_dropout")(x)
    cell_options = (
        {"recurrent_dropout": config.recurrent_dropout} if config.recurrent_dropout else {}
    )
    for name in recurrent_layer_names(config):
        # RNN(cell) rather than GRU/LSTM: the cells then get unique names ("gru_1_cell"), which
        # the step model, calling every cell directly, needs.
        if config.weight_drop:
            cell = WEIGHT_DROP_CELLS[config.cell](config.units, name=f"{name}_cell")
            layer_class = WeightDropRNN
            layer_options = {"weight_drop": config.weight_drop, "seed": config.seed}
        else:
            cell = make_cell(config.cell, config.units, name=f"{name}_cell", **cell_options)
            layer_class, layer_options = ReplicaStatefulRNN, {}
        rnn = layer_class(
            cell,
            return_sequences=True,
            stateful=True,
            unroll=config.unroll,
            name=name,
            **layer_options,
        )
        x = rnn(x)  # [batch, window, units]
        x = keras.layers.Dropout(config.dropout_rate, name=f"{name}_dropout")(x)
    logits = keras.layers.Dense(vocabulary_size, name="logits")(x)  # [batch, window, vocabulary]
    model = keras.Model(token_ids, logits, name="text_generation")
    learning_rate = config.learning_rate
    if config.cosine_decay and steps_per_epoch:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.02
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=config.clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[BitsPerCharacter(characters_per_token)],
    )
    return model
