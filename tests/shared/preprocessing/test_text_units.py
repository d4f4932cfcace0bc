import numpy as np
import pytest

from shared.preprocessing.text_units import (
    UnitTokenizer,
    build_unit_vocabulary,
    join_units,
    split_units,
)


def test_split_rules():
    assert split_units("Nov 21, 2026", lowercase=True) == [
        "nov", "2", "1", ",", "2", "0", "2", "6",
    ]  # fmt: skip
    assert split_units("sábado ¿Qué? €6", lowercase=True) == [
        "sábado", "¿", "qué", "?", "€", "6",
    ]  # fmt: skip
    assert split_units("ÉCOLE Straße") == ["ÉCOLE", "Straße"]  # only ASCII is lower-cased
    assert split_units("a\u00a0b\u2003c\u202fd") == ["a", "b", "c", "d"]  # any whitespace splits
    assert split_units("  \t ") == []
    assert split_units("o'clock x-y") == ["o", "'", "clock", "x", "-", "y"]


def test_marked_units_restore_the_text():
    texts = [
        "sábado, 6 de marzo de 1993",
        "21. November 2026, 19:30",
        "quatre-vingt-deux €",
        "¿Qué hora es? Son las 7:05 p. m.",
        "##odd ### marks",
    ]
    for text in texts:
        units = split_units(text, mark_attached=True)
        assert join_units(units) == text
        assert [u.removeprefix("##") for u in units] == split_units(text)
    assert split_units("21, 2026", mark_attached=True) == [
        "2",
        "##1",
        "##,",
        "2",
        "##0",
        "##2",
        "##6",
    ]
    assert join_units(split_units("  a   b  ", mark_attached=True)) == "a b"


def test_vocabulary_by_frequency_then_alphabetical_and_room_for_reserved():
    texts = ["b a a", "b a c", "d d"]
    assert build_unit_vocabulary(texts, max_tokens=10, min_count=2) == ["a", "b", "d"]
    # 2 ids for pad and unknown, 2 reserved: room for 1 unit.
    assert build_unit_vocabulary(texts, max_tokens=5, reserved=["<s>", "</s>"]) == ["a"]


def test_encode_decode_with_reserved_ids(tmp_path):
    tokenizer = UnitTokenizer(
        ["de", "1", "##2", "mayo"], max_length=6, mark_attached=True, reserved=["<s>", "</s>"]
    )
    assert tokenizer.vocabulary_size == 8
    assert tokenizer.reserved_id("</s>") == 3
    ids = tokenizer.encode(["12 de mayo", "13 de junio de 2026"])
    np.testing.assert_array_equal(ids, [[5, 6, 4, 7, 0, 0], [5, 1, 4, 1, 4, 1]])
    assert tokenizer.decode([2, 5, 6, 4, 7, 3, 0]) == "12 de mayo"
    assert tokenizer.decode([5, 1, 4]) == "1 <unk> de"  # unknown units stand apart
    assert tokenizer.display_tokens([5, 6, 0]) == ["1", "2", "<pad>"]
    tokenizer.save(tmp_path / "vocabulary.json")
    again = UnitTokenizer.load(tmp_path / "vocabulary.json")
    np.testing.assert_array_equal(again.encode(["12 de mayo"]), ids[:1])


def test_reserved_tokens_cannot_be_typed():
    tokenizer = UnitTokenizer(["a"], max_length=4, reserved=["<end>"])
    assert tokenizer.ids("<end> a") == [1, 1, 1, 3]  # "<", "end", ">" are unknown units


def test_bad_length_is_rejected():
    with pytest.raises(ValueError, match="max_length"):
        UnitTokenizer(["a"], max_length=0)
