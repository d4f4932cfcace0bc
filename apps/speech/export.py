"""Export graphs: raw waveforms in, built from the trained layers.

LiteRT files (each in fp32, fp16 and int8):
  ``model_*.tflite``       the 1-s keyword classifier, waveform [1, 16000] -> scores [1, 12]
  ``step_*.tflite``        one 20 ms hop [1, 320] + state -> scores + next state (crnn only)
  ``transcribe_*.tflite``  a 3-s phrase [1, 48000] -> greedy CTC ``ids`` [1, 150], ``length``

``streaming_description`` is the sidecar that tells a device how to run ``step_*.tflite``.
The LiteRT engine, which runs them without TensorFlow, is ``runtime.SpeechRuntime``.
"""

from __future__ import annotations

import json

import keras

from apps.speech import data
from apps.speech.config import SpeechConfig
from apps.speech.model import KERNEL, transcription_decoder
from shared.export import fixed_shape_model
from shared.layers.recurrent_layer import state_count
from shared.runtime.streaming import NEXT_PREFIX
from shared.streaming import context_window


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
