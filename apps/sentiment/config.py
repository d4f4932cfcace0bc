"""Hyper-parameters of the sentiment app."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from shared.config import BaseConfig
from shared.errors import UserError
from shared.layers import CELLS


@dataclasses.dataclass
class SentimentConfig(BaseConfig):
    max_tokens: int = (
        20000  # vocabulary incl. pad and unknown; VADER's corpus has ~25k words seen twice+
    )
    max_length: int = 64  # tokens per text; covers >99% of VADER snippets, fixed for LiteRT
    embedding_dim: int = 128
    cell: str = "gru"  # lstm | gru | simple_rnn
    bidirectional: bool = True  # a snippet is seen whole, so reading it both ways is free
    units: int = 64
    dropout_rate: float = 0.4  # ~19k short snippets: a from-scratch embedding overfits fast
    token_dropout_rate: float = (
        0.1  # words replaced by "unknown" in training: robust to new vocabulary
    )
    weight_decay: float = 1e-4  # decoupled (AdamW): keeps the big embedding table small
    # Each word also carries its VADER lexicon valence (a fixed, non-trained input), and the
    # vocabulary includes every lexicon token: words a writer uses that our training text
    # never had still mean something. Set false to train from the text alone.
    lexicon_prior: bool = True
    rating_loss_weight: float = 1.0  # the regression head (rating / 4) shares the encoder
    neutral_threshold: float = 0.05  # paper protocol: |rating / 4| <= 0.05 is neutral
    train_limit: int = 0  # use at most this many training rows (0 = all): for the quick preset
    test_limit: int = 0  # evaluate on at most this many test rows (0 = all)

    PRESETS: ClassVar[dict] = {
        "quick": dict(
            epochs=1,
            max_tokens=2000,
            embedding_dim=16,
            units=8,
            train_limit=800,
            test_limit=200,
            latency_runs=20,
        ),
        "demo": dict(epochs=6),
        "default": dict(epochs=20, early_stopping_patience=4),
    }

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise UserError(f"--set cell={self.cell}: choose from {', '.join(sorted(CELLS))}")
        for name in ("max_tokens", "max_length", "embedding_dim", "units", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"--set {name}={getattr(self, name)}: must be at least 1")
        for name in ("dropout_rate", "token_dropout_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise UserError(f"--set {name}={getattr(self, name)}: must be in [0, 1)")
