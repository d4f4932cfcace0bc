"""The music app object that the CLI and ``shared.workflow`` drive."""

from __future__ import annotations

import pathlib
import time

import numpy as np
import tensorflow as tf

from apps.music import baselines as music_baselines
from apps.music import data as music_data
from apps.music import events, measures, runtime, sampling
from apps.music.config import MusicConfig
from apps.music.export import model_parts, step_model, window_model
from apps.music.model import build_model
from apps.music.predictor import MusicPredictor
from apps.music.serving import MusicServing
from shared.app import App, ExportBundle, QualityTarget
from shared.data.sources import Source
from shared.data.splits import Splits
from shared.workflow import log

# Kept importable from here: what generated tunes are measured against.
TrainingReference = measures.TrainingReference
set_statistics = measures.set_statistics

LATENCY_BARS = 64  # the target: a 64-bar tune in under 50 ms on one thread
LATENCY_KEY, LATENCY_METRE = "D major", "4/4"
REFERENCE_SUBSETS = 50  # random subsets of held-out tunes for the spread of each statistic
SAMPLE_FILES = 3  # generated tunes written beside the model (MIDI, ABC, MusicXML, WAV)
# Bucket boundaries (events) of the training batches: tunes of similar lengths together.
BUCKETS = (48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448)


class MusicApp(App):
    name = "music"  # task, pattern, data, metric and samples: on the runtime
    lower_is_better = True
    test_split = "held-out tunes (split by tune: copies, variants and shared passages together)"
    monitor = ("val_bits_per_event", "min")
    config_class = MusicConfig
    runtime_class = runtime.MusicRuntime
    predictor_class = MusicPredictor
    quality_target = QualityTarget(
        metric="val_bits_per_event",
        goal=0.9,
        mode="min",
        note="issue 28: at most 0.9 x the Kneser-Ney n-gram's bits per event (tuned on validation)",
        relative_to=("baselines", "kneser_ney", "bits_per_event"),
    )

    # --- data ---------------------------------------------------------------------------------

    def load_data(self, config: MusicConfig, source: Source) -> Splits:
        return music_data.load_data(config, source)

    def build_model(self, config: MusicConfig, splits: Splits):
        batches = -(-len(splits.train["events"]) // config.batch_size) + len(BUCKETS)
        return build_model(config, steps_per_epoch=batches)

    def _dataset(self, config: MusicConfig, tunes: list, training: bool) -> tf.data.Dataset:
        """Batches of (inputs, targets, weights): whole tunes (the first ``max_events`` + 1
        ids), padded after their end to the longest of a batch of similar lengths; weight 0
        on padding. Training tunes are shuffled and transposed (``config.transpose``) anew
        every epoch, seeded."""
        kept = [np.asarray(ids[: config.max_events + 1], np.int32) for ids in tunes]
        ranges = np.array([music_data.shift_range(ids) for ids in kept], np.int32)
        ragged = tf.ragged.constant(kept, dtype=tf.int32)
        dataset = tf.data.Dataset.from_tensor_slices((ragged, ranges))
        if training:
            dataset = dataset.shuffle(len(kept), seed=config.seed, reshuffle_each_iteration=True)
            draws = tf.data.Dataset.random(seed=config.seed, rerandomize_each_iteration=True)
            dataset = tf.data.Dataset.zip((dataset, draws))
        else:
            dataset = dataset.map(lambda ids, shifts: ((ids, shifts), tf.constant(0, tf.int64)))
        transpose = training and config.transpose

        tables = tf.constant(runtime.INTERNAL)

        def prepare(pair, draw):
            ids, (low, high) = pair[0], (pair[1][0], pair[1][1])
            if transpose:
                shift = low + tf.cast(draw % tf.cast(high - low + 1, tf.int64), tf.int32)
                ids = _transpose(ids, shift)
            if config.key_relative:  # the model's ids (runtime.internal_table)
                tonic = (ids[0] - events.FIRST_START_ID) % 12
                ids = tf.gather(tables[(tonic + 6) % 12], ids)
            return ids[:-1], ids[1:]

        dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.bucket_by_sequence_length(
            lambda inputs, targets: tf.shape(inputs)[0],
            bucket_boundaries=list(BUCKETS),
            bucket_batch_sizes=[config.batch_size] * (len(BUCKETS) + 1),
        )
        dataset = dataset.map(
            lambda inputs, targets: (inputs, targets, tf.cast(targets != 0, tf.float32))
        )
        return dataset.prefetch(tf.data.AUTOTUNE)

    def make_datasets(self, config: MusicConfig, splits: Splits):
        return (
            self._dataset(config, splits.train["events"], training=True),
            self._dataset(config, splits.validation["events"], training=False),
        )

    # --- export -------------------------------------------------------------------------------

    def build_export(self, model, config: MusicConfig, splits: Splits) -> ExportBundle:
        serving = MusicServing(model, config)
        generate = serving.generate.get_concrete_function()
        parts = model_parts(model, config)
        return ExportBundle(
            serving=serving,
            signatures={
                "serving_default": generate,
                "generate": generate,
                "logits": serving.logits.get_concrete_function(),
                "step": serving.step.get_concrete_function(),
            },
            tflite_models={"model": step_model(parts), "score": window_model(parts)},
        )

    # --- evaluation ---------------------------------------------------------------------------

    def evaluation_rows(self, config: MusicConfig, splits: Splits) -> list[int]:
        """The test tunes every engine and the baselines score: all of them, or
        ``eval_tunes`` spread evenly over the split (so every collection is in)."""
        count = len(splits.test["events"])
        if not config.eval_tunes or config.eval_tunes >= count:
            return list(range(count))
        return sorted(
            set(np.linspace(0, count - 1, config.eval_tunes).round().astype(int).tolist())
        )

    def evaluation_tunes(self, config: MusicConfig, splits: Splits) -> list:
        return [splits.test["events"][i] for i in self.evaluation_rows(config, splits)]

    def reference(self, splits: Splits) -> TrainingReference:
        if "training_reference" not in splits.info:
            splits.info["training_reference"] = measures.training_reference(splits.train["events"])
        return splits.info["training_reference"]

    def evaluate(self, predictor, splits: Splits, config: MusicConfig) -> dict:
        tunes = self.evaluation_tunes(config, splits)
        per_tune = predictor.tune_bits(tunes)
        predicted = np.array([len(ids) - 1 for ids in tunes])
        collections = [splits.test["collection"][i] for i in self.evaluation_rows(config, splits)]
        by_collection = {}
        for name in sorted(set(collections)):
            rows = np.array([c == name for c in collections])
            by_collection[name] = float(per_tune[rows].sum() / predicted[rows].sum())
        scores = {
            "bits_per_event": float(per_tune.sum() / predicted.sum()),
            "events": int(predicted.sum()),
            "tunes": len(tunes),
            "by_collection": by_collection,
        }
        if predictor.engine.startswith("litert"):
            scores["generated"] = self.generated_statistics(predictor, splits, config)
        if predictor.engine == "keras" and "overlap" in splits.info:
            scores["overlap"] = splits.info["overlap"]  # the same for every engine: once
        return scores

    def generate_set(self, predictor, splits: Splits, config: MusicConfig, constrained: bool):
        """``sample_tunes`` new tunes in the keys and metres of as many tunes scored, spread
        evenly over them (``sampling.spread_rows``: every collection in its share), the i-th
        with seed i, at ``sample_temperature`` and ``sample_top_p``; returns (tunes, seconds)."""
        scored = self.evaluation_tunes(config, splits)
        starts = [scored[row][0] for row in sampling.spread_rows(len(scored), config.sample_tunes)]
        started = time.perf_counter()
        tunes = sampling.generate(
            predictor, starts, config.sample_bars, config.sample_temperature,
            config.sample_top_p, constrained=constrained,
        )  # fmt: skip
        return tunes, time.perf_counter() - started

    def generated_statistics(self, predictor, splits: Splits, config: MusicConfig) -> dict:
        """The statistics of generated tunes, sampled raw and with bar-keeping decoding."""
        reference = self.reference(splits)
        out = {
            "tunes": config.sample_tunes,
            "bars_asked": config.sample_bars,
            "temperature": config.sample_temperature,
            "top_p": config.sample_top_p,
            "starts": "the keys and metres of test tunes spread evenly over the split",
        }
        for mode, constrained in (("raw", False), ("constrained", True)):
            tunes, seconds = self.generate_set(predictor, splits, config, constrained)
            out[mode] = {**set_statistics(tunes, reference), "seconds": round(seconds, 3)}
        return out

    def held_out_reference(self, splits: Splits, config: MusicConfig) -> dict:
        """The same statistics for held-out tunes against the training tunes: over random
        subsets of ``sample_tunes`` test tunes (the spread a generated set may fall in) and,
        for copying, over the first ``reference_tunes`` test tunes."""
        reference = self.reference(splits)
        tunes = [events.decode(ids) for ids in splits.test["events"]]
        size = min(config.sample_tunes, len(tunes))
        spread = measures.held_out_spread(
            tunes, reference, size, REFERENCE_SUBSETS, np.random.default_rng(config.split_seed)
        )
        copied = [
            reference.runs.longest(ids[1:])
            for ids in splits.test["events"][: config.reference_tunes]
        ]
        return {
            "description": f"held-out (test) tunes against the training tunes: each statistic's "
            f"median and 5-95% range over {REFERENCE_SUBSETS} random sets of {size} test tunes",
            "subset_size": size,
            "spread": spread,
            "longest_shared_run": {
                "tunes": len(copied),
                "median": float(np.median(copied)),
                "max": int(max(copied)),
            },
        }

    def baselines(self, splits: Splits, config: MusicConfig) -> dict:
        """The Kneser-Ney n-gram (view, order, discount tuned on validation) and a unigram,
        scored on exactly the tunes the network scores; and the held-out tunes' statistics."""
        started = time.perf_counter()
        tuned = music_baselines.tune_ngram(
            splits.train["events"],
            splits.validation["events"],
            config.ngram_orders,
            config.ngram_discounts,
            config.ngram_views,
        )
        log(
            f"{self.name}: n-gram tuned on validation in {time.perf_counter() - started:.0f} s: "
            f"{tuned['view']}, order {tuned['order']}, discount {tuned['discount']:g}, "
            f"{tuned['validation']:.4f} bits per event"
        )
        tunes = self.evaluation_tunes(config, splits)
        unigram = music_baselines.fit(splits.train["events"], 1)
        return {
            "kneser_ney": {
                "bits_per_event": music_baselines.bits_per_event(tuned["model"], tunes),
                "description": "interpolated Kneser-Ney n-gram over events "
                "(apps.music.baselines, shared.char_ngram) fitted on the training tunes",
                "tuned_on": "validation",
                "chosen": {
                    "view": tuned["view"],
                    "order": tuned["order"],
                    "discount": tuned["discount"],
                },
                "validation": {"bits_per_event": tuned["validation"], "grid": tuned["grid"]},
                "tuning_seconds": round(tuned["seconds"], 1),
            },
            "unigram": {
                "bits_per_event": music_baselines.bits_per_event(unigram, tunes),
                "description": "event frequencies of the training tunes: no context at all",
            },
            "held_out_tunes": self.held_out_reference(splits, config),
        }

    def report(self, metrics: dict) -> str:
        """Bits per event beside the n-gram, and generated tunes' statistics beside the
        held-out tunes' spread (README details)."""
        scores, fp32 = metrics["metrics"], metrics["litert"]["fp32"]
        baselines = metrics.get("baselines") or {}
        ngram, unigram = baselines.get("kneser_ney") or {}, baselines.get("unigram") or {}
        held = baselines.get("held_out_tunes") or {}

        def number(value, digits=3) -> str:
            return "–" if value is None else f"{value:.{digits}f}"

        key = self.metric
        ratio = (
            f"{fp32[key] / ngram[key]:.3f}" if fp32.get(key) and ngram.get(key) else "–"
        )  # fmt: skip
        lines = [
            "| bits per event (test) | ours, Keras | ours, LiteRT fp32 | int8 | Kneser-Ney, "
            "tuned | ours / Kneser-Ney | unigram |",
            "|---|---|---|---|---|---|---|",
            f"| {scores.get('tunes')} tunes, {scores.get('events')} events | "
            f"{number(scores.get(key))} | {number(fp32.get(key))} | "
            f"{number(metrics['litert']['int8'].get(key))} | {number(ngram.get(key))} | {ratio} "
            f"| {number(unigram.get(key))} |",
        ]
        chosen = ngram.get("chosen") or {}
        if chosen:
            lines += [
                "",
                f"The n-gram's view ({chosen.get('view')}), order {chosen.get('order')} and "
                f"discount {chosen.get('discount')} were chosen on validation "
                f"({number((ngram.get('validation') or {}).get(key))} bits per event).",
            ]
        generated = fp32.get("generated")
        spread = held.get("spread") or {}
        if generated:
            rows = [
                ("pitch-class distance", "pitch_class_distance"),
                ("interval distance", "interval_distance"),
                ("duration distance", "duration_distance"),
                ("share of notes in the key", "in_key_share"),
                ("ends on the tonic", "ends_on_tonic"),
                ("bars valid", "bars_valid"),
            ]
            chosen = (metrics.get("sampling") or {}).get("chosen")
            how = (
                ", chosen on validation tunes by `python -m apps.music.sampling`"
                if chosen == {"temperature": generated["temperature"], "top_p": generated["top_p"]}
                else ""
            )
            starts = generated.get("starts", "the keys and metres of the first tunes scored")
            lines += [
                "",
                f"Generated tunes (LiteRT fp32; {generated['tunes']} tunes of up to "
                f"{generated['bars_asked']} bars in {starts}, temperature "
                f"{generated['temperature']:g}, top-p {generated['top_p']:g}{how}) against the "
                f"training tunes, beside held-out tunes ({held.get('description', '')}):",
                "",
                "| statistic | generated, raw | generated, bars kept | held-out tunes: median "
                "(5-95%) |",
                "|---|---|---|---|",
            ]
            for label, name in rows:
                band = spread.get(name) or {}
                lines.append(
                    f"| {label} | {number(generated['raw'].get(name))} | "
                    f"{number(generated['constrained'].get(name))} | {number(band.get('median'))} "
                    f"({number(band.get('low'))}-{number(band.get('high'))}) |"
                )
            runs = held.get("longest_shared_run") or {}
            lines.append(
                "| longest run shared with a training tune (median, max events) | "
                f"{generated['raw']['longest_shared_run']['median']:g}, "
                f"{generated['raw']['longest_shared_run']['max']} | "
                f"{generated['constrained']['longest_shared_run']['median']:g}, "
                f"{generated['constrained']['longest_shared_run']['max']} | "
                f"{runs.get('median', 0):g}, {runs.get('max', '–')} |"
            )
        overlap = scores.get("overlap")
        if overlap:
            shared = sum(
                entry.get("rows", 0) for kind in overlap.values() for entry in kind.values()
            )
            lines += [
                "",
                f"Tune identities shared between splits (copies, variants, passages): {shared}.",
            ]
        return "\n".join(lines)

    def parity_inputs(self, splits: Splits, count: int) -> list:
        return list(splits.test["events"][:count])

    def latency(self, model_dir, variant: str, predictor, splits: Splits, runs: int) -> dict:
        """One step of the step model, and a whole 64-bar tune with bar-keeping decoding
        (one thread, host loop included)."""
        runs = max(1, runs)
        states = predictor.zero_states()
        token = events.start_id(LATENCY_KEY, LATENCY_METRE)
        for _ in range(20):
            predictor.step(token, states)
        step_times = []
        for _ in range(200):
            started = time.perf_counter()
            predictor.step(token, states)
            step_times.append(time.perf_counter() - started)
        prompt = [events.start_id(LATENCY_KEY, LATENCY_METRE)]
        predictor.compose(prompt, bars=4)  # warm-up
        times, counts = [], []
        for seed in range(runs):
            started = time.perf_counter()
            composition = predictor.compose(
                prompt, bars=LATENCY_BARS, min_bars=LATENCY_BARS, seed=seed
            )
            times.append(time.perf_counter() - started)
            counts.append(len(composition.ids))
        median = float(np.percentile(times, 50))
        return {
            "latency_ms_p50": median * 1000.0,
            "latency_ms_p90": float(np.percentile(times, 90)) * 1000.0,
            "latency_bars": LATENCY_BARS,
            "latency_events": float(np.mean(counts)),
            "step_ms_p50": float(np.percentile(step_times, 50)) * 1000.0,
        }

    # --- prediction ---------------------------------------------------------------------------

    def predict(
        self,
        predictor,
        inputs: list[str],
        key: str = runtime.KEY,
        metre: str = runtime.METRE,
        bars: int = runtime.BARS,
        temperature: float = runtime.TEMPERATURE,
        top_k: int = runtime.TOP_K,
        top_p: float = runtime.TOP_P,
        seed: int = runtime.SEED,
        beam: int = 0,
        unconstrained: bool = False,
        wav: bool = False,
    ) -> list:
        """A new tune ("new" or an empty input, in ``key`` and ``metre``) or the continuation
        of a melody (a MIDI, MusicXML or ABC file, or an ABC string) per input: see
        ``runtime.answers``."""
        return runtime.answers(
            inputs, predictor, key, metre, bars, temperature, top_k, top_p, seed, beam,
            unconstrained, wav,
        )  # fmt: skip

    def figures(self, metrics: dict, model_dir, splits: Splits | None = None) -> list:
        """A few generated tunes of 16 bars beside the model (``samples/``: MIDI, MusicXML, ABC,
        WAV: the listening aid) and the piano roll of the first (``piano_roll.png``)."""
        from apps.music import figures as music_figures
        from apps.music import render

        model_dir = pathlib.Path(model_dir)
        predictor = self.load_predictor(model_dir, "litert", "fp32")
        samples = model_dir / "samples"
        samples.mkdir(exist_ok=True)
        written = []
        for index, (key, metre) in enumerate(
            [("G major", "6/8"), ("D major", "4/4"), ("A minor", "3/4")][:SAMPLE_FILES]
        ):
            start = [events.start_id(key, metre)]
            tune = predictor.compose(start, bars=16, min_bars=16, seed=index).tune
            stem = f"tune_{index + 1}_{key.replace(' ', '_')}_{metre.replace('/', '-')}"
            for suffix in (".mid", ".musicxml", ".abc", ".wav"):
                render.write(tune, samples / f"{stem}{suffix}")
            if index == 0:
                title = "a generated tune (LiteRT fp32, seed 0)"
                written.append(music_figures.piano_roll(tune, model_dir / "piano_roll.png", title))
        return written

    def sample_check(self, predictor, raw: str, answer: dict) -> bool | None:
        """A generated tune is right in one checkable way: every bar fills its metre."""
        return bool(answer["bars_valid"])

    def summary(self, answer: dict) -> str:
        return runtime.summary(answer)

    def figure(self, predictor, raw: str, answers: list[dict]) -> bytes | None:
        """The piano roll of the first answer's tune (``apps.music.answer_figure``), as the
        TensorFlow-free runtime draws it: the server offers the same figure either way."""
        from apps.music.answer_figure import piano_roll

        return piano_roll(predictor, raw, answers)


def _transpose(ids: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
    """``data.transpose_ids`` in the input pipeline: pitches and the start token's tonic."""
    pitch = (ids >= events.FIRST_PITCH_ID) & (ids < events.FIRST_DURATION_ID)
    offset = ids - events.FIRST_START_ID
    start = ids >= events.FIRST_START_ID
    moved_start = events.FIRST_START_ID + offset - offset % 12 + (offset % 12 + shift) % 12
    return tf.where(pitch, ids + shift, tf.where(start, moved_start, ids))
