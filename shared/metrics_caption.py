"""Caption metrics over whole corpora, each output scored against several references.

BLEU-1 to BLEU-4 come from sacrebleu (13a tokenizer, exponential smoothing, multi-reference
n-gram clipping, closest reference length for the brevity penalty) and are returned on the 0-1
scale captioning papers use (BLEU-4 0.25, not 25). Images may have different numbers of
references; missing ones are ``None`` for sacrebleu.
"""

from __future__ import annotations

from collections.abc import Sequence

from sacrebleu.metrics import BLEU


def _reference_streams(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> list[list[str | None]]:
    hypotheses, references = list(hypotheses), [list(r) for r in references]
    if len(hypotheses) != len(references):
        raise ValueError(
            f"hypotheses and references: {len(hypotheses)} hypotheses "
            f"but {len(references)} reference lists"
        )
    if not hypotheses:
        raise ValueError("hypotheses: empty, need at least one output to score")
    if any(not refs for refs in references):
        raise ValueError("references: every output needs at least one reference")
    most = max(len(refs) for refs in references)
    # sacrebleu wants one stream per reference slot; None where an image has fewer.
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]


def corpus_bleu_n(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], max_order: int = 4
) -> float:
    """Corpus BLEU with n-grams up to `max_order` against several references per output, 0-1.

    Example:
        >>> corpus_bleu_n(["a red circle"], [["a red circle", "a small red circle"]], 2)
        1.0
    """
    if not 1 <= max_order <= 4:
        raise ValueError(f"max_order must be 1 to 4, got {max_order}")
    streams = _reference_streams(hypotheses, references)
    metric = BLEU(max_ngram_order=max_order)
    return float(metric.corpus_score(list(hypotheses), streams).score) / 100.0


def bleu_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict:
    """``{"bleu1": ..., "bleu4": ...}``, each on the 0-1 scale."""
    return {f"bleu{order}": corpus_bleu_n(hypotheses, references, order) for order in (1, 2, 3, 4)}
