"""The subword option end to end: SentencePiece pieces on the host, in the SavedModel graph
and on LiteRT, scored in bits per character."""

import json

import numpy as np
import pytest
import tensorflow as tf

from apps.text_generation.app import TextGenerationApp
from apps.text_generation.runtime import SubwordVocabulary

pytestmark = pytest.mark.slow

PROMPTS = ("The movie was", "", "naïve café ☕ \ufffd", "  two  spaces\tand a tab\n")


@pytest.fixture(scope="module")
def model_dir(train_quick):
    return train_quick("tokenizer=subword", "subword_vocabulary=200")


@pytest.fixture(scope="module")
def predictors(model_dir):
    app = TextGenerationApp()
    return {e: app.load_predictor(model_dir, e) for e in ("litert", "savedmodel", "keras")}


def test_bits_are_counted_per_character_of_the_text(model_dir):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    scores = metrics["metrics"]
    # Pieces hold several characters each: the denominator is the characters, not the ids.
    assert scores["characters"] > 1.3 * scores["tokens"]
    assert json.loads((model_dir / "config.json").read_text())["tokenizer"] == "subword"
    for engine in (metrics["savedmodel"], metrics["litert"]["fp32"]):
        assert engine["bits_per_character"] == pytest.approx(scores["bits_per_character"], 1e-4)
        assert engine["characters"] == scores["characters"]
    # Learning floor (seed 1234, quick preset, 200 pieces): the model measured 3.46 bits per
    # character on the test text, where the unigram model of characters gets 4.61.
    assert (
        scores["bits_per_character"] < 4.0 < metrics["baselines"]["unigram"]["bits_per_character"]
    )
    shifted = scores["held_out"]["sklearn_docs"]
    assert shifted["characters"] > 1.3 * shifted["tokens"]  # pieces on the shifted set too


def test_the_savedmodel_graph_reads_the_pieces_the_host_reads(model_dir, predictors):
    vocabulary = predictors["litert"].vocabulary
    assert isinstance(vocabulary, SubwordVocabulary)
    encode = predictors["savedmodel"].loaded.signatures["encode"]
    for prompt in PROMPTS:
        graph = encode(text=tf.constant(prompt))["token_ids"].numpy()
        np.testing.assert_array_equal(graph, vocabulary.encode_document(prompt)[:-1])
    invalid = b"bad \xff\xfe bytes"
    graph = encode(text=tf.constant(invalid))["token_ids"].numpy()
    host = vocabulary.encode_document(invalid.decode("utf-8", errors="replace"))[:-1]
    np.testing.assert_array_equal(graph, host)


def test_every_engine_writes_the_same_greedy_text_cut_at_the_length(predictors):
    for prompt in PROMPTS:
        texts = {e: p.generate(prompt, 37, temperature=0.0) for e, p in predictors.items()}
        assert texts["litert"] == texts["savedmodel"] == texts["keras"], prompt
        assert len(texts["litert"]) <= 37
    # Sampling past the end of documents: exactly the characters asked for.
    for seed in range(3):
        text = predictors["litert"].generate("I", 41, 1.0, seed=seed, stop_at_end=False)
        assert len(text) == 41
