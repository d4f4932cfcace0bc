"""Waveform augmentations that model how real speech differs from a synthesiser's, in TF.

Each function takes a batch of waveforms ``[batch, samples]`` (float32, 16 kHz) and
per-clip parameters ``[batch, 1]``, and returns a batch of the same shape: they run
inside ``tf.data`` on whole batches (`SpeechApp._augmenter` draws the parameters,
statelessly from a seed). The room impulse responses are drawn once, in NumPy.

- `change_speed`: resampling, so pitch and tempo change together (as in Kaldi's speed
  perturbation): a factor 1.1 speaks 10% faster and 10% higher.
- `warp_spectrum`: vocal tract length perturbation (VTLP): every frame's spectrum is
  stretched along frequency by a factor (0.9 moves formants 10% lower), pitch kept.
- `reverberate`: convolution with a synthetic room impulse response
  (`room_impulse_responses`: a direct path, then exponentially decaying noise), the
  level kept.
- `band_limit`: a channel passing only ``[low, high]`` Hz (a telephone: 300-3400 Hz).
- `mu_law`: 8-bit mu-law companding and back (G.711's quantisation).
- `babble`: other clips of the batch, shifted in time and summed, as background talk.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

SAMPLE_RATE = 16000
_FRAME, _HOP = 512, 128  # STFT of `warp_spectrum`: 32 ms windows, 8 ms hops


def change_speed(audio: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Play each clip `factor` times faster ([batch, 1]; > 1: shorter and higher), same length.

    Sample t of the result is sample ``t * factor`` of the clip, linearly interpolated; past
    the clip's end it is silence.
    """
    length = tf.shape(audio)[1]
    source = tf.cast(tf.range(length), tf.float32)[None, :] * factor  # [batch, length]
    below = tf.floor(source)
    fraction = source - below
    index = tf.cast(below, tf.int32)
    last = length - 1
    left = tf.gather(audio, tf.minimum(index, last), batch_dims=1)
    right = tf.gather(audio, tf.minimum(index + 1, last), batch_dims=1)
    inside = tf.cast(source <= tf.cast(last, tf.float32), tf.float32)
    return (left * (1.0 - fraction) + right * fraction) * inside


def warp_spectrum(audio: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Vocal tract length perturbation: stretch each frame's spectrum by `factor` ([batch, 1]).

    A phase vocoder: frequency f of the result takes the magnitude at ``f / factor``
    (interpolated) and that bin's instantaneous frequency times `factor`, its phase
    accumulated hop by hop, so a partial at f moves to ``factor * f`` and stays one
    partial. The clip keeps its length and timing; factor 1 returns it (up to round-off).
    """
    length = tf.shape(audio)[1]
    window = tf.signal.hann_window
    spectrum = tf.signal.stft(audio, _FRAME, _HOP, window_fn=window, pad_end=True)
    bins = _FRAME // 2 + 1
    magnitude, phase = tf.abs(spectrum), tf.math.angle(spectrum)  # [batch, frames, bins]
    # Each bin's instantaneous frequency (radians per sample) from its phase advance.
    centre = 2.0 * np.pi * tf.range(bins, dtype=tf.float32) / _FRAME
    advance = phase - tf.pad(phase[:, :-1], [[0, 0], [1, 0], [0, 0]]) - centre * _HOP
    advance = tf.math.floormod(advance + np.pi, 2.0 * np.pi) - np.pi
    frequency = centre + advance / _HOP
    source = tf.cast(tf.range(bins), tf.float32)[None, :] / factor  # [batch, bins]
    below = tf.floor(source)
    fraction = (source - below)[:, None, :]
    index = tf.cast(below, tf.int32)
    inside = tf.cast((source <= bins - 1)[:, None, :], tf.float32)
    left = tf.gather(magnitude, tf.minimum(index, bins - 1), axis=2, batch_dims=1)
    right = tf.gather(magnitude, tf.minimum(index + 1, bins - 1), axis=2, batch_dims=1)
    warped = (left * (1.0 - fraction) + right * fraction) * inside
    nearest = tf.minimum(tf.cast(tf.round(source), tf.int32), bins - 1)
    moved = tf.gather(frequency, nearest, axis=2, batch_dims=1) * factor[:, :, None]
    # The first frame keeps its phase; later ones advance at the moved frequency.
    start = tf.gather(phase[:, :1], nearest, axis=2, batch_dims=1)
    steps = tf.concat([tf.zeros_like(moved[:, :1]), moved[:, 1:] * _HOP], axis=1)
    new_phase = start + tf.cumsum(steps, axis=1)
    out = tf.signal.inverse_stft(
        tf.complex(warped * tf.cos(new_phase), warped * tf.sin(new_phase)),
        _FRAME,
        _HOP,
        window_fn=tf.signal.inverse_stft_window_fn(_HOP, window),
    )
    return out[:, :length]


def room_impulse_responses(
    count: int,
    rng: np.random.Generator,
    rt60: tuple[float, float] = (0.1, 0.7),
    direct_to_reverberant_db: tuple[float, float] = (-3.0, 12.0),
    seconds: float = 0.5,
) -> np.ndarray:
    """`count` synthetic room impulse responses [count, seconds * 16000], float32.

    Each is a unit direct path at time 0 and, from 1-10 ms later, Gaussian noise decaying
    by 60 dB over a reverberation time drawn from `rt60` (seconds); the tail's energy is
    set by a direct-to-reverberant ratio drawn from `direct_to_reverberant_db`.
    """
    length = int(seconds * SAMPLE_RATE)
    time = np.arange(length) / SAMPLE_RATE
    responses = np.zeros((count, length), np.float32)
    for row in range(count):
        decay = rng.uniform(*rt60)
        delay = int(rng.uniform(0.001, 0.01) * SAMPLE_RATE)
        tail = rng.standard_normal(length) * np.exp(-6.908 * time / decay)  # ln(1000) = 6.908
        tail[:delay] = 0.0
        ratio = 10 ** (rng.uniform(*direct_to_reverberant_db) / 10)
        tail *= np.sqrt(1.0 / ratio / max(np.sum(tail**2), 1e-12))
        tail[0] += 1.0
        responses[row] = tail
    return responses


def reverberate(audio: tf.Tensor, responses: tf.Tensor) -> tf.Tensor:
    """Each clip convolved with its impulse response ([batch, taps]), cut to the clip's
    length and scaled back to the clip's RMS level."""
    length = tf.shape(audio)[1]
    taps = tf.shape(responses)[1]
    size = tf.cast(
        2 ** tf.math.ceil(tf.math.log(tf.cast(length + taps, tf.float32)) / np.log(2.0)), tf.int32
    )
    wet = tf.signal.irfft(
        tf.signal.rfft(audio, [size]) * tf.signal.rfft(responses, [size]), [size]
    )[:, :length]
    return wet * _rms(audio) / (_rms(wet) + 1e-9)


def band_limit(audio: tf.Tensor, low_hz: tf.Tensor, high_hz: tf.Tensor) -> tf.Tensor:
    """Each clip through a band-pass channel: frequencies outside ``[low_hz, high_hz]``
    ([batch, 1]) removed, with a 100 Hz linear roll-off at each edge."""
    length = tf.shape(audio)[1]
    spectrum = tf.signal.rfft(audio)
    frequency = tf.linspace(0.0, SAMPLE_RATE / 2, tf.shape(spectrum)[1])[None, :]
    gain = tf.clip_by_value((frequency - low_hz) / 100.0 + 0.5, 0.0, 1.0) * tf.clip_by_value(
        (high_hz - frequency) / 100.0 + 0.5, 0.0, 1.0
    )
    return tf.signal.irfft(spectrum * tf.cast(gain, tf.complex64), [length])


def mu_law(audio: tf.Tensor, levels: int = 256) -> tf.Tensor:
    """8-bit mu-law companding and expansion (G.711's quantisation of telephone speech)."""
    mu = float(levels - 1)
    audio = tf.clip_by_value(audio, -1.0, 1.0)
    compressed = tf.sign(audio) * tf.math.log1p(mu * tf.abs(audio)) / np.log1p(mu)
    step = (levels // 2) - 0.5
    quantised = tf.round(compressed * step) / step
    return tf.sign(quantised) * (tf.pow(1.0 + mu, tf.abs(quantised)) - 1.0) / mu


def babble(audio: tf.Tensor, shifts: tf.Tensor) -> tf.Tensor:
    """Background talk for each clip: the next ``shifts.shape[1]`` clips of the batch, each
    rolled by its shift ([batch, voices] samples) and summed, scaled to unit RMS."""
    total = tf.zeros_like(audio)
    for voice in range(shifts.shape[1]):
        other = tf.roll(audio, shift=voice + 1, axis=0)
        length = tf.shape(audio)[1]
        positions = (tf.range(length)[None, :] - shifts[:, voice : voice + 1]) % length
        total += tf.gather(other, positions, batch_dims=1)
    return total / (_rms(total) + 1e-9)


def _rms(audio: tf.Tensor) -> tf.Tensor:
    return tf.sqrt(tf.reduce_mean(audio**2, axis=-1, keepdims=True))
