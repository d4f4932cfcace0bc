"""The picture of an answer (the runtime's ``answer_figure``: ``rnnapps predict music --plot``,
the web page): the piano roll of its tune (``figures.piano_roll_png``, matplotlib). Apart from
``runtime.py`` so that the runtime imports no matplotlib."""

from __future__ import annotations

from apps.music import events, figures


def piano_roll(predictor, raw: str, answers: list[dict]) -> bytes | None:
    """PNG bytes of the first answer's tune (given melody and continuation), or None."""
    if not answers or not isinstance(answers[0], dict):
        return None
    answer = answers[0]
    tune = events.decode([events.ID[name] for name in answer["tokens"]], strict=False)
    return figures.piano_roll_png(tune, "given and continued" if answer["given_events"] else "")
