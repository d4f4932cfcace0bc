"""The training models: a CRNN keyword spotter and a CTC phrase transcriber, raw audio in.

Both compute log-mel features inside the graph (``CausalFrames`` + ``LogMelSpectrogram``),
so the SavedModel and the ``.tflite`` take a float32 waveform. The keyword CRNN is causal
in time (convolutions padded on the past side only, a unidirectional RNN), which is what
lets ``export.keyword_step_model`` run it 20 ms at a time with the same numbers.
"""

from __future__ import annotations

import keras

from apps.speech import data
from apps.speech.config import SpeechConfig
from shared.layers import recurrent_layer
from shared.layers.causal_frames import CausalFrames
from shared.layers.ctc_greedy_decoder import CTCGreedyDecoder
from shared.layers.log_mel_spectrogram import LogMelSpectrogram
from shared.layers.spec_augment import SpecAugment

KERNEL = (3, 3)  # time x mel of every convolution
CLASSES = len(data.LABELS)
TRANSCRIPTION_CLASSES = len(data.ALPHABET) + 1  # characters + the CTC blank (id 0)
TRANSCRIPTION_TIME_STRIDE = 2


def num_frames(config: SpeechConfig, samples: int) -> int:
    return samples // config.hop_length


def _front_end(waveform, config: SpeechConfig, prefix: str):
    """Waveform [batch, samples] -> normalised log-mel [batch, time, mels]."""
    frames = CausalFrames(config.frame_length, config.hop_length, name=f"{prefix}frames")(waveform)
    features = LogMelSpectrogram(config.num_mel_bins, data.SAMPLE_RATE, name=f"{prefix}log_mel")(
        frames
    )  # [batch, time, mels]
    # Per-mel affine normalisation; at inference a fixed scale and shift, so it streams.
    features = keras.layers.BatchNormalization(name=f"{prefix}feature_norm")(features)
    return SpecAugment(
        config.time_masks,
        config.max_time_width,
        config.frequency_masks,
        config.max_frequency_width,
        seed=config.seed,
        name=f"{prefix}spec_augment",
    )(features)


def conv_block(
    x, filters: int, index: int, prefix: str = "", causal: bool = True, time_stride: int = 1
):
    """3x3 convolution halving the mel axis, batch norm, ReLU: [b, t, m, c] -> [b, t, m/2, f].

    The time axis is padded with two frames of the past only (causal), so each output
    frame depends on its own input frame and the two before it.
    """
    time_padding = (KERNEL[0] - 1, 0) if causal else (1, 1)
    x = keras.layers.ZeroPadding2D((time_padding, (1, 1)), name=f"{prefix}conv_{index}_padding")(x)
    x = keras.layers.Conv2D(
        filters, KERNEL, strides=(time_stride, 2), use_bias=False, name=f"{prefix}conv_{index}"
    )(x)
    x = keras.layers.BatchNormalization(name=f"{prefix}conv_{index}_norm")(x)
    return keras.layers.ReLU(name=f"{prefix}conv_{index}_relu")(x)


def build_keyword_model(config: SpeechConfig) -> keras.Model:
    """Waveform [batch, 16000] -> ``scores`` [batch, 12] (softmax over `data.LABELS`)."""
    waveform = keras.Input(shape=(data.CLIP_SAMPLES,), name="waveform")
    features = _front_end(waveform, config, prefix="")
    frames = num_frames(config, data.CLIP_SAMPLES)
    x = keras.layers.Reshape((frames, config.num_mel_bins, 1), name="add_channel")(features)
    causal = config.architecture == "crnn"
    for index, filters in enumerate(config.conv_filters):
        x = conv_block(x, filters, index, causal=causal)  # [batch, time, mels / 2^k, filters]
    x = keras.layers.Reshape((frames, -1), name="flatten_mels")(x)  # [batch, time, features]
    for index in range(config.rnn_layers):
        last = index == config.rnn_layers - 1
        rnn = recurrent_layer(
            config.cell,
            config.units,
            return_sequences=not last or config.architecture == "attention",
            name=f"rnn_{index}",
        )
        if config.architecture != "crnn":
            rnn = keras.layers.Bidirectional(rnn, name=f"bidirectional_rnn_{index}")
        x = rnn(x)
    if config.architecture == "attention":
        # Attention-RNN (de Andrade et al. 2018): the middle frame's output is the query
        # that weights every frame; its context vector is the clip summary.
        query = keras.layers.Lambda(lambda s: s[:, frames // 2 : frames // 2 + 1], name="query")
        query = keras.layers.Dense(x.shape[-1], name="query_projection")(query(x))
        context = keras.layers.Attention(name="attention")([query, x])  # [batch, 1, features]
        x = keras.layers.Flatten(name="context")(context)
    x = keras.layers.Dropout(config.dropout_rate, name="dropout")(x)
    scores = keras.layers.Dense(CLASSES, activation="softmax", name="scores")(x)
    return keras.Model(waveform, scores, name="keyword_spotter")


def build_transcription_model(config: SpeechConfig) -> keras.Model:
    """Waveform [batch, 48000] -> ``logits`` [batch, 75, 29] for CTC (blank = 0).

    The first convolution strides two frames in time: 40 ms per output step still
    leaves room for the ~15 characters a second eSpeak speaks (CTC needs a step per
    character, plus a blank between doubled letters), at half the GRU cost.
    """
    samples = int(data.MAX_TRANSCRIPTION_SECONDS * data.SAMPLE_RATE)
    frames = num_frames(config, samples)
    steps = frames // TRANSCRIPTION_TIME_STRIDE
    waveform = keras.Input(shape=(samples,), name="waveform")
    features = _front_end(waveform, config, prefix="ctc_")
    x = keras.layers.Reshape((frames, config.num_mel_bins, 1), name="ctc_add_channel")(features)
    for index, filters in enumerate(config.conv_filters):
        stride = TRANSCRIPTION_TIME_STRIDE if index == 0 else 1
        x = conv_block(x, filters, index, prefix="ctc_", causal=False, time_stride=stride)
    x = keras.layers.Reshape((steps, -1), name="ctc_flatten_mels")(x)
    for index in range(config.transcription_layers):
        x = keras.layers.Bidirectional(
            keras.layers.GRU(
                config.transcription_units, return_sequences=True, name=f"gru_{index}"
            ),
            name=f"ctc_bidirectional_gru_{index}",
        )(x)  # [batch, time, 2 * units]
        x = keras.layers.Dropout(config.dropout_rate, name=f"ctc_dropout_{index}")(x)
    logits = keras.layers.Dense(TRANSCRIPTION_CLASSES, name="logits")(x)
    return keras.Model(waveform, logits, name="transcriber")


def transcription_decoder(transcriber: keras.Model) -> keras.Model:
    """The transcriber followed by in-graph greedy CTC decoding: ``ids`` and ``length``."""
    waveform = keras.Input(batch_shape=transcriber.inputs[0].shape, name="waveform")
    decoded = CTCGreedyDecoder(blank_index=0, name="ctc_decoder")(transcriber(waveform))
    return keras.Model(waveform, decoded, name="transcriber_greedy")


def build_model(config: SpeechConfig) -> keras.Model:
    """The compiled training model: the keyword spotter, plus the transcriber if configured.

    With transcription the two sub-models train side by side in one ``fit`` (their losses
    add up; they share no weights), so ``rnnapps train speech`` yields both.
    """
    keyword_model = build_keyword_model(config)
    inputs = {"keyword_audio": keras.Input(shape=(data.CLIP_SAMPLES,), name="keyword_audio")}
    outputs = {
        "keyword": keras.layers.Identity(name="keyword")(keyword_model(inputs["keyword_audio"]))
    }
    losses = {
        "keyword": keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    }
    metrics = {"keyword": ["categorical_accuracy"]}
    if config.transcription:
        transcriber = build_transcription_model(config)
        inputs["phrase_audio"] = keras.Input(
            shape=transcriber.inputs[0].shape[1:], name="phrase_audio"
        )
        outputs["transcript"] = keras.layers.Identity(name="transcript")(
            transcriber(inputs["phrase_audio"])
        )
        losses["transcript"] = keras.losses.CTC()
    model = keras.Model(inputs, outputs, name="speech")
    model.compile(
        optimizer=keras.optimizers.AdamW(
            config.learning_rate,
            weight_decay=1e-4,
            clipnorm=5.0,
            use_ema=config.weight_averaging > 0,
            ema_momentum=config.weight_averaging or 0.99,
        ),
        loss=losses,
        metrics=metrics,
    )
    return model
