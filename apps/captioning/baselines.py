"""Captions that need no trained decoder, scored exactly like the model.

- ``sixth_reference`` (generated scenes): one more caption from the grammar that wrote the five
  references, for the scene's true objects: what an annotator who never saw the five writes.
  Scored against all five references, like the model, so the README's ratio is a fair pair.
- ``nearest_neighbour``: the caption of the most similar training image(s): how far
  memorisation alone goes. The image feature and the number of neighbours are chosen on the
  validation split; the test split is read once, with that choice.
- ``constant_caption``: one training caption for every image, chosen on validation among the
  most frequent ones: what a decoder that ignores the image reaches at best.
- ``reference_vs_other_references``: the first reference against the other four. Its figures
  sit under ``references_2_to_5``, beside the model's ``references_2_to_5`` (the model against
  the same four references); scoring it against four while the model has five tilted the
  comparison, so it carries no figure under ``test``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence

import numpy as np

from apps.captioning import generator
from shared.data.splits import Splits
from shared.metrics_caption import bleu_scores, corpus_bleu_n

# The knobs of the nearest-neighbour baseline, all tried on validation.
NN_FEATURES = ("pixels8", "pixels16", "objects8", "objects16")
NN_NEIGHBOURS = (1, 5)


def all_baselines(splits: Splits, config) -> dict:
    scene = "shapes" in splits.info
    sets = {"test": splits.test, **splits.extra}
    results: dict = {}
    if scene:
        results["sixth_reference"] = sixth_reference(splits, config.split_seed)
    if not len(splits.validation["captions"]) or not len(splits.train["captions"]):
        # Nothing to tune on (a tiny folder of images): only the untuned baseline below.
        return results | {"reference_vs_other_references": _reference_baseline(sets)}
    results["nearest_neighbour"] = nearest_neighbour(splits, scene)
    constant = constant_caption(splits.train["captions"], splits.validation["captions"])
    results["constant_caption"] = {
        "description": (
            "one training caption written for every image, the best on validation of the "
            "most frequent ones (and the most frequent of each length): the image-blind level"
        ),
        "tuned_on": "validation",
        **constant,
        **{
            name: _scores(
                [constant["chosen"]["caption"]] * len(columns["captions"]),
                columns["captions"],
                scene,
            )
            for name, columns in sets.items()
        },
    }
    results["reference_vs_other_references"] = _reference_baseline(sets)
    return results


def _reference_baseline(sets: dict) -> dict:
    usable = {
        name: [refs for refs in columns["captions"] if len(refs) >= 2]
        for name, columns in sets.items()
    }
    return {
        "description": (
            "the first reference against the other four; compare with the model's "
            "references_2_to_5 (the model against the same four references)"
        ),
        "tuned_on": "not tuned",
        # The key of each engine's figures that holds the model against the same references.
        "compare_with": "references_2_to_5",
        "references_2_to_5": {
            name: bleu_scores([refs[0] for refs in rows], [refs[1:] for refs in rows])
            for name, rows in usable.items()
            if rows
        },
    }


def _scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]], scene: bool) -> dict:
    from apps.captioning.app import caption_scores  # the app module imports this one

    return caption_scores(hypotheses, references, scene)


def sixth_reference(splits: Splits, seed: int) -> dict:
    """One fresh grammar caption per scene of the test split and the compositional split."""
    result: dict = {
        "description": (
            "one more caption from the grammar that wrote the references, knowing the scene's "
            "objects (an annotator, not a model), against all five references"
        ),
        "tuned_on": "not tuned",
        "chosen": {},
    }
    for name, split in (("test", "test"), ("compositional", "compositional")):
        columns = splits.test if name == "test" else splits.extra.get(name)
        if columns is None or "scene_index" not in columns:
            continue
        hypotheses = []
        for index in columns["scene_index"]:
            scene = generator.scene_metadata(split, int(index), seed)
            # A stream of its own: independent of the draw that wrote the references.
            rng = np.random.default_rng([seed, generator._SPLIT_CODES[split], int(index), 7])
            hypotheses.append(generator.draw_captions(rng, scene.objects)[0])
        result[name] = _scores(hypotheses, columns["captions"], scene=True)
    return result


def constant_caption(
    train: Sequence[Sequence[str]], validation: Sequence[Sequence[str]], top: int = 40
) -> dict:
    """The training caption that, written for every validation image, scores the best BLEU-4.

    Candidates: the `top` most frequent training captions and the most frequent caption of
    every length in words (long captions are rarer, but BLEU's brevity penalty favours them).
    Returns ``{"chosen": {"caption": ...}, "candidates": n, "validation_bleu4": best}``.
    """
    counts = Counter(c for refs in train for c in refs)
    candidates = [caption for caption, _ in counts.most_common(top)]
    by_length: dict[int, str] = {}
    for caption, _ in counts.most_common():
        by_length.setdefault(len(caption.split()), caption)
    candidates += [c for c in by_length.values() if c not in candidates]
    scored = [
        (corpus_bleu_n([caption] * len(validation), validation), -rank)
        for rank, caption in enumerate(candidates)
    ]
    best, rank = max(scored)  # a tie goes to the more frequent caption
    caption = candidates[-rank]
    return {"chosen": {"caption": caption}, "candidates": len(candidates), "validation_bleu4": best}


# ---------------------------------------------------------------- nearest neighbour


def image_features(images: np.ndarray, kind: str, chunk: int = 1000) -> np.ndarray:
    """Unit-length features of uint8 images [n, 64, 64, 3] for cosine similarity.

    ``pixelsN``: the image averaged down to N x N, less its mean. ``objectsN``: the same after
    blanking every pixel near the image's median colour (the background), so the objects
    decide.
    """
    name = kind.rstrip("0123456789")
    size = int(kind[len(name) :])
    if name not in ("pixels", "objects"):
        raise ValueError(f"unknown feature {kind!r}")
    parts = []
    for start in range(0, len(images), chunk):
        pixels = np.asarray(images[start : start + chunk], np.float32) / 255.0
        if name == "objects":
            median = np.median(pixels.reshape(len(pixels), -1, 3), axis=1)[:, None, None, :]
            pixels = pixels * (np.linalg.norm(pixels - median, axis=-1, keepdims=True) > 0.2)
        block = pixels.shape[1] // size
        pooled = pixels.reshape(len(pixels), size, block, size, block, 3).mean(axis=(2, 4))
        flat = pooled.reshape(len(pixels), -1)
        if name == "pixels":
            flat = flat - flat.mean(axis=1, keepdims=True)
        parts.append(flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-6))
    return np.concatenate(parts) if parts else np.empty((0, size * size * 3), np.float32)


def _ngrams(caption: str) -> list[set]:
    words = caption.split()
    return [set(zip(*(words[k:] for k in range(n)), strict=False)) for n in (1, 2, 3, 4)]


def consensus_caption(candidates: Sequence[str]) -> str:
    """The candidate most like the others: highest mean n-gram (1-4) Dice overlap with them."""
    if len(candidates) == 1:
        return candidates[0]
    grams = [_ngrams(c) for c in candidates]
    totals = np.zeros(len(candidates))
    for i, j in itertools.combinations(range(len(candidates)), 2):
        overlap = sum(
            2 * len(a & b) / (len(a) + len(b))
            for a, b in zip(grams[i], grams[j], strict=True)
            if a or b
        )
        totals[i] += overlap
        totals[j] += overlap
    return candidates[int(np.argmax(totals))]


def nearest_captions(
    train_features: np.ndarray,
    train_captions: Sequence[Sequence[str]],
    features: np.ndarray,
    neighbours: int,
    chunk: int = 256,
) -> list[str]:
    """For each row of `features`, the consensus caption of its `neighbours` nearest training
    images (cosine similarity), over all their references."""
    captions = []
    for start in range(0, len(features), chunk):
        similarity = features[start : start + chunk] @ train_features.T
        neighbours = min(neighbours, len(train_features))
        nearest = np.argpartition(-similarity, neighbours - 1, axis=1)[:, :neighbours]
        for row in nearest:
            candidates = [c for index in row for c in train_captions[index]]
            captions.append(consensus_caption(candidates))
    return captions


def nearest_neighbour(splits: Splits, scene: bool) -> dict:
    """Every (feature, neighbours) scored by BLEU-4 on validation; the best one on the test
    split and on each held-out set."""
    train_captions = splits.train["captions"]
    validation: dict[str, float] = {}
    features_of: dict[str, np.ndarray] = {}
    best = None
    for kind in NN_FEATURES:
        features_of[kind] = image_features(splits.train["image"], kind)
        valid = image_features(splits.validation["image"], kind)
        for neighbours in NN_NEIGHBOURS:
            hypotheses = nearest_captions(features_of[kind], train_captions, valid, neighbours)
            bleu4 = bleu_scores(hypotheses, splits.validation["captions"])["bleu4"]
            validation[f"{kind}, {neighbours} neighbours"] = bleu4
            if best is None or bleu4 > best[0]:
                best = (bleu4, kind, neighbours)
    _, kind, neighbours = best
    result = {
        "description": (
            "the consensus caption of the most similar training images (cosine similarity of "
            "a cheap image feature): what memorisation alone reaches"
        ),
        "tuned_on": "validation",
        "chosen": {"feature": kind, "neighbours": neighbours},
        "validation_bleu4": validation,
    }
    for name, columns in {"test": splits.test, **splits.extra}.items():
        hypotheses = nearest_captions(
            features_of[kind], train_captions, image_features(columns["image"], kind), neighbours
        )
        result[name] = _scores(hypotheses, columns["captions"], scene)
    return result
