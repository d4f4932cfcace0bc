"""The video app object that the CLI and ``shared.workflow`` drive."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import tensorflow as tf

from apps.video import data as video_data
from apps.video import figures, runtime
from apps.video.baseline import motion_features, tune_and_score
from apps.video.config import VideoConfig
from apps.video.export import litert_models
from apps.video.model import build_model
from apps.video.predictor import VideoPredictor
from apps.video.serving import VideoServing
from shared.app import App, ExportBundle, QualityTarget
from shared.data.sources import Source
from shared.data.splits import Splits, take
from shared.figures import (
    group_figure,
    held_out_figure,
    scores_file,
    write_confusion_matrix,
)
from shared.metrics import classification_scores
from shared.runtime.litert import LiteRTModel
from shared.training import shuffle_each_epoch, with_epoch_randoms

CONFUSION_MATRIX_FILE = "confusion_matrix.png"
LABEL_OVER_TIME_FILE = "label_over_time.png"  # a sample clip streamed frame by frame, after a run
# Frame counts at which the streamed (step model) answer is scored: how soon it is right.
STREAMING_CHECKPOINTS = (4, 8, 12, 16)


def _swap_table(classes: list[str], pairs: list[tuple[str, str]]) -> np.ndarray:
    """Label -> label after a transform that turns each class of a pair into the other."""
    table = np.arange(len(classes))
    for first, second in pairs:
        a, b = classes.index(first), classes.index(second)
        table[a], table[b] = b, a
    return table


def motion_augmenter(classes: list[str], seed: int):
    """A tf.data transformation that mirrors clips and plays them backwards, fixing the labels.

    Only for the generated motions, whose classes pair up under each transform:
    a left-right mirror swaps move_left/move_right and the two rotations, an
    up-down mirror swaps move_up/move_down and the rotations, and playing the
    clip backwards swaps every opposite pair (grow/shrink included).
    """
    rotations = ("rotate_clockwise", "rotate_anticlockwise")
    mirror_x = _swap_table(classes, [("move_left", "move_right"), rotations])
    mirror_y = _swap_table(classes, [("move_up", "move_down"), rotations])
    backwards = _swap_table(
        classes,
        [("move_left", "move_right"), ("move_up", "move_down"), rotations, ("grow", "shrink")],
    )
    tables = [tf.constant(t, tf.int64) for t in (mirror_x, mirror_y, backwards)]

    def augment(example, random_value):
        inputs, label = example
        frames, length = inputs["frames"], inputs["length"]  # [time, h, w, 3], []
        # Stateless draws from a per-example seed: deterministic under parallel map.
        flips = tf.random.stateless_uniform([3], seed=tf.stack([random_value, seed])) < 0.5
        label = tf.cast(label, tf.int64)
        frames = tf.where(flips[0], tf.reverse(frames, axis=[2]), frames)
        label = tf.where(flips[0], tf.gather(tables[0], label), label)
        frames = tf.where(flips[1], tf.reverse(frames, axis=[1]), frames)
        label = tf.where(flips[1], tf.gather(tables[1], label), label)
        # Reverse only the real frames; padding stays at the end.
        reversed_frames = tf.reverse_sequence(
            frames[None], tf.cast(length, tf.int64)[None], seq_axis=1, batch_axis=0
        )[0]
        frames = tf.where(flips[2], reversed_frames, frames)
        label = tf.where(flips[2], tf.gather(tables[2], label), label)
        return {"frames": frames, "length": length}, label

    def apply(dataset: tf.data.Dataset) -> tf.data.Dataset:
        # New draws every epoch, from (seed, epoch): a resumed run draws the same ones.
        return with_epoch_randoms(dataset, seed).map(augment, num_parallel_calls=tf.data.AUTOTUNE)

    return apply


def shuffle_frames(frames: np.ndarray, lengths: np.ndarray, seed: int) -> np.ndarray:
    """The control: each clip's real frames in a seeded random order (padding stays last)."""
    rng = np.random.default_rng(seed)
    shuffled = np.array(frames, copy=True)
    for index, length in enumerate(lengths):
        shuffled[index, :length] = frames[index, rng.permutation(int(length))]
    return shuffled


def recall_per_class(labels: np.ndarray, predicted: np.ndarray, classes: list[str]) -> dict:
    """Class name -> the share of its clips predicted right (None for a class with no clips)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    recalls = {}
    for index, name in enumerate(classes):
        mask = labels == index
        recalls[name] = float(np.mean(predicted[mask] == index)) if mask.any() else None
    return recalls


class VideoApp(App):
    name = "video"  # task, pattern, data, metric and sample files: on the runtime
    test_split = "unseen handwriting, training's shapes and speeds"
    config_class = VideoConfig
    runtime_class = runtime.VideoRuntime
    predictor_class = VideoPredictor
    quality_target = QualityTarget(
        metric="val_accuracy", goal=0.98, mode="max", note="issue 7: at least 98% test accuracy"
    )
    # The same model on the same clips with their frames in random order: what the frames
    # alone tell, without their order (evaluate scores it as shuffled_frames_accuracy).
    controls = {"shuffled_frame_control": "shuffled_frames_accuracy"}

    @property
    def sample_inputs(self) -> tuple[str, ...]:
        """Generated clips written as .mp4 files (the demo classifies files, as a user would)
        where the runtime says they are (``VideoRuntime.sample_files``)."""
        paths = []
        for class_name, path in zip(
            runtime.SAMPLE_CLASSES, self.runtime_class.sample_paths(), strict=True
        ):
            if not path.is_file():
                path = video_data.write_sample_clip(path, class_name, seed=1)
            paths.append(str(path))
        return tuple(paths)

    # -- data and training -------------------------------------------------------------------

    def load_data(self, config: VideoConfig, source: Source) -> Splits:
        splits = video_data.load_data(
            str(source),
            config.split_seed,
            size=(config.train_size or None) if source.kind == "default" else None,
            quick=config.preset == "quick",
        )
        if config.test_limit and len(splits.test["label"]) > config.test_limit:
            splits.test = take(splits.test, np.arange(config.test_limit))
        return splits

    def classes(self, splits: Splits) -> list[str]:
        return list(splits.info["classes"])

    def build_model(self, config: VideoConfig, splits: Splits):
        num_frames, height, width, _ = splits.train["frames"].shape[1:]
        steps_per_epoch = -(-len(splits.train["label"]) // config.batch_size)
        return build_model(
            config, len(self.classes(splits)), num_frames, (height, width), steps_per_epoch
        )

    def _dataset(self, config: VideoConfig, splits: Splits, columns: dict, training: bool):
        inputs = {
            "frames": columns["frames"],
            "length": np.asarray(columns["length"], np.int32),
        }
        labels = np.asarray(columns["label"], np.int64)
        dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
        if training:
            dataset = shuffle_each_epoch(dataset, len(labels), config.seed)
            if config.augment and self.classes(splits) == list(video_data.CLASSES):
                augment = motion_augmenter(self.classes(splits), config.seed)
                dataset = dataset.apply(augment)
        return dataset.batch(config.batch_size).prefetch(tf.data.AUTOTUNE)

    def make_datasets(self, config: VideoConfig, splits: Splits):
        return (
            self._dataset(config, splits, splits.train, training=True),
            self._dataset(config, splits, splits.validation, training=False),
        )

    # -- export ------------------------------------------------------------------------------

    def build_export(self, model, config: VideoConfig, splits: Splits) -> ExportBundle:
        classes = self.classes(splits)
        serving = VideoServing(model, classes)
        return ExportBundle(
            serving=serving,
            signatures={
                "serving_default": serving.serve.get_concrete_function(),
                "step": serving.step.get_concrete_function(),
            },
            tflite_models=litert_models(model),
            sidecars={runtime.CLASSES_FILE: json.dumps(classes, indent=1)},
        )

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, predictor: VideoPredictor, splits: Splits, config: VideoConfig) -> dict:
        """Accuracy and per-class recall on the test clips, the held-out sets, and the control.

        The shuffled-frame control keeps every frame and only breaks their order, so
        a model that reads motion falls towards chance (1 / classes) on it. The small
        sets of ``splits.extra`` (unseen sprites and speeds, another renderer, faster
        motion: generated data only) are scored under ``"held_out"``. LiteRT engines
        also stream every test clip through the step model, frame by frame. The Keras
        engine adds the split hygiene report (``"overlap"``) and draws the confusion
        matrix beside the model (``confusion_matrix.png``) when none is there yet.
        """
        test = splits.test
        frames, lengths = test["frames"], np.asarray(test["length"], np.int32)
        labels = np.asarray(test["label"])
        classes = self.classes(splits)
        probabilities = predictor.probabilities(frames, lengths)
        predicted = probabilities.argmax(axis=-1)
        scores = classification_scores(labels, predicted, labels=list(range(len(classes))))
        scores["recall_per_class"] = recall_per_class(labels, predicted, classes)
        shuffled = predictor.probabilities(
            shuffle_frames(frames, lengths, config.shuffle_seed), lengths
        )
        scores["shuffled_frames_accuracy"] = float(np.mean(shuffled.argmax(axis=-1) == labels))
        scores["chance_accuracy"] = 1.0 / len(classes)
        descriptions = splits.info.get("held_out", {})
        if splits.extra:
            scores["held_out"] = {
                name: {
                    "description": descriptions.get(name, name),
                    **self._set_scores(predictor, columns, classes),
                }
                for name, columns in splits.extra.items()
            }
        if predictor.engine.startswith("litert"):
            scores.update(self._streaming_scores(predictor, frames, lengths, labels, probabilities))
        if predictor.engine == "keras":
            if "overlap" in splits.info:
                scores["overlap"] = splits.info["overlap"]
            matrix = np.zeros((len(classes), len(classes)), np.int64)
            np.add.at(matrix, (labels, predicted), 1)
            if len(classes) <= 20:
                scores["confusion_matrix"] = matrix.tolist()
            path = predictor.model_dir / CONFUSION_MATRIX_FILE
            if not path.exists():
                title = f"video: test accuracy {scores['accuracy']:.3f} ({len(labels)} clips)"
                write_confusion_matrix(matrix, classes, path, title)
        return scores

    @staticmethod
    def _set_scores(predictor: VideoPredictor, columns: dict, classes: list[str]) -> dict:
        """Accuracy and per-class recall of `predictor` on one held-out set."""
        labels = np.asarray(columns["label"])
        lengths = np.asarray(columns["length"], np.int32)
        predicted = predictor.probabilities(columns["frames"], lengths).argmax(axis=-1)
        return {
            "accuracy": float(np.mean(predicted == labels)),
            "count": int(len(labels)),
            "recall_per_class": recall_per_class(labels, predicted, classes),
        }

    def _streaming_scores(self, predictor, frames, lengths, labels, clip_probabilities) -> dict:
        """Step model on every test clip: final answer, its gap to the clip model, early answers."""
        right_after = {count: [] for count in STREAMING_CHECKPOINTS}
        final, gap = [], 0.0
        for clip, length, label, reference in zip(
            frames, lengths, labels, clip_probabilities, strict=True
        ):
            streamed = predictor.stream(clip, int(length))  # [length, classes]
            final.append(int(streamed[-1].argmax()) == int(label))
            gap = max(gap, float(np.abs(streamed[-1] - reference).max()))
            for count in STREAMING_CHECKPOINTS:
                if count <= length:
                    right_after[count].append(int(streamed[count - 1].argmax()) == int(label))
        return {
            "streaming_accuracy": float(np.mean(final)),
            "streaming_max_abs_diff": gap,
            "streaming_accuracy_after_frames": {
                str(count): float(np.mean(hits)) for count, hits in right_after.items() if hits
            },
        }

    def baselines(self, splits: Splits, config: VideoConfig) -> dict:
        """Chance, the majority class, and logistic regression on frame-difference features
        (``baseline.py``) with C chosen on validation; the shuffled-frame control is in
        ``metrics``. Test and held-out sets are scored once, with the chosen C."""
        labels = np.asarray(splits.test["label"])
        majority = np.bincount(np.asarray(splits.train["label"])).argmax()
        results = {
            "chance": {
                "accuracy": 1.0 / len(self.classes(splits)),
                "description": "one class in eight, uniformly at random (expected accuracy)",
            },
            "majority_class": {
                "accuracy": float(np.mean(labels == majority)),
                "description": "always the most common training class",
            },
        }
        columns = {"train": splits.train, "validation": splits.validation, "test": splits.test}
        features = {
            name: motion_features(part["frames"], np.asarray(part["length"]))
            for name, part in columns.items()
        }
        targets = {name: np.asarray(part["label"]) for name, part in columns.items()}
        chosen_c, tried, model = tune_and_score(features, targets)
        held_out = {
            name: float(
                np.mean(
                    model.predict(motion_features(part["frames"], np.asarray(part["length"])))
                    == np.asarray(part["label"])
                )
            )
            for name, part in splits.extra.items()
        }
        results["frame_difference_logistic"] = {
            "accuracy": float(np.mean(model.predict(features["test"]) == targets["test"])),
            "tuned_on": "validation",
            "chosen": {"C": chosen_c},
            "validation_accuracy": {str(c): value for c, value in tried.items()},
            **(
                {"held_out": {name: {"accuracy": v} for name, v in held_out.items()}}
                if held_out
                else {}
            ),
            "description": "logistic regression on time-pooled frame-difference features "
            "(affine motion of what changed, and where), no recurrence",
        }
        return results

    def parity_inputs(self, splits: Splits, count: int) -> list:
        test = splits.test
        return [
            (test["frames"][index], int(test["length"][index]))
            for index in range(min(count, len(test["label"])))
        ]

    def latency(
        self, model_dir: pathlib.Path, variant: str, predictor, splits: Splits, runs: int
    ) -> dict:
        """One-thread latency of a whole 16-frame clip (``latency_ms_*``) and of one streamed
        frame through the step model (``step_latency_ms_*``)."""
        model_dir = pathlib.Path(model_dir)
        clip = LiteRTModel(model_dir / f"model_{variant}.tflite", num_threads=1)
        step = LiteRTModel(model_dir / f"step_{variant}.tflite", num_threads=1)
        frames = np.asarray(splits.test["frames"][:1], np.uint8)  # [1, time, h, w, 3]
        timing = clip.latency_ms(
            {"frames": frames, "length": np.array([frames.shape[1]], np.int32)}, runs=runs
        )
        step_inputs = {
            "frame": frames[:, 1],
            "previous_frame": frames[:, 0].astype(np.float32),
            "state": np.zeros(step.input_shape("state"), np.float32),
        }
        step_timing = step.latency_ms(step_inputs, runs=max(runs, 10) * 5)
        timing.update({f"step_{key}": value for key, value in step_timing.items()})
        return timing

    # -- prediction --------------------------------------------------------------------------

    def predict(self, predictor, inputs: list[str]) -> list:
        return runtime.answers(
            inputs,
            predictor.probabilities,
            predictor.classes,
            predictor.num_frames,
            predictor.frame_shape,
        )

    def figures(self, metrics: dict, model_dir, splits: Splits | None = None) -> list:
        """Recall per class on the test clips (``scores_by_class.png``, accuracy as the line),
        accuracy on the test split and every held-out set beside the baselines'
        (``scores_by_held_out.png``), and the label over time of the first sample clip
        streamed through the LiteRT step model (``label_over_time.png``)."""
        model_dir = pathlib.Path(model_dir)
        drawn = [
            group_figure(
                metrics,
                "recall_per_class",
                model_dir / scores_file("class"),
                "video: recall per class (test clips)",
                axis="recall",
                overall="accuracy",
            ),
            held_out_figure(
                metrics,
                self.metric,
                model_dir / scores_file("held_out"),
                "video: accuracy on the test split and the held-out sets",
            ),
        ]
        predictor = self.load_predictor(model_dir, "litert")
        png = figures.label_over_time(predictor, self.sample_inputs[0], [])
        if png:
            (model_dir / LABEL_OVER_TIME_FILE).write_bytes(png)
            drawn.append(model_dir / LABEL_OVER_TIME_FILE)
        return [path for path in drawn if path is not None]

    def figure(self, predictor: VideoPredictor, raw: str, answers: list[dict]) -> bytes | None:
        """The label over time: each class's probability after every frame, as PNG bytes
        (``apps.video.figures``, which the server uses without TensorFlow). SavedModel has
        no step model: no figure there."""
        return figures.label_over_time(predictor, raw, answers)

    def report(self, metrics: dict) -> str:
        """Per-class recall (test and held-out sets), the control, the stream, size, hygiene."""
        keras_scores, fp32 = metrics["metrics"], metrics["litert"]["fp32"]
        int8 = metrics["litert"]["int8"]
        recall = keras_scores.get("recall_per_class") or {}
        lines = []
        if recall:
            rows = [("test, Keras", recall), ("test, LiteRT int8", int8.get("recall_per_class"))]
            rows += [
                (f"{name}, Keras", entry.get("recall_per_class"))
                for name, entry in (keras_scores.get("held_out") or {}).items()
            ]
            lines += [
                "Per-class recall (of the clips of each motion, the fraction given that label):",
                "",
                "| clips | " + " | ".join(name.replace("_", " ") for name in recall) + " |",
                "|---|" + "---|" * len(recall),
            ]
            for label, values in rows:
                values = values or {}
                cells = [
                    "–" if values.get(name) is None else f"{values[name]:.2f}" for name in recall
                ]
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            lines.append("")
        if "shuffled_frames_accuracy" in keras_scores:
            lines.append(
                f"Shuffled-frame control (the same model, the test clips' frames in a seeded "
                f"random order; Keras): {keras_scores['shuffled_frames_accuracy']:.3f}, chance "
                f"{keras_scores.get('chance_accuracy', 0.125):.3f}."
            )
        after = fp32.get("streaming_accuracy_after_frames") or {}
        if after:
            lines.append(
                "Streamed (LiteRT fp32 step model), test accuracy after "
                + ", ".join(f"{count} frames {value:.3f}" for count, value in after.items())
                + "."
            )
        if "size_bytes" in fp32 and "step_latency_ms_p50" in fp32:
            lines.append(
                f"Size (clip and step `.tflite`): fp32 {fp32['size_bytes'] / 1e6:.2f} MB, int8 "
                f"{int8['size_bytes'] / 1e6:.2f} MB; one thread, p50: clip "
                f"{fp32['latency_ms_p50']:.1f} ms, frame {fp32['step_latency_ms_p50']:.2f} ms (fp32)."
            )
        overlap = keras_scores.get("overlap")
        if overlap:
            shared = sum(entry["rows"] for report in overlap.values() for entry in report.values())
            lines.append(
                f"Split hygiene: {shared} clips share their parameters or a held-out sprite "
                "across the six splits (`metrics.overlap`)."
            )
        return "\n".join(lines)

    def sample_check(self, predictor, raw: str, answer: dict) -> bool | None:
        """A sample clip shows the motion its file is named after (``grow.mp4``)."""
        return answer.get("label") == pathlib.Path(raw).stem

    def summary(self, answer: dict) -> str:
        return runtime.summary(answer)
