"""The Keras / SavedModel predictor: raw waveforms in (LiteRT's is ``runtime.py``)."""

from __future__ import annotations

import pathlib

import numpy as np
import tensorflow as tf

from apps.speech import data
from apps.speech.export import keyword_model_of, transcriber_of
from apps.speech.model import transcription_decoder
from apps.speech.runtime import ids_to_text, pad_phrases, sliding_window_posteriors
from shared.app import Predictor
from shared.engines import load_keras_model, load_saved_model

# Registers the custom layers before any ``.keras`` file is loaded.
from shared.layers import causal_frames, ctc_greedy_decoder, log_mel_spectrogram, spec_augment  # noqa: F401, I001


class SpeechPredictor(Predictor):
    """Raw waveforms -> keyword scores, window posteriors and transcripts, through Keras or
    the SavedModel (the LiteRT engine is ``runtime.SpeechRuntime``)."""

    def __init__(self, model_dir: pathlib.Path, engine: str):
        model_dir = pathlib.Path(model_dir)
        self.model_dir = model_dir
        self.engine = engine
        if engine == "keras":
            model = load_keras_model(model_dir)
            self.spotter = keyword_model_of(model)
            transcriber = transcriber_of(model)
            self.decoder = transcription_decoder(transcriber) if transcriber is not None else None
            self.has_transcriber = transcriber is not None
        elif engine == "savedmodel":
            self.loaded = load_saved_model(model_dir)
            self.serve = self.loaded.signatures["serving_default"]
            self.has_transcriber = "transcribe" in self.loaded.signatures
        else:
            raise ValueError(f"engine must be keras or savedmodel, got {engine!r}")

    # --- keywords -------------------------------------------------------------------------

    def scores(self, clips: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Softmax scores [n, 12] of 1-s clips [n, 16000]."""
        clips = np.asarray(clips, dtype=np.float32).reshape(-1, data.CLIP_SAMPLES)
        out = []
        for start in range(0, len(clips), batch_size):
            chunk = clips[start : start + batch_size]
            if self.engine == "keras":
                out.append(np.asarray(self.spotter(chunk, training=False)))
            else:
                out.append(self.serve(waveform=tf.constant(chunk))["scores"].numpy())
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

        Keras and the SavedModel score the windows with the 1-s model (LiteRT's step model
        scores the same windows hop by hop). Returns the time (s) each window ends and
        the scores [windows, 12].
        """
        return sliding_window_posteriors(self.scores, waveform, hop_samples, stride_steps)

    # --- transcription ------------------------------------------------------------------------

    def transcribe(self, clips: list[np.ndarray], batch_size: int = 64) -> list[str]:
        """Greedy CTC transcripts of clips of at most 3 s (padded with silence)."""
        if not self.has_transcriber:
            raise ValueError("this model has no transcriber (trained with transcription=false)")
        padded = pad_phrases(clips)
        texts = []
        for start in range(0, len(padded), batch_size):
            chunk = padded[start : start + batch_size]
            if self.engine == "keras":
                decoded = self.decoder(chunk, training=False)
                ids, lengths = np.asarray(decoded["ids"]), np.asarray(decoded["length"])
            else:
                decoded = self.loaded.signatures["transcribe"](waveform=tf.constant(chunk))
                ids, lengths = decoded["ids"].numpy(), decoded["length"].numpy()
            texts.extend(ids_to_text(row, int(n)) for row, n in zip(ids, lengths, strict=True))
        return texts
