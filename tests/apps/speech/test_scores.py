"""The keyword figures: per engine, and _unknown_ on words never heard apart from heard ones."""

import numpy as np

from apps.speech import data
from apps.speech.app import keyword_scores


class FixedAnswers:
    """A stand-in predictor answering a fixed label per clip (the clip's first sample)."""

    def scores(self, audio):
        answers = np.asarray(audio)[:, 0].astype(int)
        return np.eye(len(data.LABELS))[answers]


def test_other_words_are_scored_by_whether_training_heard_them():
    unknown, yes = data.UNKNOWN_INDEX, data.LABELS.index("yes")
    rows = {
        # true labels: two keywords, four other words, one silence clip
        "label": np.array([yes, yes, unknown, unknown, unknown, unknown, data.SILENCE_INDEX]),
        "word": ["yes", "yes", "zebra", "zebra", "violin", "wall", ""],
        "engine": ["espeak"] * 6 + ["noise"],
    }
    # answers: a keyword right, one taken for _unknown_; zebra (never heard) once right and
    # once taken for "yes"; violin and wall (heard) both _unknown_; silence right
    answers = [yes, unknown, unknown, yes, unknown, unknown, data.SILENCE_INDEX]
    rows["audio"] = np.array(answers, np.float32)[:, None]
    scores = keyword_scores(FixedAnswers(), rows, never_heard={"zebra"})
    other = scores["other_words"]
    assert other["never_heard"] == {"count": 2, "unknown_recall": 0.5, "false_keyword_rate": 0.5}
    assert other["heard_in_training"] == {
        "count": 2,
        "unknown_recall": 1.0,
        "false_keyword_rate": 0.0,
    }
    assert scores["unknown_rate"] == 0.5  # of the keyword clips, answered _unknown_
    assert scores["accuracy"] == 5 / 7
    # Without the held-out words (or a word column), there is nothing to split.
    assert "other_words" not in keyword_scores(FixedAnswers(), rows)
