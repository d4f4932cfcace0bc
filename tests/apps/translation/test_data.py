import collections
import datetime
import json

import numpy as np
import pytest
import tensorflow as tf

from apps.translation import data, generator
from shared.data.overlap import assert_no_overlap, cross_split_overlap, normalise_text, overlap_rows
from shared.errors import UserError

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def spanish(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNAPPS_DATA", str(tmp_path_factory.mktemp("data")))
        return data.load_data("default", "es", seed=1234, size=3000)


def rows(splits, split):
    columns = getattr(splits, split)
    return list(zip(columns["source"], columns["target"], columns["kind"], strict=True))


def test_default_has_the_three_columns_every_kind_and_about_the_requested_size(spanish):
    sizes = {split: len(getattr(spanish, split)["source"]) for split in SPLITS}
    # Training loses the few rows whose target a held-out date form also has; validation and
    # test lose a few to the unseen-word rule.
    assert 2370 <= sizes["train"] <= 2400
    assert 280 <= sizes["validation"] <= 300 and 280 <= sizes["test"] <= 300
    for split in SPLITS:
        columns = getattr(spanish, split)
        assert set(columns) == {"source", "target", "kind", "held_out"}
        assert all(isinstance(text, str) and text for text in columns["source"] + columns["target"])
    assert set(spanish.train["kind"]) == set(data.KINDS)
    assert set(spanish.test["kind"]) >= {"cardinal", "year", "date", "time", "currency"}
    assert spanish.info["target_language"] == "es"


def test_default_renders_real_spanish_for_known_values():
    # The public pieces the corpus is made of, pinned on values whose translation is known.
    assert generator._spell(342, "es") == "trescientos cuarenta y dos"
    assert generator._spell(21000, "es") == "veintiún mil"  # num2words alone says "veintiuno mil"
    assert generator._spell(13, "es", to="ordinal") == "decimotercero"
    assert generator._spell(41, "es", to="ordinal") == "cuadragésimo primero"
    assert generator._spell(80, "fr", to="ordinal") == "quatre-vingtième"
    assert generator._english_date(datetime.date(2026, 11, 21), "gb_ordinal") == (
        "the 21st of November 2026"
    )


def test_every_source_has_exactly_one_translation(spanish):
    targets = collections.defaultdict(set)
    for split in SPLITS:
        for source, target, _ in rows(spanish, split):
            targets[source.lower()].add(target)
    assert all(len(found) == 1 for found in targets.values())
    assert spanish.info["ambiguous_sources_dropped"] == 0


def test_no_normalised_source_or_target_is_in_two_splits(spanish):
    splits = {split: getattr(spanish, split) for split in SPLITS}
    splits[data.OTHER_PHRASINGS] = spanish.info[data.OTHER_PHRASINGS]
    for column in ("source", "target"):
        report = cross_split_overlap({name: rows[column] for name, rows in splits.items()})
        if column == "target":
            # Other phrasings of test values may share a test target (19:30 however said).
            report.pop(f"test/{data.OTHER_PHRASINGS}")
        assert_no_overlap(report, what=f"{column}s")
    # The report the corpus carries says the same.
    assert sum(overlap_rows(report) for report in spanish.info["overlap"].values()) == 0


def test_held_out_values_never_reach_training_in_any_kind(spanish):
    # A number held out for test is one in every kind: a test year is never a training
    # cardinal, nor a training date's year, nor a training amount's euros.
    held_out = generator._HeldOut(seed=1234)
    builders = {name: build("es", held_out) for name, build in generator._KIND_BUILDERS.items()}
    train_values = set()
    rng = np.random.default_rng(0)
    for builder in builders.values():
        for _ in range(3000):
            value = builder.sample(rng)
            split = max(held_out.values_split(builder.values(value)), builder.form(value))
            if split == 0:
                train_values.update(builder.values(value))
    test_numbers = [n for n in range(1100, 2100) if held_out.split_of(("number", n)) == 2]
    assert test_numbers and not {("number", n) for n in test_numbers} & train_values
    # And in the corpus itself: a test year's Spanish is nowhere in training.
    train_targets = {target for _, target, _ in rows(spanish, "train")}
    test_years = [t for _, t, k in rows(spanish, "test") if k == "year"]
    assert test_years and not set(test_years) & train_targets
    assert not any(target in train_targets for _, target, _ in rows(spanish, "test"))


def test_every_held_out_row_says_why(spanish):
    for split in ("validation", "test"):
        tags = collections.Counter(getattr(spanish, split)["held_out"])
        assert set(tags) <= {"value", "form", "value+form"}
        assert tags["value"] > tags["form"] > 0
    assert set(spanish.train["held_out"]) == {""}
    test = spanish.test
    form_only = [
        kind for kind, tag in zip(test["kind"], test["held_out"], strict=True) if tag == "form"
    ]
    assert set(form_only) == {"date"}  # only dates have held-out forms


def test_other_phrasings_are_phrased_otherwise_and_hold_test_values(spanish):
    other = spanish.info[data.OTHER_PHRASINGS]
    assert len(other["source"]) == 20  # 3,000 pairs: the smallest set
    assert set(other["kind"]) == {"time", "cardinal", "currency", "date"}
    train_words = {word for target in spanish.train["target"] for word in data.words(target)}
    assert all(set(data.words(target)) <= train_words for target in other["target"])
    training_like = {normalise_text(source) for source in spanish.train["source"]}
    assert not training_like & {normalise_text(source) for source in other["source"]}


def test_other_phrasings_render_what_a_user_types():
    rng = np.random.default_rng(0)
    times = {generator._time_phrasing(21, 0, rng) for _ in range(200)}
    assert {"9:00pm", "2100 hours", "twenty-one hundred hours"} <= times
    quarter = {generator._time_phrasing(21, 15, rng) for _ in range(200)}
    assert "a quarter past nine at night" in quarter and "15 minutes past 9 pm" in quarter
    assert generator._cardinal_phrasing(12345, np.random.default_rng(1)) in (
        "12345",
        "12 thousand 345",
    )
    assert generator._cardinal_phrasing(1250, np.random.default_rng(1)) in (
        "1 thousand 250",
        "twelve hundred and fifty",
    )
    amounts = {generator._currency_phrasing("EUR", 12, 50, rng) for _ in range(100)}
    assert amounts == {"12.50€", "12 euros 50 cents", "twelve euros fifty"}


def test_held_out_date_forms_keep_every_month_spelling_in_training():
    held_out = generator._HeldOut(seed=99)
    forms = list(generator._DATE_FORMS)
    for pair in zip(forms[::2], forms[1::2], strict=True):
        # The two forms sharing a month spelling hold out four different months.
        months = [month for form in pair for month in held_out.date_form_months[form]]
        assert len(set(months)) == 4, pair


def test_held_out_dates_are_split_as_declared(spanish):
    held_out = generator._HeldOut(seed=1234)
    form, (test_month, _) = next(iter(held_out.date_form_months.items()))
    assert held_out.date_form_split(form, test_month) == 2
    # Every test date's day-month pair, year or form-month is held out: none is all-train.
    by_target = {t for _, t, k in rows(spanish, "train") if k == "date"}
    test_dates = [t for _, t, k in rows(spanish, "test") if k == "date"]
    assert test_dates and sum(t in by_target for t in test_dates) < len(test_dates) / 2


@pytest.mark.parametrize("language", ["es", "fr", "de"])
def test_every_held_out_target_word_occurs_in_training(language, tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    splits = data.load_data("default", language, seed=7, size=800)
    train_words = {word for target in splits.train["target"] for word in data.words(target)}
    for split in ("validation", "test"):
        targets = getattr(splits, split)["target"]
        assert targets
        assert all(set(data.words(target)) <= train_words for target in targets)


def test_spanish_and_french_lose_almost_nothing_to_the_unseen_word_rule(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    for language in ("es", "fr"):
        splits = data.load_data("default", language, seed=1234, size=3000)
        dropped = splits.info["unseen_target_words_dropped"]
        assert dropped["test"] <= 15, (language, dropped)  # under 5% of 300


def test_words_splits_digits_and_punctuation():
    expected = ["2", "1", ".", "November", "2", "0", "2", "6", ",", "1", "9", ":", "3", "0"]
    assert data.words("21. November 2026, 19:30") == expected
    assert data.words("vingt et un mille quatre-vingts") == (
        ["vingt", "et", "un", "mille", "quatre", "-", "vingts"]
    )


def test_default_is_deterministic_for_a_seed_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    first = generator.generate_corpus("es", seed=5, size=200)
    again = generator.generate_corpus("es", seed=5, size=200)
    other = generator.generate_corpus("es", seed=6, size=200)
    assert first == again
    assert first["test"]["source"] != other["test"]["source"]
    loaded = data.load_data("default", "es", seed=5, size=200)
    assert loaded.test == first["test"] and loaded.train == first["train"]
    cached = json.loads(next(tmp_path.rglob("corpus.json")).read_text())
    assert cached["test"] == first["test"]


def test_default_varies_the_english_side(spanish):
    sources = [source for source, _, _ in rows(spanish, "train")]
    assert any(source[:1].isupper() and source[1:2].islower() for source in sources)
    assert any(source.isupper() for source in sources)
    assert any(" and " in source for source, _, k in rows(spanish, "train") if k == "cardinal")
    assert any("past" in source for source, _, k in rows(spanish, "train") if k == "time")
    dates = [source for source, _, k in rows(spanish, "train") if k == "date"]
    assert any(source[:1].isdigit() for source in dates)  # 21 November 2026
    assert any(source.startswith("the ") for source in dates)  # the 21st of November 2026


def test_default_rejects_bad_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNAPPS_DATA", str(tmp_path))
    with pytest.raises(UserError, match="target_language 'it'"):
        data.load_data("default", "it", size=100)
    with pytest.raises(UserError, match="size 5"):
        data.load_data("default", "es", size=5)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


TATOEBA = "".join(
    f"Sentence {i}.\tFrase {i}.\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}\r\n"
    for i in range(40)
)


def test_pairs_file_loads_tatoeba_layout_and_splits_by_source(tmp_path):
    # A byte-order mark, CRLF endings, blank lines, two translations of one sentence.
    text = "\ufeff" + TATOEBA + "\n\nSentence 0.\tOtra frase 0.\n"
    path = write(tmp_path / "spa.txt", text)
    splits = data.load_data(f"file:{path}", seed=3)
    all_rows = [row for split in SPLITS for row in rows(splits, split)]
    assert len(all_rows) == 41
    assert ("Sentence 7.", "Frase 7.", "sentence") in all_rows
    sizes = [len(getattr(splits, split)["source"]) for split in SPLITS]
    assert sizes[0] in (32, 33) and sizes[1] == 4 and sizes[2] >= 3
    # Both translations of "Sentence 0." land in the same split.
    homes = [split for split in SPLITS for s, _, _ in rows(splits, split) if s == "Sentence 0."]
    assert len(homes) == 2 and len(set(homes)) == 1
    assert splits.source == f"file:{path}"
    # A bare path works too.
    assert data.load_data(str(path), seed=3).test == splits.test


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hi.\tHola.\nJust one field\n", r"bad\.tsv:2: expected 'source<TAB>target"),
        ("Hi.\tHola.\na\tb\tc\td\n", r"bad\.tsv:2: .*found 4"),
        ("Hi.\tHola.\nHi.\t \n", r"bad\.tsv:2: empty target"),
        ("\tHola.\n", r"bad\.tsv:1: empty source"),
    ],
)
def test_pairs_file_bad_line_names_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "bad.tsv", text)
    with pytest.raises(UserError, match=message):
        data.load_data(str(path))


def test_pairs_file_other_user_errors(tmp_path):
    latin1 = write(tmp_path / "latin1.tsv", "Hi.\tHola.\nYes.\tSí.\n", encoding="latin-1")
    with pytest.raises(UserError, match=r"latin1\.tsv:2: not UTF-8"):
        data.load_data(str(latin1))
    tiny = write(tmp_path / "tiny.tsv", "Hi.\tHola.\nHi.\tBuenas.\n")
    with pytest.raises(UserError, match=r"tiny\.tsv: found 1 distinct source"):
        data.load_data(str(tiny))
    with pytest.raises(UserError, match="expected a tab-separated file"):
        data.load_data(f"file:{tmp_path}")
    with pytest.raises(UserError, match="no-such.tsv"):
        data.load_data(str(tmp_path / "no-such.tsv"))


TED = {
    "train": [("olá mundo", "hello world"), ("obrigado", "thank you"), ("sim", "yes")],
    "validation": [("não", "no")],
    "test": [("bom dia", "good morning"), ("boa noite", "good night")],
}


def test_tfds_ted_loads_portuguese_to_english():
    import tensorflow_datasets as tfds

    def as_dataset(self, split, **kwargs):
        pairs = TED[str(split)]
        return tf.data.Dataset.from_tensor_slices(
            {"pt": [p for p, _ in pairs], "en": [e for _, e in pairs]}
        )

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        splits = data.load_data("tfds:ted_hrlr_translate/pt_to_en")
    for split in SPLITS:
        assert rows(splits, split) == [(p, e, "sentence") for p, e in TED[split]]
    assert splits.source == "tfds:ted_hrlr_translate/pt_to_en"
    assert (splits.info["source_language"], splits.info["target_language"]) == ("pt", "en")


def test_tfds_random_mock_data_gives_text_columns():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        splits = data.load_data("tfds:ted_hrlr_translate/pt_to_en")
    assert [len(getattr(splits, s)["source"]) for s in SPLITS] == [6, 6, 6]
    assert all(isinstance(text, str) for text in splits.train["source"] + splits.train["target"])
    assert np.unique(splits.test["kind"]).tolist() == ["sentence"]


def test_tfds_unknown_dataset_is_a_user_error():
    with pytest.raises(UserError, match="tfds:no_such_dataset_xyz"):
        data.load_data("tfds:no_such_dataset_xyz")


def test_may_dates_have_one_translation_whatever_the_form(spanish):
    # "May" abbreviates to itself, so its medium and long English forms are the same string.
    may = [
        (source, target)
        for split in SPLITS
        for source, target, kind in rows(spanish, split)
        if kind == "date" and "may" in source.lower().split()
    ]
    assert may and all(" de mayo de " in target for _, target in may)
