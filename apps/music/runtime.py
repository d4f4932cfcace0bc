"""Music on device: new tunes and continuations from the LiteRT step model, without TensorFlow.

What an answer from ``model_<variant>.tflite`` (the step model) needs on the host: the event
vocabulary (``events``, standard library), the key and metre of a new tune as its start token,
the melody to continue (``render.read_melody``: a MIDI, MusicXML or ABC file, or an ABC
string), the loop that reads the given events and draws one event at a time, and the answer.
Imports NumPy, ``ai_edge_litert`` (``shared.runtime``) and the standard library only, so it
runs where TensorFlow is not installed; ``render`` is named rather than imported (``RENDER``),
as the runtimes' figures are: reading a given melody and writing MIDI or MusicXML need
music21 (the ``train`` extra), a new tune with its ABC and WAV does not. ``MusicApp.predict`` answers through the same ``Composer`` for every engine.

Decoding (``Composer.compose``):

- sampling (temperature, top-k, top-p; ``shared.runtime.sampling.filter_mask``, a seeded NumPy
  generator), temperature 0 greedy; or beam search (``beam`` > 0, ``shared.decoding``) for the
  most likely continuation;
- with ``BarGrammar`` masks (the default) every event drawn keeps the tune well formed: a
  duration only where it fits the bar (and leaves a remainder some durations fill), a bar line
  only after a full bar (or after a pickup), a tie only after a note, then the same pitch, and
  ``<end>`` after the last bar: every tune ``events.bars_valid``. ``unconstrained`` samples
  from the model as it is (start tokens and padding aside) and reads what it wrote with
  ``events.decode(strict=False)``; ``metrics.json`` measures both.

Example:
    >>> runtime = MusicRuntime("saved_models/music", variant="fp32")
    >>> runtime.predict(["new"], key="G", metre="6/8", seed=3)[0]["abc"]
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import math
import pathlib
from collections.abc import Sequence

import numpy as np

from apps.music import events, synth
from shared.decoding import beam_search
from shared.errors import UserError
from shared.runtime.answers import RequestText, answer_each
from shared.runtime.base import Runtime
from shared.runtime.litert import LiteRTModel
from shared.runtime.options import Option

VOCABULARY_SIZE = len(events.VOCABULARY)
SCORE_WINDOW = 64  # events per call of the scoring model: a median tune in 2 or 3 calls
MAX_BARS = 256
MAX_BEAM = 16
MAX_TEMPERATURE = 10.0
NEW_TUNE = ("", "new")  # inputs that ask for a new tune rather than a continuation
# The defaults of a new tune: the corpus's commonest key is G major, its commonest metre 2/4
# (Essen) then 6/8 (jigs); 4/4 suits every collection.
KEY, METRE = "G", "4/4"
BARS = 16
TEMPERATURE, TOP_K, TOP_P, SEED = 1.0, 0, 0.95, 0

# Key spellings a user may type, each to a tonic of ``events.TONICS``.
ENHARMONIC = {"Db": "C#", "D#": "Eb", "Gb": "F#", "G#": "Ab", "A#": "Bb", "Cb": "B", "E#": "F"}
ENHARMONIC.update({"B#": "C", "Fb": "E"})
MODE_WORDS = {
    "": "major", "maj": "major", "major": "major", "m": "minor", "min": "minor",
    "minor": "minor", "dor": "dorian", "dorian": "dorian", "mix": "mixolydian",
    "mixolydian": "mixolydian",
}  # fmt: skip
# The key option's choices (the CLI's and the web page's): every tonic of ``events.TONICS``
# alone (major), with "m" (minor) or with a mode; ``parse_key`` also reads other spellings.
KEY_CHOICES = tuple(
    f"{tonic}{suffix}"
    for tonic in events.TONICS
    for suffix in ("", "m", " major", " minor", " dorian", " mixolydian")
)


def parse_key(text: str) -> str:
    """A key as the user writes it ("G", "Em", "D dorian", "F# minor") -> "G major" ...;
    a UserError for anything else."""
    stripped = str(text).strip()
    tonic = stripped[:2] if stripped[1:2] in ("#", "b") else stripped[:1]
    word = stripped[len(tonic) :].strip().lower()
    tonic = tonic[:1].upper() + tonic[1:]
    tonic = ENHARMONIC.get(tonic, tonic)
    if tonic not in events.TONICS or word not in MODE_WORDS:
        raise UserError(
            f"key {text!r}: unknown key (a tonic A-G with # or b, then major, minor, dorian "
            "or mixolydian: G, Em, D dorian)"
        )
    return events.key_name(events.TONICS.index(tonic), MODE_WORDS[word])


def parse_metre(text: str) -> str:
    """A metre of ``events.METRES`` ("6/8"); a UserError for any other."""
    stripped = str(text).strip().replace(" ", "")
    if stripped not in events.METRES:
        raise UserError(f"metre {text!r}: unknown metre (one of {', '.join(events.METRES)})")
    return stripped


# --- bar-keeping decoding --------------------------------------------------------------------

UNITS = 24  # durations in 1/24 of a quarter note: every duration of events.DURATIONS is whole
DURATION_UNITS = np.array([int(d * UNITS) for d in events.DURATIONS])
NONE = -2  # no pitch pending, no note to tie, nothing forced
REST_PENDING = -1
# A grammar state: (position in the bar in UNITS, bar lines so far, the pitch (or
# REST_PENDING) waiting for its duration, the note that may be tied, the pitch a tie forces,
# ended, the pickup's length in UNITS (0: none)). A tuple of ints, so beam search can carry
# one per hypothesis in an array.
POSITION, BARS_DONE, PENDING, TIEABLE, FORCED, ENDED, PICKUP = range(7)
INITIAL = (0, 0, NONE, NONE, NONE, 0, 0)


class BarGrammar:
    """Which events may come next so that the tune stays well formed (``events.bars_valid``).

    The last bar ends the tune when it is full or holds the rest of the pickup's bar (the
    corpus's tunes end either way); ``events.bars_valid`` asks less of it.

    Args:
        metre: the tune's metre ("6/8").
        max_bars: bars at most; the last one must end the tune.
        min_bars: bars at least before ``<end>`` (0: the model ends the tune where it likes).

    Example:
        >>> grammar = BarGrammar("3/4", max_bars=8)
        >>> state = grammar.advance(grammar.advance(INITIAL, events.ID["p67"]), events.ID["d3"])
        >>> allowed = grammar.allowed(state)
        >>> bool(allowed[events.BAR_ID]), bool(allowed[events.ID["p60"]])
        (True, False)
    """

    def __init__(self, metre: str, max_bars: int, min_bars: int = 0) -> None:
        self.metre, self.max_bars, self.min_bars = metre, max_bars, min_bars
        self.full = full = int(events.bar_length(metre) * UNITS)
        reachable = _reachable(full)
        positions = np.arange(full + 1)
        after = positions[:, None] + DURATION_UNITS[None, :]  # [position, duration]
        # A duration fits where it ends inside the bar and leaves a length durations fill.
        self._durations_fit = (after <= full) & reachable[np.clip(full - after, 0, full)]
        self._notes_fit = (positions < full) & reachable[full - positions]
        self._candidates: dict[tuple, np.ndarray] = {}

    def advance(self, state: tuple, token: int) -> tuple:
        """The state after `token` (any token: what does not fit is read as
        ``events.decode(strict=False)`` reads it)."""
        position, bars, pending, tieable, forced, ended, pickup = state
        if ended:
            return state
        if events.FIRST_PITCH_ID <= token < events.FIRST_DURATION_ID:
            pitch = token - events.FIRST_PITCH_ID + events.LOWEST
            return (position, bars, pitch, NONE, NONE, 0, pickup)
        if token == events.REST_ID:
            return (position, bars, REST_PENDING, NONE, NONE, 0, pickup)
        if events.FIRST_DURATION_ID <= token < events.FIRST_START_ID:
            if pending == NONE:
                return state
            length = int(DURATION_UNITS[token - events.FIRST_DURATION_ID])
            note = pending if pending >= 0 else NONE
            return (position + length, bars, NONE, note, NONE, 0, pickup)
        if token == events.TIE_ID:
            if tieable == NONE:
                return state
            return (position, bars, NONE, NONE, tieable, 0, pickup)
        if token == events.BAR_ID:
            if bars == 0 and position < self.full:
                pickup = position
            return (0, bars + 1, NONE, NONE, forced, 0, pickup)
        if token == events.END_ID:
            return (position, bars, NONE, NONE, NONE, 1, pickup)
        return state

    def candidates(self, state: tuple) -> np.ndarray:
        """The ids ``allowed`` says yes to, ascending (the same few states recur: cached)."""
        position, bars, pending, tieable, forced, ended, pickup = state
        key = (
            position, pending != NONE, bars == 0, bars + 1 >= self.max_bars,
            bars + 1 >= self.min_bars, tieable != NONE, forced, ended, pickup,
        )  # fmt: skip
        found = self._candidates.get(key)
        if found is None:
            found = self._candidates[key] = np.flatnonzero(self.allowed(state))
        return found

    def allowed(self, state: tuple) -> np.ndarray:
        """Bool [692]: the events that keep the tune well formed after `state`."""
        position, bars, pending, tieable, forced, ended, pickup = state
        mask = np.zeros(VOCABULARY_SIZE, bool)
        full = self.full
        if ended:
            mask[events.END_ID] = True
            return mask
        if pending != NONE:
            if position <= full:
                mask[events.FIRST_DURATION_ID : events.FIRST_START_ID] = self._durations_fit[
                    position
                ]
        else:
            last_bar = bars + 1 >= self.max_bars
            if position == full or (bars == 0 and 0 < position < full):
                mask[events.BAR_ID] = not last_bar
            if forced != NONE:
                if position < full:
                    mask[events.FIRST_PITCH_ID + forced - events.LOWEST] = True
            else:
                if position <= full and self._notes_fit[position]:
                    mask[events.FIRST_PITCH_ID : events.FIRST_DURATION_ID] = True
                    mask[events.REST_ID] = True
                if tieable != NONE and not (last_bar and position == full):
                    mask[events.TIE_ID] = True
                # The last bar is full, or the rest of the pickup's bar (one bar: any length).
                closes = position == full or bars == 0 or (pickup and position == full - pickup)
                if position > 0 and closes and bars + 1 >= self.min_bars:
                    mask[events.END_ID] = True
        if not mask.any():  # a given melody the grammar cannot continue (an over-full bar)
            mask[[events.BAR_ID, events.END_ID]] = True
        return mask


_REACHABLE: dict[int, np.ndarray] = {}


def _reachable(full: int) -> np.ndarray:
    """Bool [full + 1]: which lengths (in UNITS) some durations add up to."""
    if full not in _REACHABLE:
        reachable = np.zeros(full + 1, bool)
        reachable[0] = True
        for length in range(1, full + 1):
            reachable[length] = any(
                d <= length and reachable[length - d] for d in DURATION_UNITS.tolist()
            )
        _REACHABLE[full] = reachable
    return _REACHABLE[full]


FREE_MASK = np.ones(VOCABULARY_SIZE, bool)
FREE_MASK[events.PAD_ID] = False
FREE_MASK[events.FIRST_START_ID :] = False  # a start token is given, never drawn
FREE_CANDIDATES = np.flatnonzero(FREE_MASK)


# --- the key-relative view -------------------------------------------------------------------
# A model may read and predict its events key-relative (``MusicConfig.key_relative``): every
# pitch moved by the shift that takes the tune's tonic to the nearest C (-6..+5 semitones,
# fixed by its start token, as the n-gram's key-relative view), so a phrase learnt in G counts
# in D too. Its own ids ("internal") hold the 60 pitches 43..102 such shifts reach; the start
# token keeps its tonic. Given the start token the map is one-to-one, so the model's
# probabilities of the events are probabilities of the tune as written.
RELATIVE_LOWEST = events.LOWEST - 5
RELATIVE_PITCHES = events.HIGHEST - events.LOWEST + 1 + 11
RELATIVE_SIZE = VOCABULARY_SIZE + 11


def key_shift(start: int) -> int:
    """The semitones a tune's pitches move by in the key-relative view: -6..+5."""
    key, _ = events.start_of(int(start))
    tonic, _ = events.key_parts(key)
    return (tonic + 6) % 12 - 6


def _internal_tables() -> np.ndarray:
    """[12, 692]: for each shift (-6..+5, row shift + 6) the internal id of every event."""
    tables = np.zeros((12, VOCABULARY_SIZE), np.int32)
    ids = np.arange(VOCABULARY_SIZE)
    for row, shift in enumerate(range(-6, 6)):
        table = np.where(ids >= events.FIRST_DURATION_ID, ids + 11, ids)
        pitch = ids[events.FIRST_PITCH_ID : events.FIRST_DURATION_ID] - events.FIRST_PITCH_ID
        table[events.FIRST_PITCH_ID : events.FIRST_DURATION_ID] = (
            events.FIRST_PITCH_ID + pitch + events.LOWEST - shift - RELATIVE_LOWEST
        )
        tables[row] = table
    return tables


INTERNAL = _internal_tables()
IDENTITY = np.arange(VOCABULARY_SIZE, dtype=np.int32)


def internal_table(start: int, key_relative: bool) -> np.ndarray:
    """[692]: the model's id of every event of a tune that starts with `start`."""
    return INTERNAL[key_shift(start) + 6] if key_relative else IDENTITY


# --- scoring and drawing ---------------------------------------------------------------------


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    peak = np.max(logits, axis=-1, keepdims=True)
    return logits - peak - np.log(np.sum(np.exp(logits - peak), axis=-1, keepdims=True))


def draw(
    logits: np.ndarray,
    candidates: np.ndarray,
    temperature: float,
    top_k: int,
    top_p: float,
    rng: np.random.Generator,
) -> int:
    """One event of `candidates` (ids): the likeliest at temperature 0, else a draw among
    those temperature, top-k and top-p keep (``shared.runtime.sampling.filter_mask``'s rule,
    here over the few candidates: a test checks they agree)."""
    index = draw_index(np.asarray(logits)[candidates], temperature, top_k, top_p, rng)
    return int(candidates[index])


def draw_index(
    scores: np.ndarray, temperature: float, top_k: int, top_p: float, rng: np.random.Generator
) -> int:
    """The position in `scores` (the candidates' logits) that ``draw`` picks: the cumulative
    weights inverted with one uniform number, in descending order of score when top-k or
    top-p cut (one sort serves the cut and the draw: the host loop's cost per event)."""
    if temperature == 0:
        return int(np.argmax(scores))
    scaled = (scores - np.max(scores)) / temperature
    if not top_k and top_p >= 1.0:
        cumulative = np.cumsum(np.exp(scaled))
        return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    order = np.argsort(-scaled, kind="stable")
    weights = np.exp(scaled[order])  # descending, the first 1
    keep = weights.size if top_k <= 0 else min(top_k, weights.size)
    if top_p < 1.0:
        kept = weights[:keep]
        mass_before = (np.cumsum(kept) - kept) / kept.sum()
        keep = min(keep, max(1, int(np.sum(mass_before < top_p))))
    # Those tied with the last one kept are kept too (filter_mask's rule).
    while keep < weights.size and weights[keep] == weights[keep - 1]:
        keep += 1
    cumulative = np.cumsum(weights[:keep])
    return int(order[np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")])


def check_options(
    bars: int, temperature: float, top_k: int, top_p: float, seed: int, beam: int
) -> None:
    """A UserError naming the first option out of range (they concern every input)."""
    for name, value, low, high in (
        ("bars", bars, 1, MAX_BARS),
        ("top-k", top_k, 0, 2**31 - 1),
        ("seed", seed, 0, 2**31 - 1),
        ("beam", beam, 0, MAX_BEAM),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise UserError(f"--{name} {value!r}: must be a whole number")
        if not low <= value <= high:
            raise UserError(f"--{name} {value}: must be between {low} and {high:,}")
    if not isinstance(temperature, int | float) or not 0.0 <= temperature <= MAX_TEMPERATURE:
        raise UserError(
            f"--temperature {temperature}: must be between 0 (greedy) and {MAX_TEMPERATURE:g}"
        )
    if not isinstance(top_p, int | float) or not 0.0 < top_p <= 1.0:
        raise UserError(f"--top-p {top_p}: must be in (0, 1] (1 keeps all)")


# The file formats (``apps/music/render.py``), named rather than imported, as ``answer_figure``
# is: its readers and its MIDI and MusicXML writers import music21 (the train extra) when
# called; its ABC writer needs the standard library only.
RENDER = "apps.music.render"


def _render():
    return importlib.import_module(RENDER)


def read_melody(raw: str) -> events.Tune | None:
    """None for a new tune (an empty input or "new"), else the melody a file or an ABC
    string holds (``render.read_melody``: UserError when it cannot be read)."""
    if not isinstance(raw, str):
        raise UserError(f"{raw!r}: give a file, an ABC string, or 'new'")
    if raw.strip().lower() in NEW_TUNE:
        return None
    # A request's text (the server's) is never read as a path: ABC text only.
    tune = _render().read_melody(raw, paths=not isinstance(raw, RequestText))
    try:
        events.encode(tune)
    except ValueError as error:
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        raise UserError(f"{shown!r}: {error}") from None
    return tune


@dataclasses.dataclass
class Composition:
    """A generated tune: its events (start token first, ``<end>`` last when it ended), where
    the given melody's events stop (1 for a new tune), and whether it ended by itself."""

    ids: list[int]
    given: int
    ended: bool

    @property
    def tune(self) -> events.Tune:
        return events.decode(self.ids, strict=False)


class Composer:
    """Generation and scoring over a step function, for every engine: subclasses give
    ``step(token_id, states) -> (logits, new_states)``, ``zero_states()`` and
    ``window_logits(token_ids, states)`` (a window's logits and the states after it), in the
    model's own ids; ``key_relative`` says which (see ``internal_table``). Everything else
    reads and writes events: ``log_probs`` maps the model's logits to the 692 events."""

    key_relative = False

    def table(self, start: int) -> np.ndarray:
        return internal_table(start, self.key_relative)

    @staticmethod
    def log_probs(logits: np.ndarray, table: np.ndarray) -> np.ndarray:
        """Log-probabilities [..., 692] of the events under the model's logits (a key-relative
        model's pitches outside the range keep their mass: the events' sum to at most 1)."""
        return log_softmax(logits)[..., table]

    def step(self, token_id: int, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def zero_states(self) -> np.ndarray:
        raise NotImplementedError

    def window_logits(self, token_ids: np.ndarray, states: np.ndarray) -> tuple:
        """Logits [time, 692] after each id and the final states (default: stepping)."""
        rows = []
        for token_id in token_ids:
            logits, states = self.step(int(token_id), states)
            rows.append(logits)
        return np.stack(rows), states

    def teacher_forced_log_probs(self, token_ids: Sequence[int]) -> np.ndarray:
        """Log-probabilities [time, 692] of the next event after each event of a tune (from
        its start token), from a zero state, window by window."""
        table = self.table(token_ids[0])
        states, rows = self.zero_states(), []
        ids = table[np.asarray(token_ids, np.int32)]
        for offset in range(0, len(ids), SCORE_WINDOW):
            logits, states = self.window_logits(ids[offset : offset + SCORE_WINDOW], states)
            rows.append(logits)
        return self.log_probs(np.concatenate(rows), table)

    def tune_bits(self, tunes: Sequence[Sequence[int]]) -> np.ndarray:
        """Bits of every tune's events after its start token (one float per tune)."""
        out = []
        for ids in tunes:
            log_probs = self.teacher_forced_log_probs(ids[:-1])
            chosen = log_probs[np.arange(len(ids) - 1), np.asarray(ids[1:])]
            out.append(-float(np.sum(chosen)) / math.log(2.0))
        return np.array(out)

    def outputs(self, inputs: list) -> np.ndarray:
        """Teacher-forced next-event probabilities over the first 24 events of each tune (id
        lists), stacked [positions, 692]: what the parity check compares across engines."""
        return np.concatenate([np.exp(self.teacher_forced_log_probs(ids[:24])) for ids in inputs])

    def compose(
        self,
        prompt: Sequence[int],
        bars: int = BARS,
        temperature: float = TEMPERATURE,
        top_k: int = TOP_K,
        top_p: float = TOP_P,
        seed: int = SEED,
        beam: int = 0,
        constrained: bool = True,
        min_bars: int = 0,
    ) -> Composition:
        """Continue `prompt` (a start token, then any events of a given melody) by at most
        `bars` bars (at least `min_bars` with ``constrained``), sampling (``beam`` 0) or by
        beam search."""
        prompt = [int(t) for t in prompt]
        if prompt and prompt[-1] == events.END_ID:
            prompt = prompt[:-1]
        _, metre = events.start_of(prompt[0])
        given_bars = prompt.count(events.BAR_ID) + (len(prompt) > 1)  # `bars` more than these
        grammar = BarGrammar(metre, given_bars + bars, given_bars + min_bars)
        limit = grammar.max_bars * (int(events.bar_length(metre) * 8) * 3 + 1) + 2
        state = INITIAL
        states = self.zero_states()
        table = self.table(prompt[0])
        for token in prompt[:-1]:
            _, states = self.step(int(table[token]), states)
            state = grammar.advance(state, token)
        if beam:
            drawn, ended = self._beam(
                prompt[-1], states, state, grammar, limit, beam, constrained, table
            )
        else:
            drawn, ended = self._sample(
                prompt[-1], states, state, grammar, limit, temperature, top_k, top_p, seed,
                constrained, table,
            )  # fmt: skip
        return Composition(prompt + drawn + ([events.END_ID] if ended else []), len(prompt), ended)

    def _candidates(self, grammar: BarGrammar, state: tuple, constrained: bool) -> np.ndarray:
        # Unconstrained, the bar line after the last bar asked for cuts the tune there.
        return grammar.candidates(state) if constrained else FREE_CANDIDATES

    def _sample(
        self, token, states, state, grammar, limit, temperature, top_k, top_p, seed, constrained,
        table,
    ) -> tuple[list[int], bool]:  # fmt: skip
        rng = np.random.default_rng(seed)
        drawn: list[int] = []
        internal: dict[int, np.ndarray] = {}  # candidates -> the model's ids of them
        while len(drawn) < limit:
            logits, states = self.step(int(table[token]), states)
            state = grammar.advance(state, token)
            candidates = self._candidates(grammar, state, constrained)
            ids = internal.get(id(candidates))
            if ids is None:
                ids = internal[id(candidates)] = table[candidates]
            # The candidates' logits as the model gives them: the softmax over them is the
            # same as over their log-probabilities.
            token = int(candidates[draw_index(logits[ids], temperature, top_k, top_p, rng)])
            if token == events.END_ID:
                return drawn, True
            if token == events.BAR_ID and state[BARS_DONE] + 1 >= grammar.max_bars:
                return drawn, False
            drawn.append(token)
        return drawn, False

    def _beam(self, token, states, state, grammar, limit, width, constrained, table):
        def step(tokens: np.ndarray, carried: dict):
            rows_logits, rows_states, rows_grammar = [], [], []
            for row, token_id in enumerate(tokens.tolist()):
                logits, new_states = self.step(
                    int(table[token_id]), carried["states"][row : row + 1]
                )
                advanced = grammar.advance(tuple(carried["grammar"][row].tolist()), token_id)
                row_log_probs = np.full(VOCABULARY_SIZE, -np.inf)
                candidates = self._candidates(grammar, advanced, constrained)
                row_log_probs[candidates] = self.log_probs(logits, table)[candidates]
                rows_logits.append(row_log_probs)
                rows_states.append(new_states[0])
                rows_grammar.append(advanced)
            new = {"states": np.stack(rows_states), "grammar": np.array(rows_grammar)}
            return np.stack(rows_logits), new, None

        carried = {"states": states, "grammar": np.array([state])}
        best = beam_search(
            step, carried, token, events.END_ID, limit, beam_width=width, length_penalty=0.6
        )[0]
        return [int(t) for t in best.tokens], best.finished

    def answer(
        self,
        raw: str,
        tune: events.Tune | None,
        key: str,
        metre: str,
        wav: bool = False,
        **options,
    ) -> dict:
        """The answer to one input: the tune (given melody and continuation) as event names
        (``tokens``) and ABC, what part was given, and with `wav` the tune as a WAV (base64,
        ``synth``)."""
        prompt = [events.start_id(key, metre)] if tune is None else events.encode(tune)
        composition = self.compose(prompt, **options)
        written = composition.tune
        valid = "bars valid" if events.bars_valid(written) else "bars not valid"
        answer = {
            "input": raw,
            "summary": f"{written.key}, {written.metre}, {len(written.bars)} bars ({valid})",
            "key": written.key,
            "metre": written.metre,
            "bars": len(written.bars),
            "bars_valid": events.bars_valid(written),
            "ended": composition.ended,
            "given_events": composition.given - 1,
            "tokens": events.names(composition.ids),
            "abc": abc_text(written),
        }
        if wav:
            answer["wav"] = base64.b64encode(synth.wav_bytes(written)).decode("ascii")
        return answer


def abc_text(tune: events.Tune) -> str:
    """The tune in ABC (``render.abc_text``: standard library only)."""
    return _render().abc_text(tune)


def tune_of(answer: dict) -> events.Tune:
    """The tune an answer holds (its ``tokens``)."""
    return events.decode([events.ID[name] for name in answer["tokens"]], strict=False)


def write_answer(answer: dict, path: str | pathlib.Path) -> pathlib.Path:
    """Write an answer's tune to `path` by its suffix (``render.write``: .mid, .midi,
    .musicxml, .xml, .abc, .wav; another suffix is a UserError): what ``--out`` needs."""
    return _render().write(tune_of(answer), path)


def answers(
    inputs: Sequence[str],
    composer: Composer,
    key: str = KEY,
    metre: str = METRE,
    bars: int = BARS,
    temperature: float = TEMPERATURE,
    top_k: int = TOP_K,
    top_p: float = TOP_P,
    seed: int = SEED,
    beam: int = 0,
    unconstrained: bool = False,
    wav: bool = False,
) -> list[dict | UserError]:
    """One answer per input ("new" or "" for a new tune in `key` and `metre`; a file or an ABC
    string to continue, by `bars` more). With bars kept (not `unconstrained`) the tune is
    `bars` long exactly: the model may not end it before, and ends it there. A bad key, metre
    or option raises a UserError (it concerns every input); a melody that cannot be read
    costs only its own answer."""
    key, metre = parse_key(key), parse_metre(metre)
    check_options(bars, temperature, top_k, top_p, seed, beam)
    options = dict(
        bars=int(bars), temperature=float(temperature), top_k=int(top_k), top_p=float(top_p),
        seed=int(seed), beam=int(beam), constrained=not unconstrained,
        min_bars=0 if unconstrained else int(bars),
    )  # fmt: skip

    def answer(raws: list[str], tunes: list) -> list[dict]:
        return [
            composer.answer(r, t, key, metre, wav=wav, **options)
            for r, t in zip(raws, tunes, strict=True)
        ]

    return answer_each(inputs, read_melody, answer)


def summary(answer: dict) -> str:
    """Key, metre, bars and the first notes, for the terminal and the demo table."""
    return f"{answer['summary']}: {' '.join(answer['tokens'][1:13])} ..."


OPTIONS = (
    Option("key", "string", "key of a new tune (G, Em, D dorian ...)", "G", choices=KEY_CHOICES),
    Option("metre", "string", "metre of a new tune", METRE, choices=events.METRES),
    Option(
        "bars", "integer", "bars to write (at most when unconstrained)", BARS, 1, MAX_BARS,
        serve_maximum=64,
    ),
    Option(
        "temperature", "number", "sampling temperature (0: greedy)", TEMPERATURE, 0,
        MAX_TEMPERATURE, serve_maximum=5,
    ),
    Option("top_k", "integer", "keep the k likeliest events (0: all)", TOP_K, 0, 2**31 - 1),
    Option("top_p", "number", "nucleus: keep the likeliest of this mass (1: all)", TOP_P, 0, 1),
    Option("seed", "integer", "sampling seed", SEED, 0, 2**31 - 1),
    Option("beam", "integer", "beam width: the likeliest tune (0: sample)", 0, 0, MAX_BEAM),
    Option("unconstrained", "boolean", "sample without keeping bars valid", False),
    Option("wav", "boolean", "add the tune as a WAV file (base64) to listen to", False),
)  # fmt: skip


class MusicRuntime(Composer, Runtime):
    """``model_<variant>.tflite`` (the step model), ``score_<variant>.tflite`` (a window of
    ``SCORE_WINDOW`` events) and the host loop around them."""

    task = "Melody generation (bits per event on held-out tunes: lower is better)"
    pattern = "many-to-many training, one-to-many generation (GRU over events, key and metre)"
    default_data = (
        "music21's corpus: 10,140 real tunes (Essen, O'Neill's, Ryan's, Bach chorale sopranos)"
    )
    metric = "bits_per_event"
    sample_inputs = ("new",)
    options = OPTIONS
    answer_figure = "apps.music.answer_figure:piano_roll"
    # For `rnnapps predict music --out tune.mid` and `predict music` with no input (a new tune):
    # what apps/cli.py reads once it takes them.
    answer_writer = "apps.music.runtime:write_answer"
    empty_input = "new"

    def __init__(self, model_dir: str | pathlib.Path, variant: str = "fp32"):
        super().__init__(model_dir, variant)
        self.runner = LiteRTModel(self.tflite(), num_threads=1)
        self.scorer = LiteRTModel(self.tflite("score"), num_threads=1)
        self.state_shape = self.runner.input_shape("states")[1:]  # (S, units)
        self.window = self.scorer.input_shape("token_ids")[1]
        logits_size = int(self.runner.output_details["logits"]["shape"][-1])
        self.key_relative = logits_size == RELATIVE_SIZE
        # The signature's tensors set and read directly: its runner's call re-allocates every
        # tensor first, which costs as much as the step itself.
        signature = self.runner.runner
        self._wrapper, self._subgraph = signature._interpreter_wrapper, signature._subgraph_index
        inputs, outputs = signature._inputs, dict(signature._outputs)
        self._token_index, self._states_index = inputs["token_id"], inputs["states"]
        self._logits_index, self._new_states_index = outputs["logits"], outputs["new_states"]

    def zero_states(self) -> np.ndarray:
        return np.zeros((1, *self.state_shape), np.float32)

    def step(self, token_id: int, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wrapper, subgraph = self._wrapper, self._subgraph
        wrapper.SetTensor(self._token_index, np.array([token_id], np.int32), subgraph)
        wrapper.SetTensor(self._states_index, states, subgraph)
        wrapper.Invoke(subgraph)
        logits = wrapper.GetTensor(self._logits_index, subgraph)[0]
        return logits, wrapper.GetTensor(self._new_states_index, subgraph)

    def window_logits(self, token_ids: np.ndarray, states: np.ndarray) -> tuple:
        count = len(token_ids)
        padded = np.zeros((1, self.window), np.int32)
        padded[0, :count] = token_ids
        out = self.scorer.runner(token_ids=padded, states=states)
        # After a padded window the states are not the tune's: only a tune's last window is.
        return out["logits"][0, :count], out["new_states"]

    def predict(
        self,
        inputs: list,
        key: str = KEY,
        metre: str = METRE,
        bars: int = BARS,
        temperature: float = TEMPERATURE,
        top_k: int = TOP_K,
        top_p: float = TOP_P,
        seed: int = SEED,
        beam: int = 0,
        unconstrained: bool = False,
        wav: bool = False,
    ) -> list:
        return answers(
            inputs, self, key, metre, bars, temperature, top_k, top_p, seed, beam, unconstrained,
            wav,
        )  # fmt: skip

    def summary(self, answer: dict) -> str:
        return summary(answer)
