"""How high BLEU can go on the generated scenes, for a caption that knows the scene exactly.

A scene's five references are one draw from the caption grammar (``generator.draw_captions``): it
varies the word order, whether a size or a region is said, and how a relation is phrased. A
caption cannot know which five were drawn, so even one that states every fact right loses
n-grams to wordings the references happened not to use. This module measures that ceiling
with the generator's own knowledge of each test scene, no model involved:

- ``random_grammar_caption``: one fresh draw from the grammar for the scene's objects;
- ``bayes_grammar_caption``: the minimum-Bayes-risk choice: of every wording the grammar
  produces for the scene, the one with the highest mean sentence BLEU-4 against fresh
  five-reference sets drawn the same way, that is, the best guess of what the references say.

Both are scored like the model (corpus BLEU against all five references). Run:

    python -m apps.captioning.ceiling --scenes 1000
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import numpy as np
from sacrebleu.metrics import BLEU

from apps.captioning import data, generator
from shared.metrics_caption import bleu_scores


def bayes_caption(
    objects: Sequence[generator.SceneObject],
    rng: np.random.Generator,
    candidate_draws: int = 40,
    reference_sets: int = 16,
) -> str:
    """The grammar's wording of `objects` with the best expected BLEU-4 against its references.

    Candidates are the distinct captions of `candidate_draws` draws; the expectation is the
    mean sentence BLEU-4 against `reference_sets` fresh draws of five references each.
    """
    candidates = sorted(
        {c for _ in range(candidate_draws) for c in generator.draw_captions(rng, objects)}
    )
    sets = [generator.draw_captions(rng, objects) for _ in range(reference_sets)]
    sentence_bleu = BLEU(max_ngram_order=4, effective_order=True)
    expected = [
        np.mean([sentence_bleu.sentence_score(candidate, refs).score for refs in sets])
        for candidate in candidates
    ]
    return candidates[int(np.argmax(expected))]


def ceiling(split: str = "test", scenes: int = 1000, seed: int = 1234) -> dict:
    """BLEU-1 to 4 of a random and of the Bayes grammar caption on the first `scenes` of `split`.

    The scenes are the first `scenes` of the default corpus's `split` (``generator.split_rows``),
    the split the model is scored on.
    """
    references, random_captions, bayes_captions = [], [], []
    rows = data.corpus_rows(data.DEFAULT_TRAIN_SIZE, seed)[split][:scenes]
    for index in rows:
        scene = generator.split_scene(split, index, seed)
        rng = np.random.default_rng([seed, index, 7])  # draws independent of the references
        references.append(scene.captions)
        random_captions.append(generator.draw_captions(rng, scene.objects)[0])
        bayes_captions.append(bayes_caption(scene.objects, rng))
    return {
        "split": split,
        "scenes": scenes,
        "random_grammar_caption": bleu_scores(random_captions, references),
        "bayes_grammar_caption": bleu_scores(bayes_captions, references),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test", choices=["test", "compositional"])
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    if args.scenes < 1:
        parser.error(f"--scenes {args.scenes}: must be at least 1")
    print(json.dumps(ceiling(args.split, args.scenes, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
