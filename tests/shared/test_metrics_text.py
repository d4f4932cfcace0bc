import pytest

from shared import metrics_text

HYPOTHESES = ["the cat sat on the mat", "a quick brown fox"]
REFERENCES = ["the cat sat on a mat", "the quick brown fox"]


def test_corpus_bleu_matches_a_hand_computed_value():
    # Clipped n-gram precisions 8/10, 5/8, 3/6, 1/4 -> geometric mean 0.5; equal lengths, no
    # brevity penalty.
    assert metrics_text.corpus_bleu(HYPOTHESES, REFERENCES) == pytest.approx(50.0)
    assert metrics_text.corpus_bleu(REFERENCES, REFERENCES) == pytest.approx(100.0)


def test_corpus_chrf_pins_sacrebleu():
    assert metrics_text.corpus_chrf(HYPOTHESES, REFERENCES) == pytest.approx(75.9775, abs=1e-3)
    assert metrics_text.corpus_chrf(REFERENCES, REFERENCES) == pytest.approx(100.0)


def test_exact_match_counts_whole_strings():
    assert metrics_text.exact_match(HYPOTHESES, REFERENCES) == 0.0
    assert metrics_text.exact_match(["dos ", "tres", "x"], ["dos", "tres", "y"]) == pytest.approx(
        2 / 3
    )


def test_character_error_rate_counts_character_edits():
    # "the" <-> "a" costs 3 edits each way; the references have 20 + 19 characters.
    assert metrics_text.character_error_rate(HYPOTHESES, REFERENCES) == pytest.approx(6 / 39)
    assert metrics_text.character_error_rate(["abc"], ["abd"]) == pytest.approx(1 / 3)


def test_word_error_rate_counts_word_edits():
    assert metrics_text.word_error_rate(HYPOTHESES, REFERENCES) == pytest.approx(2 / 10)
    # One substitution (x -> b) and one insertion (d) over three reference words.
    assert metrics_text.word_error_rate(["a b c d"], ["a x c"]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "metric",
    [
        metrics_text.corpus_bleu,
        metrics_text.corpus_chrf,
        metrics_text.exact_match,
        metrics_text.character_error_rate,
        metrics_text.word_error_rate,
    ],
)
def test_mismatched_or_empty_inputs_are_rejected(metric):
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        metric(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
