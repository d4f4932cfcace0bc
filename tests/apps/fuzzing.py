"""Hostile inputs for every app's ``predict`` path (hypothesis), shared by the end-to-end tests.

Each app's end-to-end module already trains the quick preset once; its fuzz test
reuses that model and calls ``fuzz_predict``. Every answer must be a valid answer
dict or the UserError for that input: one line, naming the input, no traceback,
returned (not raised) within a few seconds.
"""

from __future__ import annotations

import io
import json
import pathlib
import struct
import tempfile
import time
import zlib

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import UserError

EXTENSIONS = (".wav", ".flac", ".mp3", ".png", ".jpg", ".gif", ".mp4", ".avi", ".txt", "")
SECONDS_PER_ANSWER = 30  # a hang would take far longer; the slowest real answer takes < 1 s
COUNTS: dict[str, int] = {}  # app -> inputs tried, for the report


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels but holds almost nothing."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def _real_files() -> dict[str, bytes]:
    """Small valid files of every kind, to truncate and corrupt."""
    import soundfile
    from PIL import Image

    files = {}
    audio = io.BytesIO()
    soundfile.write(audio, np.zeros(16000, np.float32), 16000, format="WAV")
    files[".wav"] = audio.getvalue()
    image = Image.fromarray(np.full((32, 32, 3), 120, np.uint8))
    for extension, kind in ((".png", "PNG"), (".jpg", "JPEG")):
        buffer = io.BytesIO()
        image.save(buffer, kind)
        files[extension] = buffer.getvalue()
    frames = [Image.fromarray(np.full((16, 16, 3), 40 * k, np.uint8)) for k in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=40)
    files[".gif"] = buffer.getvalue()
    return files


REAL = _real_files()

# A file's content: random bytes, a cut or corrupted real file, a lying header, or nothing.
file_contents = st.one_of(
    st.binary(max_size=4096),
    st.builds(
        lambda kind, cut: REAL[kind][: max(1, int(len(REAL[kind]) * cut))],
        st.sampled_from(sorted(REAL)),
        st.floats(0.0, 0.99),
    ),
    st.builds(
        lambda kind, offset, byte: REAL[kind][:offset] + bytes([byte]) + REAL[kind][offset + 1 :],
        st.sampled_from(sorted(REAL)),
        st.integers(0, 60),
        st.integers(0, 255),
    ),
    st.sampled_from(
        [
            b"",
            _png_header(1, 100_000),
            _png_header(100_000, 100_000),
            _png_header(0, 0),
            b"RIFF\xff\xff\xff\xffWAVEfmt ",
            b"GIF89a\xff\xff\xff\xff",
        ]
    ),
)
file_inputs = st.tuples(
    st.sampled_from(EXTENSIONS), file_contents, st.sampled_from(["file", "dir", "missing"])
)
# Any Unicode (control characters, NUL, lone surrogates), and extreme lengths.
text_inputs = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=300),
    st.text(st.characters(categories=["Cc", "Cs", "Zs", "Zl", "Mn"]), max_size=50),
    st.builds(lambda t, n: t * n, st.text(min_size=1, max_size=3), st.integers(1, 30_000)),
    st.sampled_from(["", " ", "\x00", "\ud800", "@", "@/", "@/nonexistent", "\n" * 100]),
)

# Audio that decodes: hostile signals, lengths and sample rates in real containers.
SIGNALS = (
    "silent", "noise", "tone", "clipped", "beyond_full_scale", "huge", "nan", "inf",
    "subnormal", "dc", "impulse",
)  # fmt: skip
CONTAINERS = (  # (extension, soundfile format, subtype)
    (".wav", "WAV", "PCM_16"),
    (".wav", "WAV", "PCM_U8"),
    (".wav", "WAV", "FLOAT"),
    (".wav", "WAV", "DOUBLE"),
    (".flac", "FLAC", "PCM_24"),
    (".mp3", "WAV", "FLOAT"),  # the wrong extension for what is inside
)
SAMPLE_RATES = (1, 3, 100, 8000, 11025, 16000, 22050, 44100, 96000, 192000, 384000)
# Longer than every app allows, and cheap to write: hours at a sample rate of 1 to 3 Hz.
ABSURD_SECONDS = 20_000
# Accepted lengths stay under this, so a fuzz run stays quick (a stream runs ~100x real time).
MAX_FUZZ_SECONDS = 120


def _signal(kind: str, samples: int, channels: int, seed: int) -> np.ndarray:
    """`samples` x `channels` of a hostile `kind` of signal (float64, as soundfile takes)."""
    rng = np.random.default_rng(seed)
    noise = 0.3 * rng.standard_normal((samples, channels))
    ramp = np.arange(samples)[:, None] / 7.0 + np.arange(channels)[None, :]
    if kind == "silent":
        return np.zeros((samples, channels))
    if kind == "tone":
        return 0.5 * np.sin(ramp)
    if kind == "clipped":
        return np.sign(noise) * 1.0
    if kind == "beyond_full_scale":
        return 40.0 * noise
    if kind == "huge":
        return 1e30 * np.sign(noise)
    if kind in ("nan", "inf"):
        if samples:
            noise[rng.integers(samples), rng.integers(channels)] = (
                np.nan if kind == "nan" else -np.inf
            )
        return noise
    if kind == "subnormal":
        return np.full((samples, channels), 1e-40)
    if kind == "dc":
        return np.full((samples, channels), 0.99)
    if kind == "impulse":
        impulse = np.zeros((samples, channels))
        if samples:
            impulse[samples // 2] = 1.0
        return impulse
    return noise


def _audio_file(kind: str, samples: int, rate: int, channels: int, container, seed: int):
    """A (extension, content, "file") input: `kind` of audio written by soundfile."""
    import soundfile

    extension, audio_format, subtype = container
    if audio_format == "FLAC":
        channels = min(channels, 8)
    if not samples / rate > ABSURD_SECONDS:  # keep accepted inputs quick to answer
        samples = min(samples, MAX_FUZZ_SECONDS * rate)
    buffer = io.BytesIO()
    audio = _signal(kind, samples, channels, seed)
    soundfile.write(buffer, audio, rate, format=audio_format, subtype=subtype)
    return extension, buffer.getvalue(), "file"


audio_files = st.builds(
    _audio_file,
    st.sampled_from(SIGNALS),
    st.one_of(
        st.sampled_from([0, 1, 2, 319, 320, 321, 512, 16000, 47999, 48000, 48001, 64000]),
        st.integers(0, 70_000),
    ),
    st.sampled_from(SAMPLE_RATES),
    st.sampled_from([1, 2, 3, 9]),
    st.sampled_from(CONTAINERS),
    st.integers(0, 2**16),
)
# What a user may hand an audio app: mostly real containers of hostile audio, some garbage.
audio_inputs = st.one_of(audio_files, audio_files, file_inputs)


def _write(folder: pathlib.Path, index: int, extension: str, content: bytes, kind: str) -> str:
    path = folder / f"input{index}{extension}"
    if kind == "file":
        path.write_bytes(content)
    elif kind == "dir":
        path.mkdir()
    return str(path)


def check_answer(raw: str, answer, finite: bool = False) -> None:
    """A valid answer dict, or the UserError for `raw`: one line, naming it, no traceback.

    An answer may show the input cleaned (a lone surrogate replaced), but it must print;
    with `finite`, as strict JSON (a NaN score is not an answer).
    """
    if isinstance(answer, Exception):
        assert isinstance(answer, UserError), f"{raw!r}: {type(answer).__name__}: {answer}"
        message = str(answer)
        assert message and "\n" not in message and "Traceback" not in message, message
        if raw.startswith("/"):  # a file: its path (or name) is in the message
            assert pathlib.Path(raw).name in message, message
    else:
        assert isinstance(answer, dict) and isinstance(answer.get("input"), str), answer
        # What `rnnapps predict --json` prints must encode (a lone surrogate would not).
        json.dumps(answer, ensure_ascii=False, allow_nan=not finite).encode("utf-8")


def _split_answers(answers: list, good: str | None) -> tuple[list, list]:
    """`answers` of [raw, good] split into raw's and good's (good's are its trailing dicts)."""
    if good is None:
        return answers, []
    cut = len(answers)
    while cut > 0 and isinstance(answers[cut - 1], dict) and answers[cut - 1]["input"] == good:
        cut -= 1
    return answers[:cut], answers[cut:]


def fuzz_predict(
    app,
    predictor,
    inputs: str,
    max_examples: int = 60,
    good: str | None = None,
    several_answers: bool = False,
    **options,
) -> int:
    """Feed `app.predict` hostile `inputs`; returns how many were tried.

    Args:
        inputs: "files", "audio" (files, most of them decodable audio) or "text".
        good: an input that must still be answered right after each hostile one,
            in the same call.
        several_answers: an input may get several answers (one per detection),
            or one UserError.
        **options: passed to ``app.predict`` (``stream=True``, ``task=...``).
    """
    folder = pathlib.Path(tempfile.mkdtemp(prefix=f"fuzz-{app.name}-"))
    counter = iter(range(10**9))
    finite = inputs == "audio"
    tried = [0]

    def one(raw: str) -> None:
        started = time.perf_counter()
        answers = app.predict(predictor, [raw] if good is None else [raw, good], **options)
        assert time.perf_counter() - started < SECONDS_PER_ANSWER, f"{raw!r}: too slow"
        answers, good_answers = _split_answers(answers, good)
        if several_answers and not any(isinstance(a, Exception) for a in answers):
            assert len(answers) >= 1, raw
        else:
            assert len(answers) == 1, (raw, answers)
        for answer in answers:
            check_answer(raw, answer, finite)
        if good is not None:  # the hostile input broke nothing for the next one
            assert good_answers, (raw, good_answers)
            for answer in good_answers:
                check_answer(good, answer, finite)
        COUNTS[app.name] = COUNTS.get(app.name, 0) + 1
        tried[0] += 1

    quiet = settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,  # the same inputs in CI as on a laptop
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    if inputs in ("files", "audio"):

        @quiet
        @given(file_inputs if inputs == "files" else audio_inputs)
        def run(case) -> None:
            one(_write(folder, next(counter), *case))

    else:

        @quiet
        @given(text_inputs)
        def run(text: str) -> None:
            one(text)

    run()
    return tried[0]


def check_cli_rejects(app_name: str, model_dir: pathlib.Path, bad_input: str) -> None:
    """``rnnapps predict APP BAD`` prints one ``rnnapps: error:`` line and exits 2."""
    import os
    import subprocess
    import sys

    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "apps.cli",
            "predict",
            app_name,
            bad_input,
            "--model",
            str(model_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        cwd=pathlib.Path(__file__).resolve().parents[2],
    )
    assert completed.returncode == 2, completed.stderr[-2000:]
    errors = [line for line in completed.stderr.splitlines() if line.startswith("rnnapps: error:")]
    assert len(errors) == 1 and bad_input in errors[0], completed.stderr[-2000:]
    assert "Traceback" not in completed.stderr


def fuzz_on_device(
    app, model_dir: pathlib.Path, inputs: str, max_examples: int = 80, **options
) -> int:
    """``fuzz_predict`` on the app's LiteRT fp32 predictor, with the end-to-end tests' checks.

    Prints how many inputs were tried (for the report) and asserts at least half of
    `max_examples` were: hypothesis may stop early once it has seen every case.
    `options` go to ``fuzz_predict`` (``good=``, ``several_answers=``, ``stream=``...).
    """
    predictor = app.load_predictor(model_dir, "litert", "fp32")
    tried = fuzz_predict(app, predictor, inputs, max_examples=max_examples, **options)
    print(f"{app.name} {options}: {tried} hostile inputs tried")
    assert tried >= max_examples // 2
    return tried
