import pytest

from shared.metrics_caption import bleu_scores, corpus_bleu_n


def test_bleu_n_uses_every_reference_and_the_0_1_scale():
    hypotheses = ["a small red circle above a blue square"]
    one = [["a red circle above a blue square"]]
    two = [["a red circle above a blue square", "a small red circle below a square"]]
    # Unigrams: 7 of 8 in the first reference ("small" is not); with the second reference all 8.
    assert corpus_bleu_n(hypotheses, one, 1) == pytest.approx(7 / 8)
    assert corpus_bleu_n(hypotheses, two, 1) == pytest.approx(1.0)
    # Bigrams: "a small", "small red" only in the second; "above a", "a blue" only in the first.
    assert corpus_bleu_n(hypotheses, two, 2) == pytest.approx(1.0)
    assert corpus_bleu_n(hypotheses, two, 4) < 1.0  # "small red circle above" is in neither


def test_bleu_scores_handle_uneven_reference_counts():
    hypotheses = ["a red circle above", "a blue square below"]
    scores = bleu_scores(hypotheses, [["a red circle above"], ["a", "a blue square below"]])
    assert scores == pytest.approx({"bleu1": 1.0, "bleu2": 1.0, "bleu3": 1.0, "bleu4": 1.0})
    with pytest.raises(ValueError, match="at least one reference"):
        bleu_scores(["a"], [[]])
    with pytest.raises(ValueError, match="2 hypotheses but 1"):
        corpus_bleu_n(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="max_order"):
        corpus_bleu_n(["a"], [["a"]], 5)
