"""One answer per input: each input checked alone, the valid ones answered together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shared.errors import UserError

Prepared = TypeVar("Prepared")


class RequestText(str):
    """A text input that came in a web request (``apps.serve``): an app that reads a path
    from its inputs (music: a melody file) must not read this one as a path."""


def answer_each(
    inputs: Sequence[Any],
    check: Callable[[Any], Prepared],
    answer: Callable[[list[Any], list[Prepared]], list[dict | UserError]],
) -> list[dict | UserError]:
    """The check-each-input, answer-in-batch, put-back loop every app's ``predict`` runs.

    Args:
        inputs: the raw inputs, as the user gave them (texts, paths, bytes).
        check: raw input -> what the model reads (a decoded clip, a checked text), or a
            ``UserError`` naming the input and the problem.
        answer: (the valid raw inputs, their prepared values) -> one JSON-ready answer (or
            a ``UserError``) each, in the same order; called once, and not at all when
            no input is valid.

    Returns:
        One answer or ``UserError`` per input, in the inputs' order: a bad input costs only
        its own answer.

    Example:
        >>> answer_each(["a", ""], lambda t: t or (_ for _ in ()).throw(UserError("empty")),
        ...             lambda raws, texts: [{"input": r, "n": len(t)} for r, t in zip(raws, texts)])
        [{'input': 'a', 'n': 1}, UserError('empty')]
    """
    answers: list[dict | UserError | None] = [None] * len(inputs)
    valid: list[int] = []
    prepared: list[Prepared] = []
    for index, raw in enumerate(inputs):
        try:
            prepared.append(check(raw))
        except UserError as error:
            answers[index] = error
            continue
        valid.append(index)
    if valid:
        results = answer([inputs[index] for index in valid], prepared)
        if len(results) != len(valid):
            raise ValueError(f"answer returned {len(results)} answers for {len(valid)} inputs")
        for index, result in zip(valid, results, strict=True):
            answers[index] = result
    return answers  # type: ignore[return-value]


def check_text(text: str, max_characters: int) -> str:
    """`text` if it is valid UTF-8, not blank and at most `max_characters` long, else a
    UserError naming it (shortened to 40 characters) and the problem."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(f"{shown!r}: not valid UTF-8 text") from None
    if not text.strip():
        raise UserError(f"{shown!r}: empty text")
    if len(text) > max_characters:
        raise UserError(
            f"{shown!r}: {len(text):,} characters, more than the {max_characters:,} allowed"
        )
    return text
