"""Export graphs and predictors: raw waveforms in, for the SavedModel and for LiteRT.

LiteRT files (each in fp32, fp16 and int8):
  ``model_*.tflite``       the 1-s keyword classifier, waveform [1, 16000] -> scores [1, 12]
  ``step_*.tflite``        one 20 ms hop [1, 320] + state -> scores + next state (crnn only)
  ``transcribe_*.tflite``  a 3-s phrase [1, 48000] -> greedy CTC ``ids`` [1, 150], ``length``
"""

from __future__ import annotations

import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from apps.speech import data
from apps.speech.config import SpeechConfig
from apps.speech.model import KERNEL, transcription_decoder
from shared.app import Predictor
from shared.export import fixed_shape_model

# Registers the custom layers before any ``.keras`` file is loaded.
from shared.layers import causal_frames, ctc_greedy_decoder, log_mel_spectrogram, spec_augment  # noqa: F401, I001
from shared.layers.recurrent_layer import state_count
from shared.runtime.litert import LiteRTModel
from shared.streaming import NEXT_PREFIX, WindowedStream, context_window, window_starts

TRANSCRIPTION_SAMPLES = int(data.MAX_TRANSCRIPTION_SECONDS * data.SAMPLE_RATE)
STREAMING_FILE = "streaming.json"


def keyword_model_of(model: keras.Model) -> keras.Model:
    """The keyword spotter inside a training model (or the spotter itself)."""
    return model if model.name == "keyword_spotter" else model.get_layer("keyword_spotter")


def transcriber_of(model: keras.Model) -> keras.Model | None:
    try:
        return model.get_layer("transcriber")
    except ValueError:
        return None


def keyword_step_model(spotter: keras.Model, config: SpeechConfig) -> keras.Model:
    """One 20 ms hop of the causal CRNN, with every piece of state explicit (batch 1).

    Inputs: ``audio`` [1, hop]; ``audio_context`` [1, frame - hop] (the previous hop's
    tail, for the overlapping FFT frame); ``conv_<i>_context`` [1, 2, mels_i, channels_i]
    (the two previous frames each causal 3x3 convolution reads); ``rnn_<i>_state`` (and
    ``rnn_<i>_cell`` for an LSTM). Outputs ``scores`` [1, 12] and ``next_<state>`` for
    each state. The layers and weights are the spotter's own, so stepping a clip hop
    by hop ends with the full model's scores.
    """
    if config.architecture != "crnn":
        raise ValueError(f"only the causal crnn streams, got architecture={config.architecture!r}")
    context_samples = config.frame_length - config.hop_length
    audio = keras.Input(batch_shape=(1, config.hop_length), name="audio")
    audio_context = keras.Input(batch_shape=(1, context_samples), name="audio_context")
    states, next_states = [audio_context], {}
    frame, next_states["audio_context"] = context_window(audio_context, audio, axis=1)
    frame = keras.layers.Reshape((1, config.frame_length), name="one_frame")(frame)
    x = spotter.get_layer("log_mel")(frame)  # [1, 1, mels]
    x = spotter.get_layer("feature_norm")(x)
    x = keras.layers.Reshape((1, config.num_mel_bins, 1), name="add_channel")(x)
    for index in range(len(config.conv_filters)):
        context = keras.Input(
            batch_shape=(1, KERNEL[0] - 1, *x.shape[2:]), name=f"conv_{index}_context"
        )
        states.append(context)
        window, next_states[context.name] = context_window(context, x, axis=1)  # [1, 3, m, c]
        x = keras.layers.ZeroPadding2D(((0, 0), (1, 1)), name=f"conv_{index}_padding")(window)
        for suffix in ("", "_norm", "_relu"):
            x = spotter.get_layer(f"conv_{index}{suffix}")(x)  # [1, 1, m / 2, filters]
    x = keras.layers.Reshape((-1,), name="flatten_mels")(x)  # [1, features]
    for index in range(config.rnn_layers):
        trained = spotter.get_layer(f"rnn_{index}").cell
        # A copy of the cell under its own name: Keras names every GRU's cell "gru_cell",
        # and one functional model needs unique names.
        cell = trained.__class__.from_config({**trained.get_config(), "name": f"rnn_{index}_step"})
        cell.build((None, x.shape[-1]))
        cell.set_weights(trained.get_weights())
        # An LSTM carries its memory cell beside the hidden state; every other cell one state.
        names = [f"rnn_{index}_state", f"rnn_{index}_cell"][: state_count(config.cell)]
        previous = [keras.Input(batch_shape=(1, config.units), name=name) for name in names]
        states += previous
        x, new = cell(x, previous if len(previous) > 1 else previous[0])
        new = new if isinstance(new, (list, tuple)) else [new]
        for name, value in zip(names, new, strict=True):
            next_states[name] = value
    scores = spotter.get_layer("scores")(x)  # dropout is the identity at inference
    outputs = {"scores": scores}
    outputs.update(
        {
            NEXT_PREFIX + name: keras.layers.Identity(name=NEXT_PREFIX + name)(value)
            for name, value in next_states.items()
        }
    )
    # A list, not a dict, of inputs: the converter feeds them positionally.
    return keras.Model([audio, *states], outputs, name="keyword_step")


def state_shapes(step_model: keras.Model) -> dict[str, tuple[int, ...]]:
    return {
        tensor.name: tuple(tensor.shape) for tensor in step_model.inputs if tensor.name != "audio"
    }


class SpeechServing(tf.Module):
    """The SavedModel: ``serving_default`` classifies 1-s waveforms; ``transcribe`` phrases."""

    def __init__(self, spotter: keras.Model, transcriber: keras.Model | None):
        super().__init__()
        self.spotter = spotter
        self.labels = tf.constant(data.LABELS)
        self.transcriber = transcriber
        self.decoder = transcription_decoder(transcriber) if transcriber is not None else None
        self.alphabet = tf.constant(["", *data.ALPHABET])  # id 0 is the CTC blank

    @tf.function(input_signature=[tf.TensorSpec([None, data.CLIP_SAMPLES], tf.float32, "waveform")])
    def serve(self, waveform):
        scores = self.spotter(waveform, training=False)  # [batch, 12]
        return {
            "scores": scores,
            "keyword": tf.gather(self.labels, tf.argmax(scores, axis=-1)),
            "score": tf.reduce_max(scores, axis=-1),
        }

    @tf.function(
        input_signature=[tf.TensorSpec([None, TRANSCRIPTION_SAMPLES], tf.float32, "waveform")]
    )
    def transcribe(self, waveform):
        decoded = self.decoder(waveform, training=False)
        text = tf.strings.reduce_join(tf.gather(self.alphabet, decoded["ids"]), axis=-1)
        return {"ids": decoded["ids"], "length": decoded["length"], "text": text}


def litert_models(model: keras.Model, config: SpeechConfig) -> dict[str, keras.Model]:
    """The fixed-shape, batch-1 graphs that convert with builtin ops."""
    spotter = keyword_model_of(model)
    fixed = fixed_shape_model(spotter, batch_size=1)
    # A named output, so the .tflite signature says "scores" rather than "output_0".
    models = {"model": keras.Model(fixed.inputs, {"scores": fixed.outputs[0]}, name="keywords")}
    if config.architecture == "crnn":
        models["step"] = keyword_step_model(spotter, config)
    transcriber = transcriber_of(model)
    if transcriber is not None:
        models["transcribe"] = transcription_decoder(fixed_shape_model(transcriber, batch_size=1))
    return models


def streaming_description(config: SpeechConfig) -> str:
    """The sidecar that tells a device how to run ``step_*.tflite``."""
    return json.dumps(
        {
            "sample_rate": data.SAMPLE_RATE,
            "hop_samples": config.hop_length,
            "window_steps": data.CLIP_SAMPLES // config.hop_length,
            "stride_steps": int(config.window_stride_ms / 1000 * data.SAMPLE_RATE)
            // config.hop_length,
            "labels": data.LABELS,
            "keywords": data.KEYWORDS,
            "threshold": config.detection_threshold,
            "smoothing_windows": config.smoothing_windows,
            "refractory_seconds": config.refractory_seconds,
            "alphabet": ["<blank>", *data.ALPHABET],
        },
        indent=1,
    )


def ids_to_text(ids: np.ndarray, length: int | None = None) -> str:
    """Join decoded CTC ids (1-based into `data.ALPHABET`, 0 = blank/padding)."""
    ids = np.asarray(ids).reshape(-1)
    if length is not None:
        ids = ids[:length]
    return "".join(data.ALPHABET[i - 1] for i in ids.tolist() if i > 0).strip()


class SpeechPredictor(Predictor):
    """Raw waveforms -> keyword scores, streaming posteriors and transcripts, on one engine."""

    def __init__(self, model_dir: pathlib.Path, engine: str, variant: str = "fp32"):
        model_dir = pathlib.Path(model_dir)
        self.model_dir = model_dir
        self.engine = engine if engine != "litert" else f"litert-{variant}"
        self.variant = variant
        self.config = None
        self.has_transcriber = (model_dir / f"transcribe_{variant}.tflite").is_file()
        if engine == "keras":
            model = keras.saving.load_model(model_dir / "model.keras", safe_mode=True)
            self.spotter = keyword_model_of(model)
            transcriber = transcriber_of(model)
            self.decoder = transcription_decoder(transcriber) if transcriber is not None else None
            self.has_transcriber = transcriber is not None
        elif engine == "savedmodel":
            self.loaded = tf.saved_model.load(str(model_dir / "saved_model"))
            self.serve = self.loaded.signatures["serving_default"]
            self.has_transcriber = "transcribe" in self.loaded.signatures
        elif engine == "litert":
            self.runner = LiteRTModel(model_dir / f"model_{variant}.tflite", num_threads=1)
            step_path = model_dir / f"step_{variant}.tflite"
            self.step = LiteRTModel(step_path, num_threads=1) if step_path.is_file() else None
            path = model_dir / f"transcribe_{variant}.tflite"
            self.transcriber = LiteRTModel(path, num_threads=1) if path.is_file() else None
        else:
            raise ValueError(f"engine must be keras, savedmodel or litert, got {engine!r}")

    # --- keywords -------------------------------------------------------------------------

    def scores(self, clips: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Softmax scores [n, 12] of 1-s clips [n, 16000]."""
        clips = np.asarray(clips, dtype=np.float32).reshape(-1, data.CLIP_SAMPLES)
        out = []
        for start in range(0, len(clips), batch_size):
            chunk = clips[start : start + batch_size]
            if self.engine == "keras":
                out.append(np.asarray(self.spotter(chunk, training=False)))
            elif self.engine == "savedmodel":
                out.append(self.serve(waveform=tf.constant(chunk))["scores"].numpy())
            else:
                out.extend(self.runner(waveform=clip[None])["scores"] for clip in chunk)
        if not out:
            return np.zeros((0, len(data.LABELS)), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def outputs(self, inputs: list) -> np.ndarray:
        return self.scores(np.stack(inputs))

    # --- streaming --------------------------------------------------------------------------

    def window_posteriors(
        self, waveform: np.ndarray, hop_samples: int, stride_steps: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every 1-s window of a long waveform, one every `stride_steps` hops.

        LiteRT runs the step model hop by hop (``shared.streaming.WindowedStream``);
        Keras and the SavedModel score the same windows with the 1-s model. Returns
        the time (s) each window ends and the scores [windows, 12].
        """
        window_steps = data.CLIP_SAMPLES // hop_samples
        num_steps = len(waveform) // hop_samples
        if num_steps < window_steps:  # shorter than one window: pad to a single window
            waveform = np.pad(waveform, (0, data.CLIP_SAMPLES - len(waveform)))
            num_steps = window_steps
        waveform = np.asarray(waveform[: num_steps * hop_samples], dtype=np.float32)
        if self.engine.startswith("litert") and self.step is not None:
            stream = WindowedStream(
                self.step, state_shapes_of(self.step), "audio", window_steps, stride_steps
            )
            ends, posteriors = [], []
            for hop in waveform.reshape(num_steps, 1, hop_samples):
                for end_step, scores in stream(hop):
                    ends.append(end_step)
                    posteriors.append(scores[0])
            ends = np.asarray(ends)
            posteriors = np.asarray(posteriors).reshape(-1, len(data.LABELS))
        else:
            starts = window_starts(num_steps, window_steps, stride_steps)
            windows = np.stack(
                [waveform[s * hop_samples : s * hop_samples + data.CLIP_SAMPLES] for s in starts]
            )
            ends, posteriors = starts + window_steps, self.scores(windows)
        return ends * hop_samples / data.SAMPLE_RATE, posteriors

    # --- transcription ------------------------------------------------------------------------

    def transcribe(self, clips: list[np.ndarray], batch_size: int = 64) -> list[str]:
        """Greedy CTC transcripts of clips of at most 3 s (padded with silence)."""
        if not self.has_transcriber:
            raise ValueError("this model has no transcriber (trained with transcription=false)")
        padded = np.zeros((len(clips), TRANSCRIPTION_SAMPLES), dtype=np.float32)
        for row, clip in enumerate(clips):
            clip = np.asarray(clip, dtype=np.float32)[:TRANSCRIPTION_SAMPLES]
            padded[row, : len(clip)] = clip
        texts = []
        for start in range(0, len(padded), batch_size):
            chunk = padded[start : start + batch_size]
            if self.engine == "keras":
                decoded = self.decoder(chunk, training=False)
                ids, lengths = np.asarray(decoded["ids"]), np.asarray(decoded["length"])
            elif self.engine == "savedmodel":
                decoded = self.loaded.signatures["transcribe"](waveform=tf.constant(chunk))
                ids, lengths = decoded["ids"].numpy(), decoded["length"].numpy()
            else:
                results = [self.transcriber(waveform=clip[None]) for clip in chunk]
                ids = np.concatenate([r["ids"] for r in results])
                lengths = np.concatenate([r["length"] for r in results])
            texts.extend(ids_to_text(row, int(n)) for row, n in zip(ids, lengths, strict=True))
        return texts


def state_shapes_of(step: LiteRTModel) -> dict[str, tuple[int, ...]]:
    return {name: step.input_shape(name) for name in step.input_names if name != "audio"}
