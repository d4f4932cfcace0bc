"""Export graphs and predictors: an image encoder and a decoder step, looped in-graph or on host.

- SavedModel (``CaptioningServing``): ``serving_default`` takes encoded image bytes (JPEG, PNG,
  GIF, BMP), decodes and resizes them in the graph and returns the caption string, with the
  greedy loop inside the graph (``tf.while_loop``). ``caption_pixels`` does the same from uint8
  pixels; ``encode`` and ``decode_step`` expose the two halves for a host loop (beam search);
  ``teacher_forced`` and ``preprocess`` serve the parity and preprocessing checks.
- LiteRT: ``encoder_<variant>.tflite`` (uint8 image [1, 64, 64, 3] -> the 64 regions of the
  feature map and the decoder's initial state) and ``decoder_step_<variant>.tflite`` (previous
  token, state, regions -> logits, new state, attention weights over the 64 regions), driven by
  ``shared.decoding`` on the host.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from apps.captioning.config import CaptioningConfig
from apps.captioning.model import FEATURE_SIZE, IMAGE_SIZE
from shared.app import Predictor
from shared.config import load_config
from shared.decoding import Hypothesis, beam_search, greedy_decode
from shared.layers import state_names
from shared.layers.unit_detokenizer import UnitDetokenizer
from shared.litert import LiteRTModel
from shared.preprocessing.text_units import PAD_ID, UnitTokenizer, build_unit_vocabulary

VOCABULARY_FILE = "vocabulary.json"
START, END = "<start>", "<end>"
RESERVED = (START, END)
START_ID, END_ID = 2, 3  # the reserved tokens follow pad (0) and unknown (1)
BANNED_IDS = (PAD_ID, START_ID)  # never written by the decoder
REGIONS = FEATURE_SIZE * FEATURE_SIZE


def build_tokenizer(captions: Sequence[Sequence[str]], config: CaptioningConfig) -> UnitTokenizer:
    """The caption vocabulary from every reference caption of the training split."""
    texts = [caption for references in captions for caption in references]
    vocabulary = build_unit_vocabulary(
        texts,
        config.max_tokens,
        min_count=config.min_count,
        lowercase=True,
        mark_attached=True,
        reserved=RESERVED,
    )
    return make_tokenizer(vocabulary, config)


def make_tokenizer(vocabulary: list[str], config: CaptioningConfig) -> UnitTokenizer:
    # Captions are written lower-case; a "," written after a word carries the ## mark.
    return UnitTokenizer(
        vocabulary, config.max_caption_length, lowercase=True, mark_attached=True, reserved=RESERVED
    )


def teacher_forcing(tokenizer: UnitTokenizer, captions: Sequence[str]) -> tuple:
    """Decoder inputs (start + caption) and targets (caption + end), [n, max_length + 1]."""
    length = tokenizer.max_length + 1
    inputs = np.zeros((len(captions), length), dtype=np.int32)
    outputs = np.zeros((len(captions), length), dtype=np.int32)
    for row, text in enumerate(captions):
        ids = tokenizer.ids(text)[: tokenizer.max_length]
        inputs[row, : len(ids) + 1] = [START_ID, *ids]
        outputs[row, : len(ids) + 1] = [*ids, END_ID]
    return inputs, outputs


def build_inference_models(
    model: keras.Model, config: CaptioningConfig, batch_size: int | None = None
) -> tuple[keras.Model, keras.Model]:
    """The image encoder and the one-step decoder, sharing the trained model's layers.

    With ``batch_size=1`` every shape is static, which is what the LiteRT converter needs to
    emit builtin ops only.
    """
    names = state_names(config.cell)
    image = keras.Input(
        batch_shape=(batch_size, IMAGE_SIZE, IMAGE_SIZE, 3), dtype="uint8", name="image"
    )
    x = model.get_layer("features")(model.get_layer("backbone")(image))  # [batch, 8, 8, dim]
    summary = model.get_layer("summary_flatten")(model.get_layer("summary_projection")(x))
    regions = model.get_layer("region_positions")(model.get_layer("regions_flatten")(x))
    encoder_outputs = {"regions": regions}  # [batch, 64, feature_dim]
    for name in names:
        encoder_outputs[name] = model.get_layer(f"init_{name}")(summary)  # [batch, units]
    encoder = keras.Model(image, encoder_outputs, name="encoder")

    previous_token = keras.Input(batch_shape=(batch_size,), dtype="int32", name="previous_token")
    states = [
        keras.Input(batch_shape=(batch_size, config.decoder_units), name=name) for name in names
    ]
    values = keras.Input(batch_shape=(batch_size, REGIONS, config.feature_dim), name="regions")
    embedded = model.get_layer("word_embedding")(previous_token)  # [batch, embedding]
    cell = model.get_layer("decoder").cell
    output, new_states = cell(embedded, states if len(states) > 1 else states[0])
    new_states = list(new_states) if isinstance(new_states, list | tuple) else [new_states]
    query = ops.expand_dims(output, 1)  # [batch, 1, decoder_units]
    context, weights = model.get_layer("attention")(query, values, return_weights=True)
    combined = model.get_layer("context_and_query")([context, query])
    logits = model.get_layer("logits")(model.get_layer("combine")(combined))
    step_outputs = {"logits": ops.squeeze(logits, 1), "attention": ops.squeeze(weights, 1)}
    for name, state in zip(names, new_states, strict=True):
        step_outputs[f"new_{name}"] = state
    step = keras.Model(
        {"previous_token": previous_token, "regions": values}
        | {name: state for name, state in zip(names, states, strict=True)},
        step_outputs,
        name="decoder_step",
    )
    return encoder, step


def litert_models(model: keras.Model, config: CaptioningConfig) -> dict[str, keras.Model]:
    """The batch-1 encoder and decoder step that convert with builtin ops."""
    encoder, step = build_inference_models(model, config, batch_size=1)
    return {"encoder": encoder, "decoder_step": step}


def decode_image_bytes(data: tf.Tensor) -> tf.Tensor:
    """One encoded image (JPEG, PNG, GIF, BMP) -> uint8 [64, 64, 3], as ``load_image`` does.

    Grayscale becomes RGB and transparency is composed over white (Pillow's rules on the
    host); the resize is bilinear with antialiasing, as Pillow's. Images that are already
    64x64 come out identical on both sides; others differ by a grey level or two.
    """
    image = tf.io.decode_image(data, expand_animations=False)  # [height, width, channels]
    pixels = tf.cast(image, tf.float32)
    channels = tf.shape(image)[-1]
    has_alpha = tf.equal(channels % 2, 0)  # 2 (grey + alpha) or 4 (RGBA)
    colour_channels = tf.where(has_alpha, channels - 1, channels)
    colour = pixels[..., :colour_channels]
    colour = tf.cond(
        tf.equal(colour_channels, 1),
        lambda: tf.tile(colour, [1, 1, 3]),
        lambda: colour,
    )
    colour = tf.ensure_shape(colour, [None, None, 3])
    alpha = tf.cond(
        has_alpha,
        lambda: pixels[..., -1:] / 255.0,
        lambda: tf.ones_like(pixels[..., :1]),
    )
    colour = colour * alpha + 255.0 * (1.0 - alpha)
    size = tf.shape(colour)[:2]
    resized = tf.cond(
        tf.reduce_all(tf.equal(size, IMAGE_SIZE)),
        lambda: colour,
        lambda: tf.image.resize(colour, [IMAGE_SIZE, IMAGE_SIZE], antialias=True),
    )
    resized = tf.reshape(resized, [IMAGE_SIZE, IMAGE_SIZE, 3])
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


class CaptioningServing(tf.Module):
    """The SavedModel: image bytes in, caption strings out, greedy loop inside the graph."""

    def __init__(self, model: keras.Model, config: CaptioningConfig, tokenizer: UnitTokenizer):
        super().__init__()
        self.model = model
        self.config = config
        self.names = state_names(config.cell)
        self.encoder, self.step = build_inference_models(model, config)
        self.detokenizer = UnitDetokenizer(
            tokenizer.vocabulary, mark_attached=True, reserved=RESERVED, name="detokenizer"
        )
        ban = np.zeros(tokenizer.vocabulary_size, dtype=np.float32)
        ban[list(BANNED_IDS)] = -1e9
        self.ban = tf.constant(ban)
        image_bytes = tf.TensorSpec([None], tf.string, name="image_bytes")
        pixels = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8, name="image")
        self.caption_bytes = tf.function(self._caption_bytes, input_signature=[image_bytes])
        self.caption_pixels = tf.function(self._caption_pixels, input_signature=[pixels])
        self.preprocess = tf.function(self._preprocess, input_signature=[image_bytes])
        self.encode = tf.function(self._encode, input_signature=[pixels])
        self.teacher_forced = tf.function(
            self._teacher_forced,
            input_signature=[
                pixels,
                tf.TensorSpec([None, None], tf.int32, name="decoder_input_ids"),
            ],
        )
        packed = len(self.names) * config.decoder_units
        self.decode_step = tf.function(
            self._decode_step,
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="previous_token"),
                tf.TensorSpec([None, packed], tf.float32, name="state"),
                tf.TensorSpec([None, REGIONS, config.feature_dim], tf.float32, name="regions"),
            ],
        )

    def signatures(self) -> dict:
        caption = self.caption_bytes.get_concrete_function()
        return {
            "serving_default": caption,
            "caption_bytes": caption,
            "caption_pixels": self.caption_pixels.get_concrete_function(),
            "preprocess": self.preprocess.get_concrete_function(),
            "encode": self.encode.get_concrete_function(),
            "decode_step": self.decode_step.get_concrete_function(),
            "teacher_forced": self.teacher_forced.get_concrete_function(),
        }

    def _preprocess(self, image_bytes):
        images = tf.map_fn(
            decode_image_bytes,
            image_bytes,
            fn_output_signature=tf.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8),
        )
        return {"image": images}

    def _caption_bytes(self, image_bytes):
        return self._caption_pixels(self._preprocess(image_bytes)["image"])

    def _encode(self, image):
        encoded = self.encoder(image, training=False)
        # States packed into one tensor, so the signature is the same for GRU and LSTM.
        state = tf.concat([encoded[name] for name in self.names], axis=-1)
        return {"regions": encoded["regions"], "state": state}

    def _decode_step(self, previous_token, state, regions):
        states = tf.split(state, len(self.names), axis=-1)
        out = self.step(
            {"previous_token": previous_token, "regions": regions}
            | dict(zip(self.names, states, strict=True)),
            training=False,
        )
        return {
            "logits": out["logits"],
            "attention": out["attention"],
            "state": tf.concat([out[f"new_{name}"] for name in self.names], axis=-1),
        }

    def _teacher_forced(self, image, decoder_input_ids):
        logits = self.model(
            {"image": image, "decoder_input_ids": decoder_input_ids}, training=False
        )
        return {"logits": logits}

    def _caption_pixels(self, image):
        encoded = self.encoder(image, training=False)
        regions = encoded["regions"]
        batch = tf.shape(image)[0]
        steps = self.config.max_caption_length + 1  # room for the end token
        tokens = tf.fill([batch], tf.constant(START_ID, tf.int32))
        finished = tf.zeros([batch], tf.bool)
        states = tuple(encoded[name] for name in self.names)
        written = tf.TensorArray(tf.int32, size=steps)
        attention = tf.TensorArray(tf.float32, size=steps)

        def keep_going(index, tokens, finished, states, written, attention):
            return tf.logical_and(index < steps, tf.logical_not(tf.reduce_all(finished)))

        def body(index, tokens, finished, states, written, attention):
            out = self.step(
                {"previous_token": tokens, "regions": regions}
                | dict(zip(self.names, states, strict=True)),
                training=False,
            )
            chosen = tf.argmax(out["logits"] + self.ban, axis=-1, output_type=tf.int32)
            # The last step may only end a caption (as shared.decoding.greedy_decode does).
            chosen = tf.where(index == steps - 1, END_ID, chosen)
            # Rows that already ended write padding (which the detokenizer writes as nothing).
            chosen = tf.where(finished, PAD_ID, chosen)
            finished = tf.logical_or(finished, tf.equal(chosen, END_ID))
            new_states = tuple(out[f"new_{name}"] for name in self.names)
            return (
                index + 1,
                tf.where(finished, END_ID, chosen),
                finished,
                new_states,
                written.write(index, chosen),
                attention.write(index, out["attention"]),
            )

        _, _, _, _, written, attention = tf.while_loop(
            keep_going,
            body,
            (tf.constant(0), tokens, finished, states, written, attention),
            maximum_iterations=steps,
        )
        token_ids = tf.transpose(written.stack(), [1, 0])  # [batch, steps taken]
        weights = tf.transpose(attention.stack(), [1, 0, 2])  # [batch, steps, regions]
        return {
            "caption": self.detokenizer(token_ids),
            "token_ids": token_ids,
            "attention": weights,
        }


@dataclasses.dataclass
class Caption:
    """One answer: the text, its token ids, and each written token's attention over regions."""

    text: str
    token_ids: list[int]
    attention: np.ndarray | None  # [tokens, 64]: one 8x8 map per written token
    log_prob: float | None = None


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class CaptionPredictor(Predictor):
    """uint8 images [n, 64, 64, 3] -> captions, through one engine.

    ``keras`` and ``litert`` run the encoder once and loop the decoder step on the host (greedy
    or beam search); ``savedmodel`` runs greedy decoding inside its ``caption_pixels``
    signature and beam search over its ``encode`` / ``decode_step`` signatures.
    """

    def __init__(self, model_dir: pathlib.Path, engine: str, variant: str = "fp32"):
        model_dir = pathlib.Path(model_dir)
        self.model_dir = model_dir
        self.variant = variant
        self.engine = engine if engine != "litert" else f"litert-{variant}"
        self.config = load_config(CaptioningConfig, model_dir / "config.json")
        self.tokenizer = UnitTokenizer.load(model_dir / VOCABULARY_FILE)
        self.names = state_names(self.config.cell)
        if engine == "keras":
            self.model = keras.saving.load_model(model_dir / "model.keras", safe_mode=True)
            encoder, step = build_inference_models(self.model, self.config)
            self._keras_encoder = tf.function(encoder, reduce_retracing=True)
            self._keras_step = tf.function(step, reduce_retracing=True)
        elif engine == "savedmodel":
            self.loaded = tf.saved_model.load(str(model_dir / "saved_model"))
            self.signatures = self.loaded.signatures
        elif engine == "litert":
            self.encoder = LiteRTModel(model_dir / f"encoder_{variant}.tflite", num_threads=1)
            self.step_model = LiteRTModel(
                model_dir / f"decoder_step_{variant}.tflite", num_threads=1
            )
        else:
            raise ValueError(f"engine must be keras, savedmodel or litert, got {engine!r}")

    # -- the two halves, batched -------------------------------------------------------------

    def encode(self, images: np.ndarray) -> dict:
        """Decoder inputs for each image: the regions and the initial states."""
        images = np.asarray(images, dtype=np.uint8)
        if self.engine == "keras":
            out = {k: np.asarray(v) for k, v in self._keras_encoder(images).items()}
            states = [out[name] for name in self.names]
        elif self.engine == "savedmodel":
            out = {k: v.numpy() for k, v in self.signatures["encode"](image=images).items()}
            states = np.split(out["state"], len(self.names), axis=-1)
        else:
            rows = [self.encoder(image=image[None]) for image in images]
            out = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
            states = [out[name] for name in self.names]
        return {"regions": out["regions"], "states": states}

    def step(self, tokens: np.ndarray, state: dict) -> tuple[np.ndarray, dict, np.ndarray]:
        """One decoder step for every row: (log-probabilities, new state, attention)."""
        logits, new_states, attention = self._step_logits(tokens, state)
        return _log_softmax(logits), state | {"states": new_states}, attention

    def _step_logits(self, tokens: np.ndarray, state: dict):
        tokens = np.asarray(tokens, dtype=np.int32)
        if self.engine == "keras":
            inputs = {"previous_token": tokens, "regions": state["regions"]} | dict(
                zip(self.names, state["states"], strict=True)
            )
            out = {k: np.asarray(v) for k, v in self._keras_step(inputs).items()}
            return out["logits"], [out[f"new_{n}"] for n in self.names], out["attention"]
        if self.engine == "savedmodel":
            out = self.signatures["decode_step"](
                previous_token=tf.constant(tokens),
                state=tf.constant(np.concatenate(state["states"], axis=-1)),
                regions=tf.constant(state["regions"]),
            )
            new_states = np.split(out["state"].numpy(), len(self.names), axis=-1)
            return out["logits"].numpy(), new_states, out["attention"].numpy()
        rows = []
        for row in range(len(tokens)):  # the .tflite has a batch of 1
            rows.append(
                self.step_model(
                    previous_token=tokens[row : row + 1],
                    regions=state["regions"][row : row + 1],
                    **{
                        n: s[row : row + 1]
                        for n, s in zip(self.names, state["states"], strict=True)
                    },
                )
            )
        logits = np.concatenate([r["logits"] for r in rows])
        new_states = [np.concatenate([r[f"new_{n}"] for r in rows]) for n in self.names]
        return logits, new_states, np.concatenate([r["attention"] for r in rows])

    # -- whole answers -----------------------------------------------------------------------

    def caption(
        self,
        images: np.ndarray,
        beam_width: int = 1,
        length_penalty: float = 0.6,
        batch_size: int = 256,
    ) -> list[Caption]:
        """Greedy (`beam_width` 1) or beam-search captions of uint8 images [n, 64, 64, 3]."""
        images = np.asarray(images, dtype=np.uint8)
        results: list[Caption] = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            if self.engine == "savedmodel" and beam_width == 1:
                results += self._savedmodel_greedy(chunk)
                continue
            state = self.encode(chunk)
            if beam_width == 1:
                hypotheses = greedy_decode(
                    self.step,
                    state,
                    np.full(len(chunk), START_ID),
                    END_ID,
                    self.config.max_caption_length,
                    banned_tokens=BANNED_IDS,
                )
            else:
                hypotheses = [
                    beam_search(
                        self.step,
                        {k: _row(v, row) for k, v in state.items()},
                        START_ID,
                        END_ID,
                        self.config.max_caption_length,
                        beam_width=beam_width,
                        length_penalty=length_penalty,
                        banned_tokens=BANNED_IDS,
                    )[0]
                    for row in range(len(chunk))
                ]
            results += [self._answer(h) for h in hypotheses]
        return results

    def _answer(self, hypothesis: Hypothesis) -> Caption:
        return Caption(
            self.tokenizer.decode(hypothesis.tokens),
            hypothesis.tokens,
            hypothesis.attention,
            hypothesis.log_prob,
        )

    def _savedmodel_greedy(self, images: np.ndarray) -> list[Caption]:
        out = self.signatures["caption_pixels"](image=tf.constant(images))
        return _graph_captions(out)

    def caption_bytes(self, encoded_images: list[bytes]) -> list[Caption]:
        """Greedy captions of encoded image files through ``serving_default`` (SavedModel only)."""
        if self.engine != "savedmodel":
            raise ValueError("caption_bytes needs the savedmodel engine")
        out = self.signatures["serving_default"](image_bytes=tf.constant(encoded_images))
        return _graph_captions(out)

    # -- parity ------------------------------------------------------------------------------

    def outputs(self, inputs: list) -> np.ndarray:
        """Teacher-forced next-token probabilities [n, max_caption_length + 1, vocabulary].

        `inputs` are (uint8 image, reference caption) pairs; positions after the reference's
        end are 0. Keras and the SavedModel run the full-sequence model, LiteRT steps the
        decoder one token at a time.
        """
        images = np.stack([image for image, _ in inputs]).astype(np.uint8)
        decoder_inputs, decoder_outputs = teacher_forcing(
            self.tokenizer, [caption for _, caption in inputs]
        )
        if self.engine == "keras":
            logits = np.asarray(
                self.model({"image": images, "decoder_input_ids": decoder_inputs}, training=False)
            )
        elif self.engine == "savedmodel":
            logits = self.signatures["teacher_forced"](
                image=tf.constant(images), decoder_input_ids=tf.constant(decoder_inputs)
            )["logits"].numpy()
        else:
            logits = self.stepped_logits(images, decoder_inputs)
        probabilities = np.exp(_log_softmax(logits))
        real = np.cumsum(decoder_outputs == END_ID, axis=1) - (decoder_outputs == END_ID) == 0
        return (probabilities * real[..., None]).astype(np.float32)

    def stepped_logits(self, images: np.ndarray, decoder_inputs: np.ndarray) -> np.ndarray:
        """Logits [n, time, vocabulary] from the step model fed `decoder_inputs` one by one."""
        state = self.encode(images)
        steps = []
        for position in range(decoder_inputs.shape[1]):
            step_logits, new_states, _ = self._step_logits(decoder_inputs[:, position], state)
            state = state | {"states": new_states}
            steps.append(step_logits)
        return np.stack(steps, axis=1)


def _graph_captions(out: dict) -> list[Caption]:
    answers = []
    for row in range(int(out["caption"].shape[0])):
        ids = out["token_ids"][row].numpy().tolist()
        length = next((i for i, t in enumerate(ids) if t in (END_ID, PAD_ID)), len(ids))
        answers.append(
            Caption(
                out["caption"][row].numpy().decode("utf-8"),
                ids[:length],
                out["attention"][row].numpy()[:length],
            )
        )
    return answers


def _row(value, row: int):
    if isinstance(value, list):
        return [v[row : row + 1] for v in value]
    return value[row : row + 1]
