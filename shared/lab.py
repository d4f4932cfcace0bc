"""``rnnapps lab``: why gates matter, measured on long-range synthetic tasks.

Every cell of :data:`shared.layers.CELLS` worth comparing (Elman, Jordan, LSTM, GRU, IndRNN)
is trained on two tasks whose answer depends on inputs far in the past, at several sequence
lengths:

- **adding problem** (Hochreiter & Schmidhuber 1997): each step holds a value drawn from
  U(0, 1) and a marker; two steps are marked, one in each half, and the answer (read after
  the last step) is the sum of their values. Mean squared error; always answering 1 scores
  the variance of a sum of two U(0, 1), 2/12 ~ 0.167, the baseline to beat.
- **copy-memory**: the first ``copy_symbols`` steps show symbols out of ``vocabulary``
  (one-hot), then blanks, then a "recall" marker on the last step; the answer is the symbols
  in order, read from the final state. Accuracy per symbol; guessing scores 1 / vocabulary.

Every cell starts the way it is meant to be used on long sequences: LSTM and GRU with their
units' memory times spread over 2 .. T steps (chrono initialisation, see
:func:`memory_initialise`), IndRNN as its authors set it up for the adding problem (two
stacked layers, the last one's recurrent weights in [(1/2)^(1/T), 2^(1/T)]), Elman and
Jordan with Keras's orthogonal recurrent matrix (they have no per-unit knob). For each
(task, cell, length) the lab records the test metric after :func:`updates` Adam updates on
fresh batches (gradient global norm clipped at ``clip_norm``), the training loss curve, and
the norm of the gradient of the loss with respect to the recurrent state at every time step,
``||dL/ds_t||`` for t = 0 .. T-1, at initialisation and after training: how fast the signal
from the answer fades (or grows) on its way back to the early steps, which is what a cell
can learn from. ``s_t`` is the whole recurrent state (``h_t`` and ``c_t`` for an LSTM, the
fed-back output for Jordan, both layers' ``h_t`` for IndRNN). The norms are computed by
propagating a vector-Jacobian product back one step at a time, renormalised at every step
with the scale kept in log space, so a gradient that falls below float32's range (10^-38)
is still measured.

A clipping experiment trains ``clipping_cells`` at ``clipping_length`` on the adding
problem with and without clipping, recording the loss curve and the gradient norm before
clipping at every update.

Writes ``lab.json`` (every number) and three PNGs to the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import sys
import time

import numpy as np

CELL_NAMES = ("elman", "jordan", "lstm", "gru", "indrnn")
TASKS = ("adding", "copy_memory")
# Per task: the headline metric, whether lower is better, and what no learning scores.
METRICS = {"adding": "mse", "copy_memory": "accuracy"}
ADDING_BASELINE = 2.0 / 12.0  # the variance of U(0, 1) + U(0, 1): always answering 1
# Up to this length a step-by-step loop runs eagerly: tracing a tf.function (~0.4 s) costs
# more than the few eager steps it would save.
EAGER_MAX_LENGTH = 100
GRADIENT_PLOT_DECADES = 40  # the gradient plot's depth: a plain RNN falls far below it at T=1000


def log(message: str) -> None:
    print(f"[rnnapps] lab: {message}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class LabSettings:
    """How much the lab trains and measures. The defaults fit 15 minutes on 2 cores.

    Args:
        lengths: sequence lengths T of every task.
        cells: cell names (keys of ``shared.layers.CELLS``).
        tasks: task names (:data:`TASKS`).
        units: recurrent units of every cell (small: the point is the recurrence, not capacity).
        batch_size: examples per update; fresh examples every update (the data is unlimited).
        train_steps: Adam updates per (task, cell, length), at most.
        time_step_budget: at most this many time steps (updates x T) per training run, so the
            longest sequences get fewer updates and the run keeps to its time.
        learning_rate: Adam's.
        clip_norm: gradient global-norm clipping in the main runs (None: off).
        test_examples: held-out examples of the test metric.
        gradient_examples: examples averaged in the gradient-norm profiles.
        copy_symbols: symbols to remember in copy-memory.
        vocabulary: symbols to choose from in copy-memory (chance accuracy 1 / vocabulary).
        clipping_cells: cells trained with and without clipping.
        clipping_length: the length of the clipping experiment (adding problem).
        seed: of the data and the weights.
    """

    lengths: tuple[int, ...] = (50, 200, 1000)
    cells: tuple[str, ...] = CELL_NAMES
    tasks: tuple[str, ...] = TASKS
    units: int = 32
    batch_size: int = 32
    train_steps: int = 400
    time_step_budget: int = 200_000
    learning_rate: float = 1e-2  # measured: at 3e-3 no cell learned adding (T=50) in 300 updates
    clip_norm: float | None = 1.0
    test_examples: int = 256
    gradient_examples: int = 16
    copy_symbols: int = 3
    vocabulary: int = 8
    clipping_cells: tuple[str, ...] = ("elman", "lstm")
    clipping_length: int = 200
    seed: int = 0
    # Start every cell that has a per-unit memory knob with its units' memory times spread
    # over 2 .. T steps (see memory_initialise); False keeps Keras's and the cells' defaults.
    memory_init: bool = True
    # IndRNN as its authors use it: stacked, because a ReLU unit with u ~ 1 can only add up
    # what it is fed, and a layer below with short memories has to pick out what to add (the
    # marked values). Measured (adding, T = 50 and 200): one layer never beat the no-learning
    # score, whatever the learning rate (1e-2 .. 1e-3) or input-weight scale; two did.
    indrnn_layers: int = 2

    @classmethod
    def quick(cls) -> LabSettings:
        """Seconds, for tests: every cell, task and output, on tiny lengths and models."""
        return cls(
            lengths=(5, 10),
            units=4,
            batch_size=8,
            train_steps=3,
            test_examples=16,
            gradient_examples=4,
            copy_symbols=2,
            clipping_length=10,
        )


# ---------------------------------------------------------------------------
# Tasks


def adding_problem(
    rng: np.random.Generator, batch_size: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [batch, length, 2] (value, marker) and targets [batch, 1] (the marked sum)."""
    if length < 2:
        raise ValueError(f"length must be >= 2, got {length}")
    values = rng.uniform(size=(batch_size, length)).astype("float32")
    markers = np.zeros((batch_size, length), "float32")
    rows = np.arange(batch_size)
    half = length // 2
    first = rng.integers(0, half, size=batch_size)  # one marker in each half: the answer
    second = rng.integers(half, length, size=batch_size)  # needs a memory of ~T/2 steps
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), targets[:, None]


def copy_memory(
    rng: np.random.Generator, batch_size: int, length: int, copy_symbols: int, vocabulary: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs [batch, length, vocabulary + 2] (one-hot) and targets [batch, copy_symbols] (ids).

    Channels: the `vocabulary` symbols, then "blank", then "recall" (the last step).
    """
    if length < copy_symbols + 1:
        raise ValueError(f"length must be > copy_symbols ({copy_symbols}), got {length}")
    targets = rng.integers(0, vocabulary, size=(batch_size, copy_symbols))
    inputs = np.zeros((batch_size, length, vocabulary + 2), "float32")
    inputs[:, copy_symbols:, vocabulary] = 1.0  # blank
    inputs[:, -1, vocabulary] = 0.0
    inputs[:, -1, vocabulary + 1] = 1.0  # recall
    rows = np.arange(batch_size)[:, None]
    steps = np.arange(copy_symbols)[None, :]
    inputs[rows, steps, targets] = 1.0
    return inputs, targets.astype("int32")


def make_batch(task: str, rng: np.random.Generator, batch_size: int, length: int, options):
    if task == "adding":
        return adding_problem(rng, batch_size, length)
    if task == "copy_memory":
        return copy_memory(rng, batch_size, length, options.copy_symbols, options.vocabulary)
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")


# ---------------------------------------------------------------------------
# Models


def build_model(task: str, cell: str, length: int, options: LabSettings):
    """Sequence [batch, T, features] -> cell ``rnn`` (final output) -> Dense ``head``.

    IndRNN is ``indrnn_layers`` stacked cells in the one ``rnn`` layer (a
    ``keras.layers.StackedRNNCells``), each with its recurrent weights bounded by 2^(1/T).
    """
    import keras

    from shared.layers import make_cell, recurrent_bound, recurrent_layer

    features = 2 if task == "adding" else options.vocabulary + 2
    outputs = 1 if task == "adding" else options.copy_symbols * options.vocabulary
    inputs = keras.Input(shape=(length, features), name="sequence")
    if cell == "indrnn":
        if options.indrnn_layers < 1:
            raise ValueError(f"indrnn_layers must be >= 1, got {options.indrnn_layers}")
        # The bound 2^(1/T): over the whole sequence a unit's gradient can at most double.
        bound = recurrent_bound(length)
        cells = [
            make_cell(cell, options.units, recurrent_max_abs=bound, name=f"indrnn_{layer_index}")
            for layer_index in range(options.indrnn_layers)
        ]
        stack = cells[0] if len(cells) == 1 else keras.layers.StackedRNNCells(cells, name="stack")
        final = keras.layers.RNN(stack, name="rnn")(inputs)
    else:
        final = recurrent_layer(cell, options.units, name="rnn")(inputs)
    prediction = keras.layers.Dense(outputs, name="head")(final)  # [batch, outputs]
    return keras.Model(inputs, prediction, name=f"{task}_{cell}")


def memory_initialise(model, cell: str, length: int, seed: int) -> None:
    """Chrono initialisation (Tallec & Ollivier 2018): unit memory times tau ~ U(2, T).

    A unit that keeps a fraction ``1 - 1/tau`` of its past per step remembers for about
    ``tau`` steps, and so does its gradient. LSTM: forget-gate bias ``log(tau - 1)``
    (sigmoid = 1 - 1/tau) and input-gate bias its negative; GRU: the update gate (which in
    Keras keeps the past) the same. Elman and Jordan networks have no per-unit knob: what they
    remember is set by the whole recurrent matrix and the tanh slopes, and they keep Keras's
    orthogonal initialisation.

    IndRNN starts as its authors start it on the adding problem (Li et al. 2018, section
    4.1): lower layers' ``u ~ U(0, 1)``, the last layer's ``u ~ U((1/2)^(1/T), 2^(1/T))``, so
    every last-layer unit keeps at least half of step 0 at step T, while most lower-layer units
    forget within a few steps and can pick out single inputs. Chrono's ``u = 1 - 1/tau`` in
    both layers was measured worse: with long memories below too, ReLU units add the inputs
    up twice over and the first outputs grow ~T^2 (adding, T = 200, in one exploratory
    setting: first loss ~4,000 against ~20, test MSE 0.076 against 0.007).
    """
    rng = np.random.default_rng(seed)
    layer_cell = model.get_layer("rnn").cell
    if cell == "indrnn":
        cells = getattr(layer_cell, "cells", [layer_cell])  # a StackedRNNCells, or one cell
        for lower in cells[:-1]:
            lower.recurrent_kernel.assign(rng.uniform(0.0, 1.0, lower.units).astype("float32"))
        last = cells[-1]
        low = 0.5 ** (1.0 / length)
        last.recurrent_kernel.assign(
            rng.uniform(low, last.recurrent_max_abs, last.units).astype("float32")
        )
        return
    if cell not in ("lstm", "gru"):
        return
    units = layer_cell.units
    tau = rng.uniform(2.0, max(length, 3), size=units)
    bias = np.array(layer_cell.bias)
    keep = np.log(tau - 1.0).astype("float32")
    if cell == "lstm":  # gates [input, forget, cell, output]
        bias[:units], bias[units : 2 * units] = -keep, keep
    else:  # GRU gates [update, reset, candidate]; reset_after: rows (input, recurrent)
        bias[..., :units] = 0.0
        (bias[0] if bias.ndim == 2 else bias)[:units] = keep
    layer_cell.bias.assign(bias)


def per_example_loss(task: str, prediction, targets, options: LabSettings):
    """[batch] losses: squared error (adding), summed symbol cross-entropy (copy-memory)."""
    import keras
    from keras import ops

    if task == "adding":
        return ops.sum(ops.square(prediction - targets), axis=-1)
    logits = ops.reshape(prediction, (-1, options.copy_symbols, options.vocabulary))
    losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    return ops.sum(losses, axis=-1)  # [batch]


def evaluate(task: str, model, inputs, targets, options: LabSettings) -> dict:
    """The test loss and the task's metric (``mse`` or ``accuracy``)."""
    import tensorflow as tf

    call = tf.function(model) if inputs.shape[1] > EAGER_MAX_LENGTH else model
    prediction = np.asarray(call(inputs, training=False))
    if task == "adding":
        mse = float(np.mean((prediction - targets) ** 2))
        return {"mse": mse, "loss": mse, "baseline": ADDING_BASELINE}
    logits = prediction.reshape(-1, options.copy_symbols, options.vocabulary)
    accuracy = float(np.mean(logits.argmax(-1) == targets))
    shifted = logits - logits.max(-1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    chosen = np.take_along_axis(log_probabilities, targets[..., None], axis=-1)
    return {
        "accuracy": accuracy,
        "loss": float(-chosen.mean()),  # per symbol
        "baseline": 1.0 / options.vocabulary,
    }


def updates(options: LabSettings, length: int) -> int:
    """Adam updates of a run at `length`: ``train_steps`` within ``time_step_budget``."""
    return max(1, min(options.train_steps, options.time_step_budget // length))


def train(
    task: str, model, options: LabSettings, length: int, clip_norm: float | None, seed: int
) -> dict:
    """:func:`updates` Adam updates on fresh batches; the loss and gradient norm of each."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(options.learning_rate, global_clipnorm=clip_norm)
    variables = model.trainable_variables

    def step(inputs, targets):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(
                per_example_loss(task, model(inputs, training=True), targets, options)
            )
        gradients = tape.gradient(loss, variables)
        norm = tf.linalg.global_norm(gradients)  # before clipping: what clipping acts on
        optimizer.apply(gradients, variables)
        return loss, norm

    # XLA fuses each step's small ops: 1.5-3x faster updates at T=1000 on one CPU thread, for a
    # few seconds of compiling, which short sequences do not repay.
    step = tf.function(step, jit_compile=length > EAGER_MAX_LENGTH)
    rng = np.random.default_rng(seed)
    losses, norms = [], []
    started = time.perf_counter()
    for _ in range(updates(options, length)):
        inputs, targets = make_batch(task, rng, options.batch_size, length, options)
        loss, norm = step(inputs, targets)
        losses.append(float(loss))
        norms.append(float(norm))
    return {"loss": losses, "gradient_norm": norms, "seconds": time.perf_counter() - started}


# ---------------------------------------------------------------------------
# Gradient with respect to the recurrent state at every time step


def state_gradient_log10_norms(task: str, model, inputs, targets, options) -> list[float | None]:
    """log10 of the mean over examples of ``||dL_i/ds_t||``, for t = 0 .. T-1.

    ``L_i`` is example i's loss, ``s_t`` the cell's whole state after step t. Forward: the
    model's own cell, step by step. Backward: one vector-Jacobian product per step, each
    example's vector renormalised to unit length with its log-norm accumulated, so values
    far below float32's smallest number are still exact to float32 precision. ``None`` where
    the gradient is exactly zero (every ReLU of the path off).
    """
    import keras
    import tensorflow as tf

    cell = model.get_layer("rnn").cell
    head = model.get_layer("head")
    inputs = tf.constant(inputs)
    batch_size, length = int(inputs.shape[0]), int(inputs.shape[1])
    # The state as the cell takes it (nested for a stack of cells), and flat here.
    structure = cell.get_initial_state(batch_size)
    # Every cell here outputs its (first) state: h_t, or y_t for Jordan; a stack, its last
    # cell's, which comes after the states of the cells below it.
    output_index = (
        len(tf.nest.flatten(structure)) - len(tf.nest.flatten(structure[-1]))
        if isinstance(cell, keras.layers.StackedRNNCells)
        else 0
    )

    def step(x_t, states):
        nested = tf.nest.pack_sequence_as(structure, states)
        _, new_states = cell.call(x_t, nested, training=False)
        return tf.nest.flatten(new_states)

    def backward(x_t, states, upstream):
        with tf.GradientTape() as tape:
            tape.watch(states)
            new_states = step(x_t, states)
        return tape.gradient(new_states, states, output_gradients=upstream)

    def last_gradient(states):
        with tf.GradientTape() as tape:
            tape.watch(states)
            losses = per_example_loss(task, head(states[output_index]), targets, options)
            total = tf.reduce_sum(losses)  # the sum: each example's gradient is its own
        gradients = tape.gradient(total, states)
        return [
            tf.zeros_like(s) if g is None else g for g, s in zip(gradients, states, strict=True)
        ]

    forward = step
    if length > EAGER_MAX_LENGTH:
        forward, backward, last_gradient = (
            tf.function(step),
            tf.function(backward),
            tf.function(last_gradient),
        )
    states = [tf.convert_to_tensor(s) for s in tf.nest.flatten(structure)]
    history = [states]  # history[t + 1]: the state after step t
    for t in range(length):
        states = forward(inputs[:, t], states)
        history.append(states)

    def norm(gradients):  # [batch]
        return tf.sqrt(sum(tf.reduce_sum(tf.square(g), axis=-1) for g in gradients))

    upstream = last_gradient(history[length])
    log_scale = np.zeros(batch_size)  # log10 of each example's true norm / unit vector
    log10_norms = [0.0] * length
    for t in range(length - 1, -1, -1):
        magnitude = norm(upstream).numpy().astype("float64")
        with np.errstate(divide="ignore"):
            log_scale = log_scale + np.log10(magnitude)
        finite = np.isfinite(log_scale)
        if finite.any():
            # log10(mean(10^log_scale)) over the examples, done stably.
            peak = log_scale[finite].max()
            mean = np.sum(10.0 ** (log_scale[finite] - peak)) / batch_size
            log10_norms[t] = float(peak + np.log10(mean))
        else:
            log10_norms[t] = None
        if t == 0:
            break
        safe = np.where(magnitude > 0, magnitude, 1.0).astype("float32")[:, None]
        upstream = [g / safe for g in upstream]
        upstream = backward(inputs[:, t], history[t], upstream)
    return log10_norms


def gradient_summary(log10_norms: list[float | None]) -> dict:
    """The profile, and log10 of ||dL/ds_0|| / ||dL/ds_{T-1}||: decades gained or lost."""
    first, last = log10_norms[0], log10_norms[-1]
    ratio = None if first is None or last is None else first - last
    return {
        "log10_norm": [None if v is None else round(v, 4) for v in log10_norms],
        **{"log10_ratio_first_to_last": ratio},
    }


# ---------------------------------------------------------------------------
# The whole run


def run(options: LabSettings) -> dict:
    """Train and measure every (task, cell, length), then the clipping experiment."""
    import keras

    from shared.layers import CELLS

    for cell in options.cells:
        if cell not in CELLS:
            raise ValueError(f"cells: {cell!r} is not one of {sorted(CELLS)}")
    started = time.perf_counter()
    results: dict = {task: {cell: {} for cell in options.cells} for task in options.tasks}
    for task in options.tasks:
        for length in options.lengths:
            test_rng = np.random.default_rng(options.seed + 1000 + length)
            test_inputs, test_targets = make_batch(
                task, test_rng, options.test_examples, length, options
            )
            probe_inputs, probe_targets = (
                test_inputs[: options.gradient_examples],
                test_targets[: options.gradient_examples],
            )
            for cell in options.cells:
                keras.utils.set_random_seed(options.seed)
                model = build_model(task, cell, length, options)
                if options.memory_init:
                    memory_initialise(model, cell, length, options.seed)
                log(f"{task} T={length} {cell}: gradient profile at initialisation")
                initial = state_gradient_log10_norms(
                    task, model, probe_inputs, probe_targets, options
                )
                log(f"{task} T={length} {cell}: {updates(options, length)} training steps")
                history = train(task, model, options, length, options.clip_norm, options.seed)
                scores = evaluate(task, model, test_inputs, test_targets, options)
                trained = state_gradient_log10_norms(
                    task, model, probe_inputs, probe_targets, options
                )
                metric = METRICS[task]
                log(
                    f"{task} T={length} {cell}: test {metric} {scores[metric]:.4f} "
                    f"(baseline {scores['baseline']:.4f}), {history['seconds']:.1f} s"
                )
                results[task][cell][str(length)] = {
                    **scores,
                    "train_seconds": round(history["seconds"], 2),
                    "updates": len(history["loss"]),
                    "train_loss": [round(v, 5) for v in history["loss"]],
                    "gradient": {
                        "initial": gradient_summary(initial),
                        "trained": gradient_summary(trained),
                    },
                }
    clipping = run_clipping(options)
    return {
        "settings": dataclasses.asdict(options),
        "metrics": METRICS,
        "results": results,
        "clipping": clipping,
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_clipping(options: LabSettings) -> dict:
    """The adding problem at ``clipping_length``: each clipping cell with clipping on and off."""
    import keras

    task, length = "adding", options.clipping_length
    test_inputs, test_targets = adding_problem(
        np.random.default_rng(options.seed + 2000), options.test_examples, length
    )
    clip_norm = options.clip_norm or 1.0
    results: dict = {"task": task, "length": length, "clip_norm": clip_norm, "cells": {}}
    for cell in options.clipping_cells:
        results["cells"][cell] = {}
        for label, clip in (("clipped", clip_norm), ("unclipped", None)):
            keras.utils.set_random_seed(options.seed)
            model = build_model(task, cell, length, options)
            if options.memory_init:
                memory_initialise(model, cell, length, options.seed)
            log(f"clipping: {cell} T={length} {label}")
            history = train(task, model, options, length, clip, options.seed)
            scores = evaluate(task, model, test_inputs, test_targets, options)
            losses = np.asarray(history["loss"])
            results["cells"][cell][label] = {
                **scores,
                "diverged": bool(not np.all(np.isfinite(losses))),
                "train_loss": [round(v, 5) if math.isfinite(v) else None for v in losses],
                "gradient_norm": [
                    round(v, 5) if math.isfinite(v) else None for v in history["gradient_norm"]
                ],
                "max_gradient_norm": float(np.nanmax(history["gradient_norm"])),
            }
    return results


# ---------------------------------------------------------------------------
# Plots


def _smooth(values: list, window: int) -> np.ndarray:
    values = np.asarray([np.nan if v is None else v for v in values], dtype="float64")
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def plot(figures: dict, out: pathlib.Path) -> list[pathlib.Path]:
    """``gradient_norms.png``, ``metric_vs_length.png`` and ``clipping.png`` in `out`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    options, results = figures["settings"], figures["results"]
    tasks, cells, lengths = options["tasks"], options["cells"], options["lengths"]
    longest = str(max(lengths))
    paths = []

    figure, axes = pyplot.subplots(
        len(tasks), 2, figsize=(10, 3.4 * len(tasks)), squeeze=False, sharey=True
    )
    for row, task in enumerate(tasks):
        for column, when in enumerate(("initial", "trained")):
            axis = axes[row][column]
            for cell in cells:
                profile = results[task][cell][longest]["gradient"][when]["log10_norm"]
                # Relative to the last step, where the loss's gradient enters: what is left.
                last = profile[-1] if profile[-1] is not None else 0.0
                values = np.asarray([np.nan if v is None else v - last for v in profile])
                axis.plot(np.arange(len(values)), values, label=cell)
            axis.set_ylim(-GRADIENT_PLOT_DECADES, 5)
            axis.set_title(f"{task}, T={longest}, {when}", fontsize=10)
            axis.set_xlabel("time step t")
            axis.grid(True, which="major", alpha=0.3)
        axes[row][0].set_ylabel("log10 ||dL/ds_t|| / ||dL/ds_T-1||")
    figure.suptitle(
        f"Gradient of the loss with respect to the state at step t (below -{GRADIENT_PLOT_DECADES}"
        " off the chart)",
        fontsize=10,
    )
    axes[0][1].legend(fontsize=8)
    figure.tight_layout()
    paths.append(_save(figure, out / "gradient_norms.png", pyplot))

    figure, axes = pyplot.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.4), squeeze=False)
    for column, task in enumerate(tasks):
        axis = axes[0][column]
        metric = figures["metrics"][task]
        for cell in cells:
            axis.plot(
                lengths, [results[task][cell][str(n)][metric] for n in lengths], "o-", label=cell
            )
        baseline = results[task][cells[0]][str(lengths[0])]["baseline"]
        axis.axhline(baseline, color="grey", linestyle="--", label="no learning")
        axis.set_xscale("log")
        axis.set_xticks(lengths, [str(n) for n in lengths])
        axis.set_xlabel("sequence length T")
        axis.set_ylabel(f"test {metric}")
        axis.set_title(task, fontsize=10)
        axis.grid(True, alpha=0.3)
    axes[0][-1].legend(fontsize=8)
    figure.tight_layout()
    paths.append(_save(figure, out / "metric_vs_length.png", pyplot))

    clipping = figures["clipping"]
    figure, axes = pyplot.subplots(1, 2, figsize=(10, 3.4))
    window = max(1, options["train_steps"] // 20)
    for cell, runs in clipping["cells"].items():
        for label, run_figures in runs.items():
            style = "-" if label == "clipped" else ":"
            name = f"{cell}, {label}"
            axes[0].plot(_smooth(run_figures["train_loss"], window), style, label=name)
            axes[1].semilogy(_smooth(run_figures["gradient_norm"], window), style, label=name)
    axes[0].axhline(ADDING_BASELINE, color="grey", linestyle="--", label="no learning")
    axes[0].set_title(
        f"adding, T={clipping['length']}: training loss (moving mean of {window})", fontsize=10
    )
    axes[0].set_xlabel("update")
    axes[1].axhline(clipping["clip_norm"], color="grey", linestyle="--", label="clip norm")
    axes[1].set_title(
        f"gradient global norm before clipping (moving mean of {window})", fontsize=10
    )
    axes[1].set_xlabel("update")
    for axis in axes:
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    paths.append(_save(figure, out / "clipping.png", pyplot))
    return paths


def _save(figure, path: pathlib.Path, pyplot) -> pathlib.Path:
    figure.savefig(path, dpi=72)
    pyplot.close(figure)
    return path


def main(out: pathlib.Path, quick: bool = False) -> int:
    """``rnnapps lab``: run, write ``lab.json`` and the PNGs to `out`, print a summary."""
    options = LabSettings.quick() if quick else LabSettings()
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = run(options)
    (out / "lab.json").write_text(json.dumps(figures, indent=1))
    paths = plot(figures, out)
    log(
        f"wrote {out / 'lab.json'} and {', '.join(p.name for p in paths)} in {figures['seconds']} s"
    )
    print(summary_markdown(figures))
    return 0


def summary_markdown(figures: dict) -> str:
    """The tables of docs/lab.md: per task, cell x length, and the clipping experiment."""
    options, results = figures["settings"], figures["results"]
    lengths = options["lengths"]

    def decades(entry: dict, when: str) -> str:
        ratio = entry["gradient"][when]["log10_ratio_first_to_last"]
        return "zero" if ratio is None else f"{ratio:+.1f}"

    lines = []
    for task in options["tasks"]:
        metric = figures["metrics"][task]
        baseline = results[task][options["cells"][0]][str(lengths[0])]["baseline"]
        lines += [
            f"**{task}**: test {metric} (no learning scores {baseline:.3f}); in brackets "
            "log10 ||dL/ds_0|| / ||dL/ds_T-1||, the decades of gradient kept (0) or lost "
            "(negative) from the last step back to the first, at initialisation → after "
            "training (zero: the gradient is exactly 0, every ReLU on the path off)",
            "",
            "| cell | " + " | ".join(f"T={n}" for n in lengths) + " |",
            "|---|" + "---|" * len(lengths),
        ]
        for cell in options["cells"]:
            row = []
            for n in lengths:
                entry = results[task][cell][str(n)]
                row.append(
                    f"{entry[metric]:.3f} ({decades(entry, 'initial')} → "
                    f"{decades(entry, 'trained')})"
                )
            lines.append(f"| {cell} | " + " | ".join(row) + " |")
        lines.append("")
    clipping = figures["clipping"]
    if clipping["cells"]:
        lines += [
            f"**Clipping** (adding, T={clipping['length']}, global norm "
            f"{clipping['clip_norm']} vs none)",
            "",
            "| cell | test mse clipped | unclipped | largest gradient norm clipped / unclipped |",
            "|---|---|---|---|",
        ]
        for cell, runs in clipping["cells"].items():
            clipped, unclipped = runs["clipped"], runs["unclipped"]
            lines.append(
                f"| {cell} | {clipped['mse']:.3f} | {unclipped['mse']:.3f}"
                + (" (diverged)" if unclipped["diverged"] else "")
                + f" | {clipped['max_gradient_norm']:.2f} / {unclipped['max_gradient_norm']:.2f} |"
            )
    return "\n".join(lines)
