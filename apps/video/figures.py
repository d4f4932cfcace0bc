"""The label over time of a clip, drawn without TensorFlow (matplotlib, imported when
drawing: the ``serve`` and ``train`` extras bring it).

Works with any engine's predictor that streams (the LiteRT runtime and the Keras one share
``stream``, ``classes``, ``num_frames`` and ``frame_shape``). ``VideoApp.figure`` and the
server (``VideoRuntime.answer_figure``) both call ``label_over_time``.
"""

from __future__ import annotations

import io

import numpy as np

from apps.video import runtime


def label_over_time(predictor, raw: str, answers: list[dict]) -> bytes | None:
    """The label over time: each class's probability after every frame, as PNG bytes.

    The clip runs frame by frame through the streaming step model (the same
    weights as the clip model), so the curve shows when the network made up
    its mind. SavedModel has no step model: no figure there.
    """
    if predictor.engine == "savedmodel":
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frames, length = runtime.load_video(
        raw, num_frames=predictor.num_frames, size=predictor.frame_shape
    )
    over_time = predictor.stream(frames, length)  # [length, classes]
    figure = Figure(figsize=(7.0, 2.6), dpi=100)
    FigureCanvasAgg(figure)
    axis = figure.add_subplot()
    steps = np.arange(1, length + 1)
    # The classes that ever lead, plus the final answer: the rest stay near zero.
    shown = sorted(set(over_time.argmax(axis=-1).tolist()) | {int(over_time[-1].argmax())})
    for index in shown:
        axis.plot(steps, over_time[:, index], linewidth=2, label=predictor.classes[index])
    axis.set_xlabel("frame")
    axis.set_ylabel("probability")
    axis.set_ylim(0.0, 1.0)
    axis.set_xlim(1, max(2, length))
    axis.legend(loc="upper left", fontsize=8)
    axis.set_title("label over time (streaming step model)", fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
