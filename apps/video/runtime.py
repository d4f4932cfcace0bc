"""Video on device: video files -> the motion they show, without TensorFlow.

What an answer from the two ``.tflite`` models needs on the host: decoding a file into
evenly spaced frames (PyAV), the padded clip and its length, the streaming session that
carries the step model's state from frame to frame, and the answer dict. Imports only
NumPy, PyAV, Pillow and ``ai_edge_litert`` (``shared.runtime``), so it runs where
TensorFlow is not installed; ``VideoApp.predict`` gives every engine's answers through
the same ``answers``.

- ``model_<variant>.tflite``: a whole padded clip (``frames`` uint8 ``[1, 16, 64, 64, 3]``,
  ``length`` int32 ``[1]``) -> ``probabilities``;
- ``step_<variant>.tflite``: one frame, the frame before it and the recurrent state ->
  ``probabilities``, ``next_state`` and ``next_previous_frame``: a camera feed calls it
  once per frame (``VideoRuntime.stream``) and has an up-to-date answer after every frame.

Example:
    >>> runtime = VideoRuntime("saved_models/video", variant="int8")
    >>> runtime.predict(["move_left.mp4"])[0]["label"]
    'move_left'
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Sequence

import numpy as np

from shared.errors import UserError
from shared.preprocessing.image import resize_image
from shared.runtime.answers import answer_each
from shared.runtime.base import Runtime
from shared.runtime.litert import LiteRTModel
from shared.runtime.streaming import StreamingSession

NUM_FRAMES = 16
FRAME_SIZE = 64
CLASSES_FILE = "classes.json"
_MAX_DECODED_FRAMES = 1024  # bounded memory for long videos (see load_video)

# Padded clips [n, time, h, w, 3] and their real lengths [n] -> probabilities [n, classes].
Probabilities = Callable[[np.ndarray, np.ndarray], np.ndarray]


def sample_frames(
    frames: np.ndarray,
    num_frames: int = NUM_FRAMES,
    size: tuple[int, int] = (FRAME_SIZE, FRAME_SIZE),
) -> tuple[np.ndarray, int]:
    """`num_frames` evenly spaced frames of ``[time, h, w, 3]``, resized, and the real count.

    A clip shorter than `num_frames` keeps all its frames and is padded with black
    frames at the end; the returned length says how many are real (for masking).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape [time, height, width, 3], got {frames.shape}")
    total = len(frames)
    if total >= num_frames:
        picked = np.linspace(0, total - 1, num_frames).round().astype(int)
        length = num_frames
    else:
        picked = np.arange(total)
        length = total
    out = np.zeros((num_frames, *size, 3), np.uint8)
    for slot, index in enumerate(picked):
        out[slot] = resize_image(frames[index], size)
    return out, length


def load_video(
    path: str | pathlib.Path,
    num_frames: int = NUM_FRAMES,
    size: tuple[int, int] = (FRAME_SIZE, FRAME_SIZE),
) -> tuple[np.ndarray, int]:
    """Decode a video file with PyAV: `num_frames` evenly spaced RGB frames and the real count.

    Frames are scaled to ``size = (height, width)`` while decoding, whatever the
    source size (odd sizes included). A long video is decimated on the fly so
    memory stays bounded without trusting the container's frame count.

    Raises:
        UserError: the file is missing, empty, not a video, or has no frames.
    """
    import av

    path = pathlib.Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file")
    kept: list[np.ndarray] = []
    stride, index = 1, 0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UserError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if index % stride == 0:
                    kept.append(
                        frame.to_ndarray(
                            format="rgb24", width=size[1], height=size[0], interpolation="AREA"
                        )
                    )
                    if len(kept) >= _MAX_DECODED_FRAMES:
                        kept, stride = kept[::2], stride * 2
                index += 1
    except UserError:
        raise
    except (av.FFmpegError, ValueError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path}: not a readable video ({reason})") from error
    if not kept:
        raise UserError(f"{path}: video has no frames")
    return sample_frames(np.stack(kept), num_frames, size)


def answers(
    inputs: Sequence[str],
    probabilities: Probabilities,
    classes: Sequence[str],
    num_frames: int = NUM_FRAMES,
    frame_shape: tuple[int, int] = (FRAME_SIZE, FRAME_SIZE),
) -> list[dict | UserError]:
    """One answer per video file from any engine's `probabilities`: the label, its
    probability, and how many real frames were read (a short clip is padded)."""

    def answer(raws: list[str], clips: list[tuple[np.ndarray, int]]) -> list[dict]:
        frames = np.stack([frames for frames, _ in clips])
        lengths = np.asarray([length for _, length in clips], np.int32)
        result = []
        for raw, length, probs in zip(raws, lengths, probabilities(frames, lengths), strict=True):
            best = int(np.argmax(probs))
            result.append(
                {
                    "input": raw,
                    "label": classes[best],
                    "score": round(float(probs[best]), 4),
                    "frames": int(length),  # real frames read (a short clip is padded)
                }
            )
        return result

    return answer_each(
        inputs, lambda raw: load_video(raw, num_frames=num_frames, size=frame_shape), answer
    )


def summary(answer: dict) -> str:
    """One short line for the demo table."""
    return f"{answer['label']} ({answer['score']:.2f}, {answer['frames']} frames)"


def stream_clip(session: StreamingSession, frames: np.ndarray, length: int) -> np.ndarray:
    """Probabilities after each of the first `length` frames, from a fresh state.

    Returns ``[length, classes]``: row t is what a camera feed would show after frame t.
    """
    session.reset()
    return np.stack(
        [session(np.asarray(frames[t], np.uint8)[None])["probabilities"][0] for t in range(length)]
    )


def read_classes(model_dir: str | pathlib.Path) -> list[str]:
    """The class names the model was trained on (``classes.json``), index order."""
    return json.loads((pathlib.Path(model_dir) / CLASSES_FILE).read_text(encoding="utf-8"))


class Clips:
    """What every engine's video predictor does the same way, given its own ``session()``
    (the step model, one frame a call) and ``probabilities(frames, lengths)``."""

    def stream(self, frames: np.ndarray, length: int) -> np.ndarray:
        """Probabilities after each of the first `length` frames: ``[length, classes]``."""
        return stream_clip(self.session(), frames, length)

    def outputs(self, inputs: list) -> np.ndarray:
        """`inputs`: (frames, length) pairs."""
        frames = np.stack([frames for frames, _ in inputs])
        lengths = np.asarray([length for _, length in inputs], np.int32)
        return self.probabilities(frames, lengths)


class VideoRuntime(Clips, Runtime):
    """``model_<variant>.tflite`` for whole clips and ``step_<variant>.tflite`` for frames:
    video files -> class probabilities, the label over time."""

    input_kind = "video"

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        super().__init__(model_dir, variant)
        self.classes = read_classes(self.model_dir)
        self.runner = LiteRTModel(self.tflite("model"), num_threads=1)
        self.num_frames, *frame_shape = self.runner.input_shape("frames")[1:4]
        self.frame_shape = tuple(int(d) for d in frame_shape)
        self._session: StreamingSession | None = None

    def probabilities(
        self, frames: np.ndarray, lengths: np.ndarray, batch_size: int = 32
    ) -> np.ndarray:
        """Class probabilities ``[n, classes]`` of padded clips ``[n, time, h, w, 3]``, one
        clip per call (the model takes batch 1)."""
        del batch_size  # the engines' shared signature; LiteRT runs clip by clip
        frames = np.asarray(frames, np.uint8)
        lengths = np.asarray(lengths, np.int32)
        if len(frames) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        results = [
            self.runner(frames=clip[None], length=np.array([length]))["probabilities"]
            for clip, length in zip(frames, lengths, strict=True)
        ]
        return np.concatenate(results).astype(np.float32)

    def session(self) -> StreamingSession:
        """A frame-by-frame session over ``step_<variant>.tflite``.

        Call it with one uint8 frame ``[1, h, w, 3]``; it returns ``{"probabilities"}``
        and carries the state to the next call (``reset()`` starts a new clip).
        """
        if self._session is None:
            runner = LiteRTModel(self.tflite("step"), num_threads=1)
            shapes = {name: runner.input_shape(name) for name in ("previous_frame", "state")}
            self._session = StreamingSession(runner, shapes, "frame")
        return self._session

    def predict(self, inputs: list) -> list[dict | UserError]:
        return answers(inputs, self.probabilities, self.classes, self.num_frames, self.frame_shape)

    def summary(self, answer: dict) -> str:
        return summary(answer)
