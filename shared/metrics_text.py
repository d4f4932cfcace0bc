"""Text metrics over whole corpora: BLEU and chrF (sacrebleu), exact match, CER and WER (jiwer).

Every function takes the model's outputs first and one reference per output second, both as
sequences of strings of the same length. BLEU and chrF are on sacrebleu's 0-100 scale, as
papers report them; exact match, CER and WER are fractions (CER and WER can exceed 1 when the
output is much longer than the reference).
"""

from __future__ import annotations

from collections.abc import Sequence

import jiwer
import sacrebleu


def _checked(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list, list]:
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(
            f"hypotheses and references: {len(hypotheses)} hypotheses "
            f"but {len(references)} references"
        )
    if not hypotheses:
        raise ValueError("hypotheses: empty, need at least one pair to score")
    return hypotheses, references


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu defaults: 13a tokenizer, 4-grams, exponential smoothing), 0-100."""
    hypotheses, references = _checked(hypotheses, references)
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (character 6-grams, beta 2), 0-100; kinder than BLEU to short outputs."""
    hypotheses, references = _checked(hypotheses, references)
    return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of outputs equal to their reference after trimming surrounding whitespace."""
    hypotheses, references = _checked(hypotheses, references)
    matches = sum(h.strip() == r.strip() for h, r in zip(hypotheses, references, strict=True))
    return matches / len(hypotheses)


def character_error_rate(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Character edits (substitutions, deletions, insertions) over reference characters."""
    hypotheses, references = _checked(hypotheses, references)
    return float(jiwer.cer(reference=references, hypothesis=hypotheses))


def word_error_rate(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Word edits (substitutions, deletions, insertions) over reference words."""
    hypotheses, references = _checked(hypotheses, references)
    return float(jiwer.wer(reference=references, hypothesis=hypotheses))
