"""Audio in numpy: loading user files, resampling, fitting to a length, and augmentation.

Waveforms are float32 in [-1, 1]. The augmentation functions take either one clip
``[samples]`` or a batch ``[clips, samples]`` and a seeded ``numpy.random.Generator``,
so a training run draws fresh, reproducible augmentations every epoch.
"""

from __future__ import annotations

import pathlib

import numpy as np

from shared.errors import UserError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
NOISE_COLORS = ("white", "pink", "brown", "blue")

# Power spectral density exponent of each colour: PSD ~ f ** exponent.
_COLOR_EXPONENTS = {"white": 0.0, "pink": -1.0, "brown": -2.0, "blue": 1.0, "violet": 2.0}
# Below -80 dBFS everywhere a recording carries nothing a model could use.
_SILENT_PEAK = 1e-4
# Samples of one coloured-noise signal that large batches take random windows from (~65 s).
_NOISE_BANK = 1 << 20
# Rows mixed at a time, bounding the temporary memory of a whole training set's noise.
_NOISE_BLOCK = 1024


def load_audio(
    path: str | pathlib.Path, sample_rate: int = 16000, allow_silent: bool = False
) -> np.ndarray:
    """Read an audio file as mono float32 at `sample_rate`.

    Stereo is averaged to mono and any other rate is resampled. A missing,
    empty, non-audio, corrupt or (unless `allow_silent`) all-silent file raises
    UserError with a one-line message naming the path.
    """
    import soundfile

    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    path = pathlib.Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(f"{path}: not a readable audio file ({reason[:160]})") from error
    if data.shape[0] == 0:
        raise UserError(f"{path}: the audio has no samples")
    if not np.isfinite(data).all():
        raise UserError(f"{path}: the audio holds NaN or infinite samples")
    audio = to_mono(data)
    if file_rate != sample_rate:
        audio = resample(audio, file_rate, sample_rate)
    if not allow_silent and np.abs(audio).max() < _SILENT_PEAK:
        raise UserError(f"{path}: the audio is silent")
    return audio


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of ``[samples, channels]`` audio; 1-D audio is returned as is."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise ValueError(f"audio must be [samples] or [samples, channels], got shape {audio.shape}")
    return audio.mean(axis=1, dtype=np.float32)


def resample(audio: np.ndarray, orig_sample_rate: int, target_sample_rate: int) -> np.ndarray:
    """Resample ``[samples]`` or ``[clips, samples]`` float audio along the last axis.

    Uses soxr's high-quality mode, which is exactly what ``librosa.resample``
    runs by default, without librosa's seconds-long import.
    """
    import soxr

    audio = np.asarray(audio, dtype=np.float32)
    if orig_sample_rate <= 0 or target_sample_rate <= 0:
        raise ValueError(
            f"sample rates must be positive, got {orig_sample_rate}, {target_sample_rate}"
        )
    if orig_sample_rate == target_sample_rate:
        return audio
    if audio.ndim not in (1, 2):
        raise ValueError(f"audio must be [samples] or [clips, samples], got shape {audio.shape}")
    # soxr takes channels last: treat the clips of a batch as channels.
    source = audio if audio.ndim == 1 else np.ascontiguousarray(audio.T)
    out = soxr.resample(source, orig_sample_rate, target_sample_rate, quality="HQ")
    out = out if audio.ndim == 1 else out.T
    return np.ascontiguousarray(out, dtype=np.float32)


def trim_silence(
    audio: np.ndarray, sample_rate: int, threshold_db: float = -40.0, margin_seconds: float = 0.02
) -> np.ndarray:
    """Cut leading and trailing parts quieter than `threshold_db` below the loudest 10 ms frame."""
    audio = np.asarray(audio, dtype=np.float32)
    frame = max(1, sample_rate // 100)
    num_frames = len(audio) // frame
    if num_frames == 0:
        return audio
    frames = audio[: num_frames * frame].reshape(num_frames, frame)
    energy = np.sqrt(np.mean(frames**2, axis=1))
    if energy.max() == 0:
        return audio[:0]
    loud = np.flatnonzero(energy >= energy.max() * 10 ** (threshold_db / 20))
    margin = int(margin_seconds * sample_rate)
    start = max(0, loud[0] * frame - margin)
    end = min(len(audio), (loud[-1] + 1) * frame + margin)
    return audio[start:end]


def pad_or_crop(audio: np.ndarray, length: int, offset: int | None = None) -> np.ndarray:
    """Fit 1-D audio to `length` samples.

    Shorter audio is zero-padded with the clip starting at `offset` (default:
    centred). Longer audio is cropped to the window starting at `offset`
    (default: the loudest window, so a word is kept and lead-in silence dropped).
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be 1-D, got shape {audio.shape}")
    if length <= 0:
        raise ValueError(f"length must be positive, got {length}")
    size = len(audio)
    if size <= length:
        start = (length - size) // 2 if offset is None else offset
        if not 0 <= start <= length - size:
            raise ValueError(f"offset must be in [0, {length - size}], got {offset}")
        out = np.zeros(length, dtype=np.float32)
        out[start : start + size] = audio
        return out
    if offset is None:
        # Energy of every window of `length` samples, from a running sum of squares.
        cumulative = np.concatenate([[0.0], np.cumsum(audio.astype(np.float64) ** 2)])
        offset = int(np.argmax(cumulative[length:] - cumulative[:-length]))
    if not 0 <= offset <= size - length:
        raise ValueError(f"offset must be in [0, {size - length}], got {offset}")
    return audio[offset : offset + length].copy()


def colored_noise(shape: int | tuple[int, ...], color: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of a colour (white, pink, brown, blue, violet) with unit RMS per row.

    The colour is made by shaping the spectrum of white noise so its power falls
    (pink 1/f, brown 1/f^2) or rises (blue f, violet f^2) with frequency. Large
    batches take random windows of one long noise signal: one FFT of a million
    samples instead of one per row keeps per-epoch augmentation cheap.
    """
    if color not in _COLOR_EXPONENTS:
        raise ValueError(f"color must be one of {sorted(_COLOR_EXPONENTS)}, got {color!r}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    length = shape[-1]
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    bank_length = max(length, min(rows * length, _NOISE_BANK))
    bank = _shaped_noise(bank_length, _COLOR_EXPONENTS[color], rng)
    return _windows(bank, rows, length, rng).reshape(shape)


def _windows(bank: np.ndarray, rows: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """`rows` windows of `length` samples of `bank`, each with zero mean and unit RMS."""
    if rows * length <= len(bank):
        out = bank[: rows * length].reshape(rows, length).copy()
    else:
        out = np.empty((rows, length), dtype=np.float32)
        # A loop of contiguous slice copies beats fancy indexing a strided window view.
        for row, offset in enumerate(rng.integers(0, len(bank) - length + 1, size=rows)):
            out[row] = bank[offset : offset + length]
    # Per row, so a window of slow brown drift still has zero mean and unit RMS.
    out -= out.mean(axis=-1, keepdims=True)
    out /= np.sqrt(np.mean(out**2, axis=-1, keepdims=True)) + np.float32(1e-12)
    return out


def _shaped_noise(length: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(length, dtype=np.float32)
    if exponent == 0.0 or length < 2:
        return white
    frequencies = np.fft.rfftfreq(length).astype(np.float32)
    frequencies[0] = frequencies[1]  # no infinite gain at DC
    spectrum = np.fft.rfft(white) * frequencies ** np.float32(exponent / 2)
    return np.fft.irfft(spectrum, n=length).astype(np.float32, copy=False)


def background_noise(
    shape: int | tuple[int, ...],
    rng: np.random.Generator,
    colors: tuple[str, ...] = NOISE_COLORS,
) -> np.ndarray:
    """Noise with a random mixture of `colors` per row (unit RMS), like a room's hum and hiss.

    Each row mixes the colours with random weights, so one batch holds pure
    white hiss, brown rumble and everything between.
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    length = shape[-1]
    rows = int(np.prod(shape[:-1], dtype=np.int64))
    # Sparse Dirichlet weights: often one colour dominates, sometimes a real mixture.
    weights = np.sqrt(rng.dirichlet(np.full(len(colors), 0.5), size=rows)).astype(np.float32)
    bank_length = max(length, min(rows * length, _NOISE_BANK))
    banks = [_shaped_noise(bank_length, _COLOR_EXPONENTS[color], rng) for color in colors]
    mixture = np.zeros((rows, length), dtype=np.float32)
    for start in range(0, rows, _NOISE_BLOCK):
        block = mixture[start : start + _NOISE_BLOCK]
        for index, bank in enumerate(banks):
            column = weights[start : start + len(block), index : index + 1]
            block += column * _windows(bank, len(block), length, rng)
    mixture /= np.sqrt(np.mean(mixture**2, axis=-1, keepdims=True)) + np.float32(1e-12)
    return mixture.reshape(shape)


def mix_at_snr(audio: np.ndarray, noise: np.ndarray, snr_db: float | np.ndarray) -> np.ndarray:
    """Add `noise` scaled so that each row's signal-to-noise ratio is `snr_db`.

    `snr_db` is a number or one value per row. A silent row gets no noise
    (its SNR is undefined).
    """
    audio = np.asarray(audio, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if audio.shape != noise.shape:
        raise ValueError(f"noise shape {noise.shape} must equal audio shape {audio.shape}")
    snr = np.asarray(snr_db, dtype=np.float32)
    if audio.ndim > 1 and snr.ndim == 1:
        snr = snr.reshape(snr.shape + (1,) * (audio.ndim - 1))
    signal_rms = np.sqrt(np.mean(audio**2, axis=-1, keepdims=True))
    noise_rms = np.sqrt(np.mean(noise**2, axis=-1, keepdims=True)) + np.float32(1e-12)
    scale = signal_rms / noise_rms / np.float32(10.0) ** (snr / np.float32(20.0))
    return audio + scale * noise


def time_shift(audio: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each row by a random number of samples in [-max_shift, max_shift], zero-filled."""
    audio = np.asarray(audio, dtype=np.float32)
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    rows = audio.reshape(-1, audio.shape[-1])
    out = np.zeros_like(rows)
    length = rows.shape[-1]
    shifts = np.clip(rng.integers(-max_shift, max_shift + 1, size=len(rows)), -length, length)
    for row, shift in enumerate(shifts.tolist()):
        if shift >= 0:
            out[row, shift:] = rows[row, : length - shift]
        else:
            out[row, :shift] = rows[row, -shift:]
    return out.reshape(audio.shape)


def random_gain(
    audio: np.ndarray,
    rng: np.random.Generator,
    min_db: float = -12.0,
    max_db: float = 6.0,
) -> np.ndarray:
    """Scale each row by a random gain in [min_db, max_db] dB, clipped to [-1, 1] like an ADC."""
    audio = np.asarray(audio, dtype=np.float32)
    if min_db > max_db:
        raise ValueError(f"min_db ({min_db}) must not exceed max_db ({max_db})")
    rows = 1 if audio.ndim == 1 else audio.shape[0]
    gain_db = rng.uniform(min_db, max_db, size=rows).astype(np.float32)
    gain = np.float32(10.0) ** (gain_db / np.float32(20.0))
    gain = gain.reshape((rows,) + (1,) * (audio.ndim - 1)) if audio.ndim > 1 else gain[0]
    return np.clip(audio * gain, -1.0, 1.0)


def add_background_noise(
    audio: np.ndarray,
    rng: np.random.Generator,
    snr_db: tuple[float, float] = (0.0, 30.0),
    probability: float = 0.8,
    colors: tuple[str, ...] = NOISE_COLORS,
) -> np.ndarray:
    """Add coloured noise at a random SNR in `snr_db` to a `probability` share of the rows."""
    audio = np.asarray(audio, dtype=np.float32)
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")
    rows = audio.reshape(-1, audio.shape[-1])
    chosen = np.flatnonzero(rng.random(len(rows)) < probability)
    out = rows.copy()
    if len(chosen):
        noise = background_noise((len(chosen), rows.shape[-1]), rng, colors)
        snr = rng.uniform(snr_db[0], snr_db[1], size=len(chosen))
        out[chosen] = mix_at_snr(rows[chosen], noise, snr)
    return np.clip(out, -1.0, 1.0).reshape(audio.shape)


def augment_waveforms(
    audio: np.ndarray,
    rng: np.random.Generator,
    max_shift: int = 1600,
    gain_db: tuple[float, float] = (-12.0, 6.0),
    snr_db: tuple[float, float] = (0.0, 30.0),
    noise_probability: float = 0.8,
) -> np.ndarray:
    """The usual keyword-spotting chain: time shift, then gain, then background noise.

    Defaults follow the Speech Commands recipe: up to 100 ms of shift at 16 kHz
    and noise on most clips.
    """
    shifted = time_shift(audio, max_shift, rng)
    louder = random_gain(shifted, rng, gain_db[0], gain_db[1])
    return add_background_noise(louder, rng, snr_db, noise_probability)


def spec_augment(
    features: np.ndarray,
    rng: np.random.Generator,
    time_masks: int = 2,
    max_time_width: int = 10,
    frequency_masks: int = 2,
    max_frequency_width: int = 8,
    mask_value: float | None = None,
) -> np.ndarray:
    """SpecAugment-style masking of a ``[time, mels]`` array (or ``[batch, time, mels]``).

    Sets `time_masks` random spans of up to `max_time_width` frames and
    `frequency_masks` spans of up to `max_frequency_width` mel bins to
    `mask_value` (default: the mean of each example, i.e. "no information").
    Each example of a batch gets its own masks.
    """
    features = np.asarray(features)
    if features.ndim not in (2, 3):
        raise ValueError(
            f"features must be [time, mels] or [batch, time, mels], got {features.shape}"
        )
    out = features.copy()
    examples = out[None] if out.ndim == 2 else out
    num_frames, num_bins = examples.shape[1], examples.shape[2]
    for example in examples:  # views into `out`
        value = example.mean() if mask_value is None else mask_value
        for _ in range(time_masks):
            width = int(rng.integers(0, min(max_time_width, num_frames) + 1))
            start = int(rng.integers(0, num_frames - width + 1))
            example[start : start + width, :] = value
        for _ in range(frequency_masks):
            width = int(rng.integers(0, min(max_frequency_width, num_bins) + 1))
            start = int(rng.integers(0, num_bins - width + 1))
            example[:, start : start + width] = value
    return out
