"""Streaming step graphs: the context buffers a Keras step model carries as state.

A step model (one hop in, every piece of state in and ``next_<state>`` out) is built in
Keras from the trained layers; ``context_window`` gives a causal convolution or an
overlapping frame the inputs before the current hop. The host side that runs the step
model (``StreamingSession``, ``WindowedStream``, the detector) needs no TensorFlow and
lives in ``shared.runtime.streaming``.
"""

from __future__ import annotations

from keras import ops


def context_window(context, current, axis: int = 1):
    """Append `current` to a context buffer along `axis` (inside a Keras step graph).

    Returns ``(window, next_context)``: the buffer followed by the new input, and the
    buffer to feed at the next step (the window without its oldest entries).

    Example:
        >>> context = keras.Input(batch_shape=(1, 2, 40), name="conv_context")
        >>> frame = keras.Input(batch_shape=(1, 1, 40), name="frame")
        >>> window, next_context = context_window(context, frame)  # [1, 3, 40], [1, 2, 40]
    """
    window = ops.concatenate([context, current], axis=axis)
    size = current.shape[axis]
    index = [slice(None)] * len(window.shape)
    index[axis] = slice(size, None)
    return window, window[tuple(index)]
