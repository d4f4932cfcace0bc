"""The text generation app object that the CLI and ``shared.workflow`` drive."""

from __future__ import annotations

import math
import pathlib
import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from apps.text_generation import data as text_data
from apps.text_generation import runtime
from apps.text_generation.config import TextGenerationConfig
from apps.text_generation.data import SHIFTED_SET
from apps.text_generation.export import model_parts, step_model
from apps.text_generation.model import build_model
from apps.text_generation.predictor import TextGenerationPredictor
from apps.text_generation.runtime import (
    LENGTH,
    SEED,
    TEMPERATURE,
    TOP_K,
    TOP_P,
    VOCABULARY_FILE,
    CharVocabulary,
    SubwordVocabulary,
    load_vocabulary,
)
from apps.text_generation.serving import TextGenerationServing
from shared.app import App, ExportBundle, QualityTarget
from shared.char_ngram import CharNgramModel
from shared.data.sources import Source
from shared.data.splits import Splits
from shared.errors import UserError
from shared.figures import held_out_figure, scores_file
from shared.workflow import log

LATENCY_CHARACTERS = 200
LATENCY_PROMPT = "The movie was"
# Ids as code points of a private-use plane, so the n-gram model reads exactly the symbols the
# network reads (the begin token, the unknown id, the known characters) and nothing collides.
_SYMBOL_BASE = 0xF0000
# Where it comes from and its licence: ``data.read_sklearn_descriptions``.
SHIFTED_DESCRIPTION = "scikit-learn's dataset descriptions: technical prose, not reviews or tweets"


class TextGenerationApp(App):
    name = "text_generation"  # task, pattern, data, metric and samples: on the runtime
    lower_is_better = True
    test_split = "held-out snippets (deduplicated up to case, spacing and punctuation)"
    config_class = TextGenerationConfig
    runtime_class = runtime.TextGenerationRuntime
    predictor_class = TextGenerationPredictor
    # The run records the tuned n-gram's bits per character on the test text (`baselines`);
    # the validation text is drawn from the same corpus, so 0.9 of it is the goal there too.
    # Issue 4 set 10% under the 5-gram; with order and discount tuned on validation (issue 23)
    # the same 10% is a goal the default model does not reach (about 3% under).
    quality_target = QualityTarget(
        metric="val_bits_per_character",
        goal=0.9,
        mode="min",
        note="issue 4: beat the Kneser-Ney n-gram (tuned on validation) by at least 10%",
        relative_to=("baselines", "kneser_ney", "bits_per_character"),
    )
    # --- data ---------------------------------------------------------------------------------

    def load_data(self, config: TextGenerationConfig, source: Source) -> Splits:
        """Documents split by ``split_seed`` (deduplicated first), cut to the preset's sizes;
        ``info["overlap"]`` reports the splits before the cut."""
        splits = text_data.load_data(source, config.split_seed)
        for part, limit in (
            ("train", config.train_characters),
            ("validation", config.validation_characters),
        ):
            columns = getattr(splits, part)
            columns["text"] = text_data.limit_characters(columns["text"], limit)
        return splits

    def vocabulary(
        self, config: TextGenerationConfig, splits: Splits
    ) -> CharVocabulary | SubwordVocabulary:
        """What the model reads (``config.tokenizer``): built once from the training
        documents and kept with the splits."""
        if "vocabulary" not in splits.info:
            if config.tokenizer == "subword":
                log(
                    f"{self.name}: learning {config.subword_vocabulary:,} subword pieces (SentencePiece)"
                )
                vocabulary = SubwordVocabulary.build(
                    splits.train["text"], config.subword_vocabulary
                )
            else:
                vocabulary = self.characters(config, splits)
            splits.info["vocabulary"] = vocabulary
        return splits.info["vocabulary"]

    def characters(self, config: TextGenerationConfig, splits: Splits) -> CharVocabulary:
        """The training text's characters: the n-gram baseline's symbols, whatever the
        network reads."""
        if "characters" not in splits.info:
            splits.info["characters"] = CharVocabulary.build(
                splits.train["text"], config.min_char_count
            )
        return splits.info["characters"]

    def restore_state(self, model_dir, config: TextGenerationConfig, splits: Splits) -> None:
        splits.info["vocabulary"] = load_vocabulary(pathlib.Path(model_dir) / VOCABULARY_FILE)
        splits.info.pop("streams", None)  # encoded with the vocabulary it replaces

    def stream(self, config: TextGenerationConfig, splits: Splits, part: str) -> np.ndarray:
        """The ``part`` split's documents as one stream of ids: encoded once, kept with the
        splits (the model's size and the datasets both need it)."""
        streams = splits.info.setdefault("streams", {})
        if part not in streams:
            documents = getattr(splits, part)["text"]
            streams[part] = self.vocabulary(config, splits).encode_stream(documents)
        return streams[part]

    def build_model(self, config: TextGenerationConfig, splits: Splits):
        tokens = len(self.stream(config, splits, "train"))
        steps_per_epoch = tokens // (config.batch_size * config.window_length)
        characters_per_token = sum(len(text) + 1 for text in splits.validation["text"]) / (
            len(self.stream(config, splits, "validation")) - 1
        )  # + 1: the end of each document, predicted like a character
        size = self.vocabulary(config, splits).size
        return build_model(config, size, steps_per_epoch, characters_per_token)

    def _lanes(self, config: TextGenerationConfig, stream: np.ndarray, part: str):
        """Batches for truncated BPTT: ``batch_size`` contiguous lanes of the stream.

        Batch k holds window k of every lane, so row i of batch k + 1 continues row i of
        batch k and the stateful layers carry the state across. Batches stay in order, never
        shuffled: under a ``tf.distribute`` strategy every global batch is then split the same
        way (in order, sharded by element), and each replica keeps the same block of lanes.
        """
        lanes, window = config.batch_size, config.window_length
        lane_length = (len(stream) - 1) // lanes
        windows = lane_length // window
        if windows < 1:
            raise UserError(
                f"{part} text: {len(stream):,} ids (characters or pieces) is too short for "
                f"{lanes} lanes of {window} (lower --set batch_size or window_length)"
            )
        used = lanes * lane_length
        inputs = stream[:used].reshape(lanes, lane_length)[:, : windows * window]
        targets = stream[1 : used + 1].reshape(lanes, lane_length)[:, : windows * window]
        # [windows, lanes, window]: one element per batch
        inputs = inputs.reshape(lanes, windows, window).transpose(1, 0, 2)
        targets = targets.reshape(lanes, windows, window).transpose(1, 0, 2)
        dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
        return dataset.prefetch(tf.data.AUTOTUNE)

    def make_datasets(self, config: TextGenerationConfig, splits: Splits):
        return (
            self._lanes(config, self.stream(config, splits, "train"), "training"),
            self._lanes(config, self.stream(config, splits, "validation"), "validation"),
        )

    # --- export -------------------------------------------------------------------------------

    def build_export(self, model, config: TextGenerationConfig, splits: Splits) -> ExportBundle:
        vocabulary = self.vocabulary(config, splits)
        serving = TextGenerationServing(model, config, vocabulary)
        generate = serving.generate.get_concrete_function()
        return ExportBundle(
            serving=serving,
            signatures={
                "serving_default": generate,
                "generate": generate,
                "logits": serving.logits.get_concrete_function(),
                "encode": serving.encode.get_concrete_function(),
            },
            tflite_models={"model": step_model(model_parts(model, config))},
            sidecars={VOCABULARY_FILE: vocabulary.to_json()},
        )

    # --- evaluation ---------------------------------------------------------------------------

    def evaluation_documents(self, config: TextGenerationConfig, splits: Splits) -> list[str]:
        """The test documents every engine and the baseline score (``eval_characters``)."""
        return text_data.limit_characters(splits.test["text"], config.eval_characters)

    def held_out_documents(self, config: TextGenerationConfig, splits: Splits) -> list[str]:
        """The shifted test set's documents every engine scores (``held_out_characters``)."""
        documents = splits.extra[SHIFTED_SET]["text"]
        return text_data.limit_characters(documents, config.held_out_characters)

    def evaluate(self, predictor, splits: Splits, config: TextGenerationConfig) -> dict:
        scores = self._bits(predictor, self.evaluation_documents(config, splits))
        shifted = self._bits(predictor, self.held_out_documents(config, splits))
        scores["held_out"] = {SHIFTED_SET: {"description": SHIFTED_DESCRIPTION, **shifted}}
        scores["samples"] = self.samples(predictor, config)
        if predictor.engine == "keras" and "overlap" in splits.info:
            scores["overlap"] = splits.info["overlap"]  # the same for every engine: once
        return scores

    @staticmethod
    def _bits(predictor, documents: list[str]) -> dict:
        """Bits per character of ``documents``, each scored from a zero state."""
        vocabulary = predictor.vocabulary
        bits, tokens = predictor.document_bits([vocabulary.encode_document(d) for d in documents])
        characters = sum(len(document) + 1 for document in documents)
        return {
            "bits_per_character": bits / characters,
            "characters": characters,  # the characters and one end per document
            "tokens": tokens,  # the ids predicted for them (characters or subword pieces)
            "documents": len(documents),
        }

    def samples(self, predictor, config: TextGenerationConfig) -> dict:
        """Continuations of the sample prompts at each sample temperature (seed = prompt index,
        pure temperature sampling: no top-k or top-p cut)."""
        return {
            f"temperature_{temperature:g}": [
                {
                    "prompt": prompt,
                    "text": predictor.generate(
                        prompt, config.sample_length, temperature, top_k=0, top_p=1.0, seed=index
                    ),
                }
                for index, prompt in enumerate(self.sample_inputs)
            ]
            for temperature in config.sample_temperatures
        }

    def _symbols(self, ids: np.ndarray) -> str:
        return "".join(map(chr, _SYMBOL_BASE + np.asarray(ids, np.int64)))

    def _symbol_documents(
        self, config: TextGenerationConfig, splits: Splits, documents: list[str]
    ) -> list[str]:
        """Each document as the n-gram model reads it: ``<s> text <s>`` in symbols."""
        characters = self.characters(config, splits)
        return [self._symbols(characters.encode_document(d)) for d in documents]

    @staticmethod
    def _ngram_bits(model: CharNgramModel, documents: list[str]) -> float:
        """Bits per character of the n-gram model on exactly the text the network scores:
        each document after ``<s>``, its characters and its end, from an empty context."""
        # Bits of every symbol, minus the first (<s> is given, not predicted): log2 P(<s>)
        # with an empty context is the same for every document.
        begin = math.log2(model.prob(documents[0][0], ""))
        total = sum(model.bits_per_character(d) * len(d) for d in documents)
        count = sum(len(d) - 1 for d in documents)
        return (total + begin * len(documents)) / count

    def tuned_ngram(self, config: TextGenerationConfig, splits: Splits) -> dict:
        """The Kneser-Ney n-gram with order and discount chosen on the validation text.

        One model per order (``ngram_orders``) is fitted on the training text. Its discounts
        (``ngram_discounts``, a sorted grid) are searched on the validation documents with
        that model's counts, which do not depend on the discount (``CharNgramModel`` applies
        it when scoring; a test pins this): from the previous order's best discount, step
        along the grid while the next discount scores fewer bits (``descend_grid``). Bits
        per character fall and rise once along the discounts of one order, so this finds the
        grid's best discount for every order with a third of the scoring: measured on the
        default text, 24 of the 64 pairs of the full grid, which picks the same pair.

        Returns ``{"model", "order", "discount", "validation" (best bits per character),
        "grid" (order -> discount -> bits, the pairs scored), "seconds"}``; the test split is
        not read.
        """
        if "ngram" not in splits.info:
            started = time.perf_counter()
            characters = self.characters(config, splits)
            train = self._symbols(characters.encode_stream(splits.train["text"]))
            validation = self._symbol_documents(config, splits, splits.validation["text"])
            discounts = sorted({float(d) for d in config.ngram_discounts})
            start = len(discounts) // 2
            grid: dict[str, dict[str, float]] = {}
            best = None
            for order in sorted(set(config.ngram_orders)):
                model = CharNgramModel(order).fit(train)

                def score(discount: float, model=model) -> float:
                    model.discount = discount
                    return self._ngram_bits(model, validation)

                scored, start = descend_grid(score, discounts, start)
                grid[str(order)] = {f"{d:g}": bits for d, bits in sorted(scored.items())}
                if best is None or scored[discounts[start]] < best[0]:
                    best = (scored[discounts[start]], order, discounts[start], model)
            bits, order, discount, model = best
            model.discount = discount
            seconds = time.perf_counter() - started
            log(
                f"{self.name}: n-gram tuned on validation in {seconds:.0f} s: order {order}, "
                f"discount {discount:g}, {bits:.4f} bits per character"
            )
            splits.info["ngram"] = dict(
                model=model, order=order, discount=discount, validation=bits, grid=grid,
                seconds=seconds,
            )  # fmt: skip
        return splits.info["ngram"]

    def baselines(self, splits: Splits, config: TextGenerationConfig) -> dict:
        """The Kneser-Ney n-gram tuned on validation, scored once on the test text (and on the
        shifted set); a unigram model for the figure of a model that learnt no context."""
        tuned = self.tuned_ngram(config, splits)
        test = self._symbol_documents(config, splits, self.evaluation_documents(config, splits))
        shifted = self._symbol_documents(config, splits, self.held_out_documents(config, splits))
        characters = self.characters(config, splits)
        unigram = CharNgramModel(1).fit(
            self._symbols(characters.encode_stream(splits.train["text"]))
        )
        return {
            "kneser_ney": {
                "bits_per_character": self._ngram_bits(tuned["model"], test),
                "description": "interpolated Kneser-Ney character n-gram (shared.char_ngram) "
                "fitted on the training text",
                "tuned_on": "validation",
                "chosen": {"order": tuned["order"], "discount": tuned["discount"]},
                "validation": {"bits_per_character": tuned["validation"], "grid": tuned["grid"]},
                "tuning_seconds": round(tuned["seconds"], 1),
                "held_out": {
                    SHIFTED_SET: {"bits_per_character": self._ngram_bits(tuned["model"], shifted)}
                },
            },
            "unigram": {
                "bits_per_character": self._ngram_bits(unigram, test),
                "description": "character frequencies of the training text (an order-1 model): "
                "what a model that learnt no context scores",
                "held_out": {
                    SHIFTED_SET: {"bits_per_character": self._ngram_bits(unigram, shifted)}
                },
            },
        }

    def report(self, metrics: dict) -> str:
        """The model beside the tuned n-gram on the test split and on the shifted set, what
        the n-gram chose on validation, and the split-overlap count (README details)."""
        scores, fp32 = metrics["metrics"], metrics["litert"]["fp32"]
        baselines = metrics.get("baselines") or {}
        ngram, unigram = baselines.get("kneser_ney"), baselines.get("unigram") or {}
        if not ngram:
            return ""
        key = self.metric

        def held_out(entry: dict, name: str):
            return ((entry.get("held_out") or {}).get(name) or {}).get(key)

        rows = [("test split", scores.get(key), fp32.get(key), ngram.get(key), unigram.get(key))]
        rows += [
            (
                name,
                entry.get(key),
                held_out(fp32, name),
                held_out(ngram, name),
                held_out(unigram, name),
            )
            for name, entry in (scores.get("held_out") or {}).items()
        ]

        def number(value) -> str:
            return "–" if value is None else f"{value:.3f}"

        lines = [
            "| text (bits per character) | ours, Keras | ours, LiteRT fp32 | Kneser-Ney, tuned "
            "| ours / Kneser-Ney | unigram |",
            "|---|---|---|---|---|---|",
        ]
        for name, keras_bits, fp32_bits, ngram_bits, unigram_bits in rows:
            ratio = f"{keras_bits / ngram_bits:.3f}" if keras_bits and ngram_bits else "–"
            lines.append(
                f"| {name} | {number(keras_bits)} | {number(fp32_bits)} | {number(ngram_bits)} "
                f"| {ratio} | {number(unigram_bits)} |"
            )
        chosen = ngram.get("chosen") or {}
        validation = ngram.get("validation") or {}
        pairs = sum(len(row) for row in (validation.get("grid") or {}).values())
        lines += [
            "",
            f"The n-gram's order {chosen.get('order')} and discount {chosen.get('discount')} "
            f"were chosen on validation ({number(validation.get(key))} validation bits per "
            f"character, {pairs} pairs scored in {ngram.get('tuning_seconds')} s); the test "
            "text was scored once, with them.",
        ]
        overlap = scores.get("overlap")
        if overlap:
            shared = sum(entry["rows"] for entry in overlap.values())
            lines.append(
                f"Documents of one split found in another after normalising case, spacing and "
                f"punctuation (train, validation, test, shifted set): {shared}."
            )
        return "\n".join(lines)

    def parity_inputs(self, splits: Splits, count: int) -> list:
        return list(splits.test["text"][:count])

    def latency(self, model_dir, variant: str, predictor, splits: Splits, runs: int) -> dict:
        """Wall time of generating 200 characters on LiteRT (one thread), prompt included."""
        runs = max(1, runs)
        for _ in range(2):  # warm-up
            predictor.generate(LATENCY_PROMPT, LATENCY_CHARACTERS, stop_at_end=False)
        times = []
        for seed in range(runs):
            start = time.perf_counter()
            predictor.generate(LATENCY_PROMPT, LATENCY_CHARACTERS, seed=seed, stop_at_end=False)
            times.append(time.perf_counter() - start)
        median = float(np.percentile(times, 50))
        return {
            "latency_ms_p50": median * 1000.0,
            "latency_ms_p90": float(np.percentile(times, 90)) * 1000.0,
            "latency_characters": LATENCY_CHARACTERS,
            "characters_per_second": LATENCY_CHARACTERS / median,
        }

    # --- prediction ---------------------------------------------------------------------------

    def predict(
        self,
        predictor,
        inputs: list[str],
        length: int = LENGTH,
        temperature: float = TEMPERATURE,
        top_k: int = TOP_K,
        top_p: float = TOP_P,
        seed: int = SEED,
    ) -> list:
        """Continue each prompt: ``{"input", "text"}``, ``text`` being the continuation only.

        ``input`` is the prompt as read: undecodable bytes (lone surrogates) shown as U+FFFD.

        An empty prompt starts a new document from the begin token; characters the model
        does not know are read as the unknown id. Generation stops after ``length`` characters
        or when the model ends the document. Temperature 0 is greedy. Bad options (length,
        temperature, top_k, top_p, seed) raise a UserError: they concern every input.
        """
        return runtime.answers(inputs, predictor.generate, length, temperature, top_k, top_p, seed)

    def figures(self, metrics: dict, model_dir, splits: Splits | None = None) -> list:
        """Bits per character on the test split and every held-out text, the baselines' (the
        Kneser-Ney n-gram, the unigram) beside ours (``scores_by_held_out.png``)."""
        path = held_out_figure(
            metrics,
            self.metric,
            pathlib.Path(model_dir) / scores_file("held_out"),
            "text generation: bits per character on the test split and the held-out texts",
            lower_is_better=self.lower_is_better,
        )
        return [] if path is None else [path]

    def summary(self, answer: dict) -> str:
        return runtime.summary(answer)


def descend_grid(
    score: Callable[[float], float], grid: list[float], start: int
) -> tuple[dict[float, float], int]:
    """Walk a sorted grid from ``grid[start]`` towards lower ``score`` until the next step is
    worse: up while up is better, then down while down is better. For a score that falls
    and rises once along the grid this ends at the grid's minimum.

    Returns (value -> score of every value scored, index of the best).

    Example:
        >>> descend_grid(lambda x: (x - 0.8) ** 2, [0.5, 0.6, 0.7, 0.8, 0.9], 1)[1]
        3
    """
    scored: dict[float, float] = {}

    def at(index: int) -> float:
        if grid[index] not in scored:
            scored[grid[index]] = score(grid[index])
        return scored[grid[index]]

    index = min(max(start, 0), len(grid) - 1)
    for step in (1, -1):
        while 0 <= index + step < len(grid) and at(index + step) < at(index):
            index += step
    at(index)  # a one-value grid
    return scored, index
