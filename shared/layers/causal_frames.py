"""Cut a waveform into overlapping frames that end on hop boundaries (streaming-ready)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="rnnapps")
class CausalFrames(keras.layers.Layer):
    """Waveform -> frames of `frame_length` samples, one every `hop_length` samples, causal.

    Frame ``t`` holds the samples ``[(t + 1) * hop - frame_length, (t + 1) * hop)``, with
    zeros before the start of the clip. Each frame therefore ends exactly where a hop of
    audio ends, so a streaming model that keeps the last ``frame_length - hop_length``
    samples in a buffer and appends each new hop sees the very frames this layer cuts
    (see ``shared.streaming``). Built from reshape, slice and concatenate only, so it
    converts to builtin LiteRT ops.

    Args:
        frame_length: samples per frame (the FFT size, say 512).
        hop_length: samples between frames (320 = 20 ms at 16 kHz). The clip length
            must be a multiple of it, and `frame_length` at most twice it.

    Call arguments:
        waveform: float tensor [batch, samples].

    Returns float frames [batch, samples // hop_length, frame_length].

    Example:
        >>> frames = CausalFrames(512, 320, name="frames")(np.zeros((2, 16000), "float32"))
        >>> tuple(frames.shape)
        (2, 50, 512)
    """

    def __init__(self, frame_length: int = 512, hop_length: int = 320, **kwargs):
        super().__init__(**kwargs)
        if hop_length < 1:
            raise ValueError(f"hop_length must be >= 1, got {hop_length}")
        if not hop_length <= frame_length <= 2 * hop_length:
            raise ValueError(
                f"frame_length must be in [hop_length, 2 * hop_length] = "
                f"[{hop_length}, {2 * hop_length}], got {frame_length}"
            )
        self.frame_length = int(frame_length)
        self.hop_length = int(hop_length)

    @property
    def context_length(self) -> int:
        """Samples a frame reaches back before its own hop (the streaming buffer size)."""
        return self.frame_length - self.hop_length

    def call(self, waveform):
        samples = waveform.shape[-1]
        if samples is None or samples % self.hop_length:
            raise ValueError(
                f"waveform length must be a static multiple of {self.hop_length}, got {samples}"
            )
        num_hops = samples // self.hop_length
        hops = ops.reshape(waveform, (-1, num_hops, self.hop_length))  # [batch, time, hop]
        if self.context_length == 0:
            return hops
        # The tail of the previous hop (zeros before the first) is each frame's context.
        previous = ops.pad(
            hops[:, :-1, self.hop_length - self.context_length :], ((0, 0), (1, 0), (0, 0))
        )
        return ops.concatenate([previous, hops], axis=-1)  # [batch, time, frame_length]

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        return (
            input_shape[0],
            None if samples is None else samples // self.hop_length,
            self.frame_length,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(frame_length=self.frame_length, hop_length=self.hop_length)
        return config
