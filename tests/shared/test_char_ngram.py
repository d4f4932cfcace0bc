"""Tests for shared/char_ngram.py: interpolated Kneser-Ney character n-gram model."""

import math
import time
from collections import Counter

import numpy as np
import pytest

from shared.char_ngram import CharNgramModel, unigram_entropy
from shared.errors import UserError

_COMMON_WORDS = (
    "the of and to in is was that for it with as his on be at by had are but from not have "
    "this which or one were all they she been her there would when their an more what will "
    "about into if could them him some then these two other than time people only new very"
)
WORDS = _COMMON_WORDS.split()


def synthetic_text(characters: int, seed: int = 0) -> str:
    """Zipf-distributed words with some punctuation: structure an n-gram model can learn."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    count = characters // 4 + 10
    words = np.array(WORDS)[rng.choice(len(WORDS), size=count, p=weights / weights.sum())]
    separators = rng.choice([" ", " ", " ", " ", " ", ", ", ". "], size=count)
    text = "".join(np.char.add(words, separators))
    return text[:characters]


def reference_probability(text: str, order: int, discount: float, char: str, context: str):
    """The same formulas written the slow, obvious way with Counters."""
    vocabulary_size = len(set(text)) + 1
    grams = {
        k: Counter(text[i - k + 1 : i + 1] for i in range(k - 1, len(text)))
        for k in range(1, order + 2)
    }

    def used(k: int, gram: str) -> int:
        if k == order:
            return grams[k][gram]
        return sum(1 for longer in grams[k + 1] if longer[1:] == gram)

    def probability(k: int, history: str) -> float:
        if k == 0:
            return 1.0 / vocabulary_size
        lower = probability(k - 1, history[1:])
        followers = {g: used(k, g) for g in grams[k] if g[:-1] == history}
        total = sum(followers.values())
        if total == 0:
            return lower
        types = sum(1 for value in followers.values() if value > 0)
        count = followers.get(history + char, 0)
        return max(count - discount, 0) / total + discount * types / total * lower

    history = context[max(0, len(context) - order + 1) :] if order > 1 else ""
    return probability(len(history) + 1, history)


@pytest.fixture(scope="module")
def corpus() -> tuple[str, str]:
    return synthetic_text(200_000, seed=1), synthetic_text(50_000, seed=2)


@pytest.mark.parametrize("order", [1, 3, 5])
def test_probabilities_sum_to_one_in_any_context(corpus, order):
    train, _ = corpus
    model = CharNgramModel(order=order).fit(train)
    unknown = "\u2603"
    assert unknown not in model.vocabulary
    contexts = ["", "th", "the ", "of the", "zzzz", "xq", "\u2603\u2603", "a\u00e9", train[:50]]
    for context in contexts:
        total = sum(model.prob(char, context) for char in model.vocabulary)
        total += model.prob(unknown, context)
        assert total == pytest.approx(1.0, abs=1e-9), context
        assert 0.0 < model.prob(unknown, context) < 0.01


def test_matches_a_slow_reference_implementation():
    train = "the cat sat on the mat. the dog sat on the log! a cat, a dog."
    rng = np.random.default_rng(3)
    for order, discount in [(1, 0.75), (3, 0.5), (4, 0.75), (5, 1.0)]:
        model = CharNgramModel(order=order, discount=discount).fit(train)
        for _ in range(40):
            start = int(rng.integers(0, len(train)))
            context = train[max(0, start - int(rng.integers(0, 6))) : start]
            char = str(rng.choice(list("tacz ogx")))
            expected = reference_probability(train, order, discount, char, context)
            assert model.prob(char, context) == pytest.approx(expected, rel=1e-12)


def test_bits_per_character_is_the_mean_of_prob_over_the_text():
    train = synthetic_text(5_000, seed=4)
    text = synthetic_text(300, seed=5) + "\u00e9!"
    model = CharNgramModel(order=4).fit(train)
    expected = -np.mean([math.log2(model.prob(text[i], text[:i])) for i in range(len(text))])
    assert model.bits_per_character(text) == pytest.approx(expected, rel=1e-12)


def test_training_text_scores_better_than_shuffled_text(corpus):
    train, _ = corpus
    model = CharNgramModel().fit(train)
    shuffled = "".join(np.random.default_rng(6).permutation(list(train[:50_000])))
    # Shuffling keeps the character frequencies and destroys the context the model uses.
    assert model.bits_per_character(train[:50_000]) < 0.5 * model.bits_per_character(shuffled)


def test_order_one_is_close_to_the_unigram_entropy(corpus):
    train, _ = corpus
    model = CharNgramModel(order=1).fit(train)
    assert model.bits_per_character(train) == pytest.approx(unigram_entropy(train), abs=0.005)


def test_longer_contexts_lower_held_out_bits_per_character(corpus):
    train, validation = corpus
    scores = [CharNgramModel(order=n).fit(train).bits_per_character(validation) for n in (1, 2, 5)]
    assert scores[0] > scores[1] > scores[2]
    assert scores[2] < 2.0  # the words are predictable once a few letters are known


def test_unseen_characters_get_a_finite_cost():
    model = CharNgramModel(order=3).fit("abababab abba")
    assert np.isfinite(model.bits_per_character("abc\u4e2d\u6587 ab"))
    assert model.prob("z", "ab") == model.prob("\u4e2d", "ab")  # one unknown class
    assert model.vocabulary_size == len(model.vocabulary) + 1 == 4


def test_training_text_shorter_than_the_order_is_still_a_distribution():
    model = CharNgramModel(order=5).fit("ab")
    for context in ["", "a", "abab"]:
        total = model.prob("a", context) + model.prob("b", context) + model.prob("?", context)
        assert total == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("arguments", "name"),
    [({"order": 0}, "order"), ({"order": 2.0}, "order"), ({"discount": 0.0}, "discount")]
    + [({"discount": 1.5}, "discount")],
)
def test_bad_constructor_arguments_raise_value_error(arguments, name):
    with pytest.raises(ValueError, match=name):
        CharNgramModel(**arguments)


def test_misuse_raises_clear_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        CharNgramModel().prob("a", "b")
    with pytest.raises(UserError, match="training text is empty"):
        CharNgramModel().fit("")
    model = CharNgramModel().fit("some text")
    with pytest.raises(UserError, match="evaluation text is empty"):
        model.bits_per_character("")
    with pytest.raises(ValueError, match="next_char"):
        model.prob("ab", "")


def test_fit_and_score_two_megabytes_quickly():
    train = synthetic_text(2_000_000, seed=7)
    validation = synthetic_text(2_000_000, seed=8)
    start = time.perf_counter()
    bits = CharNgramModel(order=5).fit(train).bits_per_character(validation)
    elapsed = time.perf_counter() - start
    print(f"order-5 fit + score of 2 MB + 2 MB: {elapsed:.1f} s, {bits:.3f} bits per character")
    assert elapsed < 60.0
    assert 0.5 < bits < 3.0
