"""The SavedModel module: ``serving_default`` classifies 1-s waveforms; ``transcribe`` phrases."""

from __future__ import annotations

import keras
import tensorflow as tf

from apps.speech import data
from apps.speech.model import transcription_decoder
from apps.speech.runtime import TRANSCRIPTION_SAMPLES


class SpeechServing(tf.Module):
    """The SavedModel: ``serving_default`` classifies 1-s waveforms; ``transcribe`` phrases."""

    def __init__(self, spotter: keras.Model, transcriber: keras.Model | None):
        super().__init__()
        self.spotter = spotter
        self.labels = tf.constant(data.LABELS)
        self.transcriber = transcriber
        self.decoder = transcription_decoder(transcriber) if transcriber is not None else None
        if transcriber is None:
            # No second signature: saving would trace the class's `transcribe` (its input
            # signature is fixed) and call the missing decoder.
            self.transcribe = None
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
