"""The default translation corpus, generated offline by ``num2words`` and ``Babel``.

The same value written in English and in the target language (Spanish by default, French
or German on request), as cardinals, ordinals, years, dates, times of day and currency
amounts, with held-out values and forms for validation and test, and a shifted test set of
other phrasings (``apps/translation/data.py`` describes the corpus and loads it).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
import re
from collections.abc import Callable
from decimal import Decimal

import numpy as np
from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from num2words import num2words

from shared.data.overlap import cross_split_overlap, normalise_text

# Target languages of the default corpus; the source language is always English.
LANGUAGES: dict[str, str] = {"es": "Spanish", "fr": "French", "de": "German"}


KINDS = ("cardinal", "ordinal", "year", "date", "time", "currency")


# The shifted test set of the default corpus, in `Splits.info`: the same values, other phrasings.
OTHER_PHRASINGS = "other_phrasings"


# Share of each kind in the default corpus: cardinals are the most varied, ordinals the least.
_KIND_SHARES = {
    "ordinal": 0.03,
    "year": 0.10,
    "time": 0.15,
    "date": 0.22,
    "currency": 0.20,
    "cardinal": 0.30,
}


SPLIT_NAMES = ("train", "validation", "test")


SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


# Probability that a held-out key (a number, a day-month pair ...) belongs to each split.
_HELD_OUT_TEST = 0.1


_HELD_OUT_VALIDATION = 0.1


MIN_SIZE = 20


# Bump when the generator changes, so cached corpora are built again.
CORPUS_VERSION = "3"


_WORD_PATTERN = re.compile(r"\d|[^\W\d]+|[^\w\s]")


def words(text: str) -> list[str]:
    """Split text into the units a word-level model should use.

    Runs of letters, single digits and single punctuation marks, so ``19:30`` is
    ``1 9 : 3 0`` and a year in digits needs no word of its own. The default corpus guarantees
    that every such unit of a validation or test target occurs in a training target.
    """
    return _WORD_PATTERN.findall(text)


def _clean(text: str) -> str:
    # Babel puts narrow and ordinary no-break spaces in times and dates; users type spaces.
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


_ES_TEENS = {
    "primero": "decimoprimero",
    "segundo": "decimosegundo",
    "tercero": "decimotercero",
    "cuarto": "decimocuarto",
    "quinto": "decimoquinto",
    "sexto": "decimosexto",
    "séptimo": "decimoséptimo",
    "octavo": "decimoctavo",
    "noveno": "decimonoveno",
}


def _fix_spanish(text: str) -> str:
    # num2words 0.5.14 writes "veintiuno mil" and "quadragésimo"; the RAE forms are
    # "veintiún mil" and "cuadragésimo", with the teens of ordinals written as one word.
    text = re.sub(r"\bveintiuno (mil|millones)\b", r"veintiún \1", text)
    text = re.sub(r"\buno (mil|millones)\b", r"un \1", text)
    text = text.replace("quadragésimo", "cuadragésimo")
    return re.sub(
        r"\bdécimo ?(primero|segundo|tercero|cuarto|quinto|sexto|séptimo|octavo|noveno)\b",
        lambda match: _ES_TEENS[match.group(1)],
        text,
    )


def _fix_french(text: str) -> str:
    # num2words writes "quatre-vingtsième" and "deux centsième": the plural -s goes before -ième.
    return text.replace("vingtsième", "vingtième").replace("centsième", "centième")


_FIXES: dict[str, Callable[[str], str]] = {"es": _fix_spanish, "fr": _fix_french}


@functools.lru_cache(maxsize=200_000)
def _spell(value: int | Decimal, language: str, to: str = "cardinal", currency: str = "EUR") -> str:
    # Cached: years, ordinals and small numbers come round again and again, and num2words
    # takes about 50 microseconds a call.
    extra = {"currency": currency} if to == "currency" else {}
    text = _clean(num2words(value, lang=language, to=to, **extra))
    return _FIXES.get(language, lambda t: t)(text)


def _vary_case(text: str, rng: np.random.Generator) -> str:
    draw = rng.random()
    if draw < 0.2:
        return text[:1].upper() + text[1:]
    if draw < 0.25:
        return text.upper()
    return text


def _english_number_variant(text: str, rng: np.random.Generator) -> str:
    # British "three hundred and forty-two", American "three hundred forty-two", with or
    # without the comma num2words puts after thousands.
    if rng.random() < 0.5:
        text = text.replace(" and ", " ")
    if rng.random() < 0.5:
        text = text.replace(",", "")
    return text


def _ordinal_suffix(value: int) -> str:
    if value % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")


class _HeldOut:
    """Which split a value (a number, an amount, a time, a day-month pair) or a date form
    belongs to.

    A value's split depends on the value alone, never on the kind that writes it: the number
    1999 held out for test is held out as a cardinal, an ordinal, a year, a date's year and an
    amount's euros or cents alike, so no kind can show it in training.
    """

    def __init__(self, seed: int):
        self.seed = seed
        months = np.random.default_rng([seed, 7]).permutation(np.arange(1, 13))
        # Each date form loses one month to test and another to validation. Forms that share a
        # month spelling sit in adjacent pairs, and the four months held out of a pair are
        # distinct, so every month spelling still occurs in training.
        self.date_form_months = {
            form: [int(months[i]), int(months[(i + 8) % 12])] for i, form in enumerate(_DATE_FORMS)
        }

    def split_of(self, key: tuple) -> int:
        """0 (train), 1 (validation) or 2 (test) for one value, e.g. ``("number", 1999)``."""
        digest = hashlib.blake2b(f"{self.seed}|{key!r}".encode(), digest_size=8).digest()
        draw = int.from_bytes(digest, "big") / 2.0**64
        if draw < _HELD_OUT_TEST:
            return 2
        if draw < _HELD_OUT_TEST + _HELD_OUT_VALIDATION:
            return 1
        return 0

    def values_split(self, keys: list[tuple]) -> int:
        """The split of a pair made of these values: the latest split any of them belongs to."""
        return max(self.split_of(key) for key in keys)

    def date_form_split(self, form: str, month: int) -> int:
        test_month, validation_month = self.date_form_months[form]
        return 2 if month == test_month else 1 if month == validation_month else 0


@dataclasses.dataclass
class _Kind:
    """One kind of pair: sample a value, name the values and form it is made of, render it.

    ``values(value)`` lists the value keys (``("number", 342)``, ``("time", 19, 30)`` ...)
    shared by every kind; ``form(value)`` is the split its English form is held out to
    (dates only, else 0).
    """

    sample: Callable[[np.random.Generator], tuple]
    values: Callable[[tuple], list[tuple]]
    render: Callable[[tuple, np.random.Generator], tuple[str, str]]
    form: Callable[[tuple], int] = lambda value: 0


def _digit_count_value(rng: np.random.Generator, max_digits: int) -> int:
    # Uniform over the number of digits, so large numbers don't crowd out small ones.
    digits = int(rng.integers(1, max_digits + 1))
    low = 0 if digits == 1 else 10 ** (digits - 1)
    return int(rng.integers(low, 10**digits))


def _cardinal_kind(language: str, held_out: _HeldOut) -> _Kind:
    def render(value: tuple, rng: np.random.Generator) -> tuple[str, str]:
        (number,) = value
        if rng.random() < 0.3:
            # Four digits and more always carry a thousands comma, so "1999" stays a year.
            source = format_decimal(number, locale="en_US")
        else:
            source = _vary_case(_english_number_variant(_spell(number, "en"), rng), rng)
        return source, _spell(number, language)

    return _Kind(
        sample=lambda rng: (_digit_count_value(rng, 7),),
        values=lambda value: [("number", value[0])],
        render=render,
    )


def _ordinal_kind(language: str, held_out: _HeldOut) -> _Kind:
    def render(value: tuple, rng: np.random.Generator) -> tuple[str, str]:
        (number,) = value
        if rng.random() < 0.35:
            source = f"{number}{_ordinal_suffix(number)}"
        else:
            source = _vary_case(
                _english_number_variant(_spell(number, "en", to="ordinal"), rng), rng
            )
        return source, _spell(number, language, to="ordinal")

    return _Kind(
        # Up to 100: beyond it Spanish ordinals are rare and num2words misspells them.
        sample=lambda rng: (int(rng.integers(1, 101)),),
        values=lambda value: [("number", value[0])],
        render=render,
    )


def _year_kind(language: str, held_out: _HeldOut) -> _Kind:
    def render(value: tuple, rng: np.random.Generator) -> tuple[str, str]:
        (year,) = value
        if rng.random() < 0.35:
            source = str(year)
        else:
            source = _spell(year, "en", to="year")
            if rng.random() < 0.3:
                source = source.replace("-", " ")  # "nineteen oh five", "nineteen ninety nine"
            source = _vary_case(source, rng)
        return source, _spell(year, language, to="year")

    return _Kind(
        sample=lambda rng: (int(rng.integers(1100, 2100)),),
        values=lambda value: [("number", value[0])],
        render=render,
    )


# English date forms -> the target-language Babel format each one translates to.
_DATE_FORMS = {
    "us_long": "long",  # November 21, 2026
    "gb_long": "long",  # 21 November 2026
    "us_medium": "medium",  # Nov 21, 2026
    "gb_medium": "medium",  # 21 Nov 2026
    "us_full": "full",  # Saturday, November 21, 2026
    "gb_full": "full",  # Saturday, 21 November 2026
    "us_ordinal": "long",  # November 21st, 2026
    "gb_ordinal": "long",  # the 21st of November 2026
}


_DATE_FORM_NAMES = tuple(_DATE_FORMS)


def _english_date(date: datetime.date, form: str) -> str:
    day = f"{date.day}{_ordinal_suffix(date.day)}"
    month = format_date(date, "MMMM", locale="en")
    if form == "us_ordinal":
        return f"{month} {day}, {date.year}"
    if form == "gb_ordinal":
        return f"the {day} of {month} {date.year}"
    region, width = form.split("_")
    return format_date(date, width, locale="en_US" if region == "us" else "en_GB")


def _date_kind(language: str, held_out: _HeldOut) -> _Kind:
    def sample(rng: np.random.Generator) -> tuple:
        year = int(rng.integers(1900, 2100))
        ordinal = datetime.date(year, 1, 1).toordinal() + int(rng.integers(0, 366))
        date = datetime.date.fromordinal(ordinal)
        if date.year != year:  # day 366 of a common year: take the last day instead
            date = datetime.date(year, 12, 31)
        form = _DATE_FORM_NAMES[int(rng.integers(len(_DATE_FORM_NAMES)))]
        if date.month == 5 and form.endswith("_medium"):
            # "May" is its own abbreviation: "May 26, 1983" would be both the medium form
            # ("26 may 1983") and the long one ("26 de mayo de 1983"). One translation per
            # English string: May dates take the long form.
            form = form.replace("_medium", "_long")
        return (date.year, date.month, date.day, form)

    def values(value: tuple) -> list[tuple]:
        year, month, day, _ = value
        return [("number", year), ("day", month, day)]

    def form(value: tuple) -> int:
        _, month, _, form_name = value
        return held_out.date_form_split(form_name, month)

    def render(value: tuple, rng: np.random.Generator) -> tuple[str, str]:
        year, month, day, form = value
        date = datetime.date(year, month, day)
        source = _clean(_english_date(date, form))
        draw = rng.random()
        if draw < 0.15:
            source = source.lower()
        elif draw < 0.2:
            source = source.upper()
        return source, _clean(format_date(date, _DATE_FORMS[form], locale=language))

    return _Kind(sample=sample, values=values, render=render, form=form)


def _period(hour: int) -> str:
    # One phrase per hour, so "quarter to five at night" can only be 4:45.
    if hour < 5:
        return "at night"
    if hour < 12:
        return "in the morning"
    if hour < 18:
        return "in the afternoon"
    return "in the evening"


def _english_time(hour: int, minute: int, rng: np.random.Generator) -> str:
    twelve = hour % 12 or 12
    am_pm = (
        ("am", "a.m.", "AM")[int(rng.integers(3))]
        if hour < 12
        else ("pm", "p.m.", "PM")[int(rng.integers(3))]
    )
    digits = [f"{twelve}:{minute:02d} {am_pm}", f"{hour:02d}:{minute:02d}"]
    if rng.random() < 0.45:
        return digits[int(rng.integers(2))]
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else ("noon", "midday")[int(rng.integers(2))]
    hour_words = num2words(twelve, lang="en")
    next_words = num2words((hour + 1) % 12 or 12, lang="en")
    period = _period(hour)
    spoken = {
        0: f"{hour_words} o'clock {period}",
        15: f"quarter past {hour_words} {period}",
        30: f"half past {hour_words} {period}",
        45: f"quarter to {next_words} {period}",
    }
    if minute in (5, 10, 20, 25):
        spoken[minute] = f"{num2words(minute, lang='en')} past {hour_words} {period}"
    if minute in (35, 40, 50, 55):
        spoken[minute] = f"{num2words(60 - minute, lang='en')} to {next_words} {period}"
    if minute in spoken and rng.random() < 0.6:
        return spoken[minute]
    if minute == 0:
        return f"{hour_words} {am_pm}"  # "seven pm"
    oh = "oh " if minute < 10 else ""  # "seven oh five pm"
    return f"{hour_words} {oh}{num2words(minute, lang='en')} {am_pm}"


def _time_kind(language: str, held_out: _HeldOut) -> _Kind:
    def render(value: tuple, rng: np.random.Generator) -> tuple[str, str]:
        hour, minute = value
        source = _vary_case(_english_time(hour, minute, rng), rng)
        target = _clean(format_time(datetime.time(hour, minute), "short", locale=language))
        return source, target

    return _Kind(
        sample=lambda rng: (int(rng.integers(24)), int(rng.integers(60))),
        values=lambda value: [("time", *value)],
        render=render,
    )


_CURRENCY_WORDS = {
    "EUR": ("euro", "euros", "cent", "cents"),
    "USD": ("dollar", "dollars", "cent", "cents"),
}


# What num2words appends for zero cents, stripped from whole amounts.
_ZERO_CENTS = re.compile(r",? (con cero|et zéro|und null|zero) \w+$")


def _currency_kind(language: str, held_out: _HeldOut) -> _Kind:
    def sample(rng: np.random.Generator) -> tuple:
        whole = int(rng.integers(1, 10 ** int(rng.integers(1, 5))))
        cents = 0 if rng.random() < 0.2 else int(rng.integers(1, 100))
        return (("EUR", "USD")[int(rng.integers(2))], whole, cents)

    def render(value: tuple, rng: np.random.Generator) -> tuple[str, str]:
        currency, whole, cents = value
        amount = Decimal(whole) + Decimal(cents) / 100
        one, many, cent_one, cent_many = _CURRENCY_WORDS[currency]
        digits = format_decimal(amount, format="#,##0.00" if cents else "#,##0", locale="en_US")
        whole_words = _english_number_variant(_spell(whole, "en"), rng)
        spoken = f"{whole_words} {one if whole == 1 else many}"
        if cents:
            cent_words = _english_number_variant(_spell(cents, "en"), rng)
            spoken += f" and {cent_words} {cent_one if cents == 1 else cent_many}"
        choices = [
            _clean(format_currency(amount, currency, locale="en_US")),
            f"{digits} {many}",
            f"{currency} {digits}",
            spoken,
            _ZERO_CENTS.sub("", _spell(amount, "en", to="currency", currency=currency)),
        ]
        source = _vary_case(choices[int(rng.integers(len(choices)))], rng)
        target = _spell(amount, language, to="currency", currency=currency)
        return source, _ZERO_CENTS.sub("", target) if not cents else target

    return _Kind(
        sample=sample,
        # The amount, and the whole and cents as numbers: "1,999 euros" shows the words
        # of 1999 as a cardinal would.
        values=lambda value: (
            [("amount", *value[1:]), ("number", value[1])]
            + ([("number", value[2])] if value[2] else [])
        ),
        render=render,
    )


_KIND_BUILDERS = {
    "cardinal": _cardinal_kind,
    "ordinal": _ordinal_kind,
    "year": _year_kind,
    "date": _date_kind,
    "time": _time_kind,
    "currency": _currency_kind,
}


def _allocate(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Integer counts proportional to `shares` that add up to `total` (largest remainder)."""
    exact = {name: total * share for name, share in shares.items()}
    counts = {name: int(value) for name, value in exact.items()}
    by_remainder = sorted(exact, key=lambda name: exact[name] - counts[name], reverse=True)
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def _generate(
    kind: _Kind,
    held_out: _HeldOut,
    split_index: int,
    wanted: int,
    rng: np.random.Generator,
    seen_sources: set[str],
) -> list[tuple[str, str, str]]:
    """Up to `wanted` new (source, target, held_out) rows of one kind that belong to the split.

    ``held_out`` says why a validation or test row is held out: ``"value"`` (a value the
    training split never shows), ``"form"`` (a date form held out for its month, every value
    seen in training) or ``"value+form"``; ``""`` in training. `seen_sources` holds the
    normalised sources of every split, so no two rows anywhere share one.
    """
    made: list[tuple[str, str, str]] = []
    repeats = 0
    # Rejection by split is cheap (no rendering); a run of repeated sources means the
    # domain is used up.
    for _ in range(100 * wanted + 1000):
        if len(made) == wanted or repeats > 200:
            break
        value = kind.sample(rng)
        value_split = held_out.values_split(kind.values(value))
        form_split = kind.form(value)
        if max(value_split, form_split) != split_index:
            continue
        source, target = kind.render(value, rng)
        key = normalise_text(source)
        if key in seen_sources:
            repeats += 1
            continue
        repeats = 0
        seen_sources.add(key)
        why = "+".join(
            name for name, split in (("value", value_split), ("form", form_split)) if split
        )
        made.append((source, target, why))
    return made


def corpus_overlap(splits: dict[str, dict]) -> dict[str, dict]:
    """``{"source": report, "target": report}``: `cross_split_overlap` of the normalised
    sources and targets of `splits` (split name -> columns)."""
    return {
        column: cross_split_overlap({name: rows[column] for name, rows in splits.items()})
        for column in ("source", "target")
    }


def _drop_shared_targets(rows: list[list[tuple]]) -> dict[str, int]:
    """Keep each normalised target in the latest split that has it; drop it from the others.

    Values decide splits, but two date forms that translate alike can hold out different
    months ("November 21, 2026" in test, "21 November 2026" in training, one target): the
    training row goes, so no target is scored that training has shown.
    """
    home: dict[str, int] = {}
    for split_index, split_rows in enumerate(rows):
        for row in split_rows:
            home[normalise_text(row[1])] = split_index
    dropped = {}
    for split_index, split_rows in enumerate(rows):
        kept = [row for row in split_rows if home[normalise_text(row[1])] == split_index]
        dropped[SPLIT_NAMES[split_index]] = len(split_rows) - len(kept)
        rows[split_index] = kept
    return dropped


def generate_corpus(target_language: str, seed: int, size: int) -> dict:
    held_out = _HeldOut(seed)
    kinds = {name: build(target_language, held_out) for name, build in _KIND_BUILDERS.items()}
    split_sizes = _allocate(size, dict(zip(SPLIT_NAMES, SPLIT_FRACTIONS, strict=True)))
    rng = np.random.default_rng(seed)
    rows: list[list[tuple[str, str, str, str]]] = [[], [], []]
    seen_sources: set[str] = set()
    for split_index, split_name in enumerate(SPLIT_NAMES):
        carried = 0
        # Small domains first: what they cannot fill (every ordinal and every spelling of it
        # already used) is carried over to the larger kinds, so the split keeps its size.
        for kind_name, share in _allocate(split_sizes[split_name], _KIND_SHARES).items():
            wanted = share + carried
            made = _generate(kinds[kind_name], held_out, split_index, wanted, rng, seen_sources)
            rows[split_index] += [(source, target, kind_name, why) for source, target, why in made]
            carried = wanted - len(made)

    # Each English string must have one translation; drop any source the forms made ambiguous.
    targets_of: dict[str, set[str]] = {}
    for split_rows in rows:
        for source, target, _, _ in split_rows:
            targets_of.setdefault(source.lower(), set()).add(target)
    ambiguous = {source for source, targets in targets_of.items() if len(targets) > 1}
    rows = [[row for row in split_rows if row[0].lower() not in ambiguous] for split_rows in rows]
    shared_targets_dropped = _drop_shared_targets(rows)

    # Held-out pairs must be translatable in principle: every target word seen in training.
    train_words = {word for _, target, _, _ in rows[0] for word in words(target)}
    dropped = {}
    for split_index in (1, 2):
        kept = [row for row in rows[split_index] if set(words(row[1])) <= train_words]
        dropped[SPLIT_NAMES[split_index]] = len(rows[split_index]) - len(kept)
        rows[split_index] = kept

    splits = {}
    for split_name, split_rows in zip(SPLIT_NAMES, rows, strict=True):
        order = rng.permutation(len(split_rows))
        splits[split_name] = {
            column: [split_rows[i][position] for i in order]
            for position, column in enumerate(("source", "target", "kind", "held_out"))
        }
    # The shifted set phrases test values another way: its targets may be test targets (a
    # time has one target however it is said), never training or validation ones.
    taken_targets = {normalise_text(t) for split_rows in rows[:2] for _, t, _, _ in split_rows}
    splits[OTHER_PHRASINGS] = _other_phrasings(
        target_language,
        held_out,
        np.random.default_rng([seed, 23]),
        min(300, max(20, size // 200)),
        seen_sources,
        taken_targets,
        train_words,
    )
    overlap = corpus_overlap(splits)
    shifted_in_test = overlap["target"].pop(f"test/{OTHER_PHRASINGS}")
    return {
        **splits,
        "info": {
            "source_language": "en",
            "target_language": target_language,
            "kinds": list(KINDS),
            "seed": seed,
            "held_out_date_form_months": held_out.date_form_months,
            "ambiguous_sources_dropped": len(ambiguous),
            "shared_targets_dropped": shared_targets_dropped,
            "unseen_target_words_dropped": dropped,
            "overlap": overlap,
            "other_phrasings_targets_in_test": shifted_in_test["rows"],
        },
    }


def _time_phrasing(hour: int, minute: int, rng: np.random.Generator) -> str | None:
    twelve = hour % 12 or 12
    next_twelve = (hour + 1) % 12 or 12
    # Where a user puts the hour in the day, not the generator's one phrase per hour: 9 pm
    # is "at night" here, and only 0-4 h are in training.
    period = (
        "at night"
        if hour >= 20 or hour < 5
        else "in the morning"
        if hour < 12
        else "in the afternoon"
        if hour < 18
        else "in the evening"
    )
    am_pm = "am" if hour < 12 else "pm"
    words_of = functools.partial(num2words, lang="en")
    choices = [
        f"{twelve}:{minute:02d}{am_pm}",  # no space: "7:15pm"
        f"{hour:02d}{minute:02d} hours",  # "1915 hours"
        f"{words_of(twelve)} {words_of(minute)} {period}" if minute >= 10 else None,
    ]
    if minute == 0:
        choices.append(f"{words_of(hour)} hundred hours")  # "twenty-one hundred hours"
    elif minute >= 10:
        choices.append(f"{words_of(hour)} {words_of(minute)} hours")  # "nineteen fifteen hours"
    if minute == 15:
        choices.append(f"a quarter past {words_of(twelve)} {period}")
    if minute == 45:
        choices.append(f"a quarter to {words_of(next_twelve)} {period}")
    if minute == 30:
        choices.append(f"half {words_of(twelve)} {period}")  # British "half seven"
    if 0 < minute < 30:
        choices.append(f"{minute} minutes past {twelve} {am_pm}")
    if 30 < minute < 60:
        choices.append(f"{60 - minute} minutes to {next_twelve} {am_pm}")
    choices = [choice for choice in choices if choice]
    return choices[int(rng.integers(len(choices)))]


def _cardinal_phrasing(number: int, rng: np.random.Generator) -> str | None:
    choices = []
    if number >= 10_000:
        choices.append(str(number))  # no thousands comma
    if 1_000 < number < 1_000_000 and number % 1000:
        choices.append(f"{number // 1000} thousand {number % 1000}")  # "12 thousand 345"
    if 1_100 <= number < 10_000 and (number // 100) % 10:
        rest = number % 100
        hundreds = f"{num2words(number // 100, lang='en')} hundred"  # "twelve hundred"
        choices.append(f"{hundreds} and {num2words(rest, lang='en')}" if rest else hundreds)
    if not choices:
        return None
    return choices[int(rng.integers(len(choices)))]


def _currency_phrasing(currency: str, whole: int, cents: int, rng: np.random.Generator) -> str:
    one, many, cent_one, cent_many = _CURRENCY_WORDS[currency]
    symbol = {"EUR": "€", "USD": "$"}[currency]
    plural = one if whole == 1 else many
    choices = [f"{whole}.{cents:02d}{symbol}" if cents else f"{whole}{symbol}"]  # after: "12.50€"
    if cents:
        cent_word = cent_one if cents == 1 else cent_many
        choices.append(f"{whole} {plural} {cents} {cent_word}")  # "12 euros 50 cents"
        choices.append(f"{num2words(whole, lang='en')} {plural} {num2words(cents, lang='en')}")
    else:
        choices.append(f"{whole} {plural}")  # "1250 euros": no thousands comma
    return choices[int(rng.integers(len(choices)))]


def _date_phrasing(date: datetime.date, rng: np.random.Generator) -> str:
    month = format_date(date, "MMMM", locale="en")
    day = f"{date.day}{_ordinal_suffix(date.day)}"
    choices = [
        f"{month} the {day}, {date.year}",  # "November the 21st, 2026"
        f"{day} {month} {date.year}",  # "21st November 2026"
        f"{day} of {month}, {date.year}",  # "21st of November, 2026"
        f"{month} {num2words(date.day, lang='en', to='ordinal')}, {date.year}",
    ]
    return choices[int(rng.integers(len(choices)))]


def _other_phrasings(
    language: str,
    held_out: _HeldOut,
    rng: np.random.Generator,
    count: int,
    seen_sources: set[str],
    taken_targets: set[str],
    train_words: set[str],
) -> dict[str, list[str]]:
    """`count` pairs whose English is phrased by another process than the training generator.

    Times ("7:15pm", "twenty-one hundred hours", "a quarter past nine at night"), numbers
    ("12 thousand 345", "twelve hundred and fifty"), amounts ("12.50€", "12 euros 50 cents")
    and long dates ("November the 21st, 2026"), as a user would type them. Every value is one
    held out for test; no normalised source occurs in the corpus's splits, and no normalised
    target in training or validation.
    """
    columns: dict[str, list[str]] = {"source": [], "target": [], "kind": [], "held_out": []}
    shares = _allocate(count, dict.fromkeys(("time", "cardinal", "currency", "date"), 0.25))
    for kind, wanted in shares.items():
        made = 0
        for _ in range(2000 * max(1, wanted)):
            if made == wanted:
                break
            # Values first (cheap), then the phrasing, only for values held out for test.
            if kind == "time":
                value = (int(rng.integers(24)), int(rng.integers(60)))
                keys = [("time", *value)]
            elif kind == "cardinal":
                value = (_digit_count_value(rng, 7),)
                keys = [("number", value[0])]
            elif kind == "currency":
                whole = int(rng.integers(1, 10 ** int(rng.integers(1, 5))))
                cents = 0 if rng.random() < 0.3 else int(rng.integers(1, 100))
                value = (("EUR", "USD")[int(rng.integers(2))], whole, cents)
                keys = [("amount", whole, cents), ("number", whole)]
                keys += [("number", cents)] if cents else []
            else:
                year = int(rng.integers(1900, 2100))
                value = (
                    datetime.date.fromordinal(
                        datetime.date(year, 1, 1).toordinal() + int(rng.integers(0, 365))
                    ),
                )
                keys = [("number", value[0].year), ("day", value[0].month, value[0].day)]
            if held_out.values_split(keys) != 2:
                continue
            if kind == "time":
                source = _time_phrasing(*value, rng)
                target = format_time(datetime.time(*value), "short", locale=language)
            elif kind == "cardinal":
                source = _cardinal_phrasing(value[0], rng)
                target = _spell(value[0], language)
            elif kind == "currency":
                currency, whole, cents = value
                source = _currency_phrasing(currency, whole, cents, rng)
                amount = Decimal(whole) + Decimal(cents) / 100
                target = _spell(amount, language, to="currency", currency=currency)
                target = target if cents else _ZERO_CENTS.sub("", target)
            else:
                source = _date_phrasing(value[0], rng)
                target = format_date(value[0], "long", locale=language)
            if source is None:
                continue
            source, target = _clean(source), _clean(target)
            key, target_key = normalise_text(source), normalise_text(target)
            if key in seen_sources or target_key in taken_targets:
                continue
            if not set(words(target)) <= train_words:
                continue
            seen_sources.add(key)
            taken_targets.add(target_key)
            for column, value in zip(columns, (source, target, kind, "value"), strict=True):
                columns[column].append(value)
            made += 1
    return columns
