"""A non-recurrent baseline: logistic regression on time-pooled frame-difference features.

What a model gets without a recurrent network reading frames in order: every pair of
consecutive frames gives a few numbers (the least-squares affine motion of what changed,
as ``GlobalMotion`` fits it, and where the change is), and these are averaged over the
whole clip and over its first and second halves, beside coarse maps of where the frames
changed early and late. Logistic regression reads them; its regularisation ``C`` is
chosen on the validation split. NumPy and scikit-learn only.
"""

from __future__ import annotations

import numpy as np

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
_CHUNK = 128  # clips per batch of feature computation (bounded memory)
_MAP_CELLS = 8  # the activity maps are 8x8


def motion_features(frames: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Float ``[clips, features]`` of uint8 clips ``[clips, time, h, w, 3]`` (see the module)."""
    return np.concatenate(
        [
            _chunk_features(frames[start : start + _CHUNK], lengths[start : start + _CHUNK])
            for start in range(0, len(frames), _CHUNK)
        ]
    )


def _chunk_features(frames: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    clips, time, height, width, _ = frames.shape
    grey = frames.astype(np.float32).mean(axis=-1) / 255.0
    grey = grey.reshape(clips, time, height // 2, 2, width // 2, 2).mean(axis=(3, 5))  # 2x down
    change = grey[:, 1:] - grey[:, :-1]  # [clips, pairs, h, w]
    middle = (grey[:, 1:] + grey[:, :-1]) / 2
    gy, gx = np.gradient(middle, axis=(2, 3))
    weight = np.abs(change)
    weight = weight / (weight.sum(axis=(2, 3), keepdims=True) + 1e-6)
    rows, columns = np.indices(change.shape[2:], dtype=np.float32)
    cy = (weight * rows).sum(axis=(2, 3))  # [clips, pairs]: the centre of what changed
    cx = (weight * columns).sum(axis=(2, 3))
    x = (columns - cx[..., None, None]) / 16.0
    y = (rows - cy[..., None, None]) / 16.0
    # Brightness constancy with an affine flow around that centre: change = -grad . v.
    design = np.stack([gx, gx * x, gx * y, gy, gy * x, gy * y], axis=-1)  # [.., h, w, 6]
    weighted = design * weight[..., None]
    normal = np.einsum("cphwi,cphwj->cpij", weighted, design) + 1e-6 * np.eye(6)
    target = -np.einsum("cphwi,cphw->cpi", weighted, change)
    flow = np.linalg.solve(normal, target[..., None])[..., 0]  # [clips, pairs, 6]
    per_pair = np.stack(
        [
            flow[..., 0],  # shift x
            flow[..., 3],  # shift y
            flow[..., 1] + flow[..., 5],  # divergence (growing)
            flow[..., 4] - flow[..., 2],  # curl (turning)
            cx / change.shape[3],
            cy / change.shape[2],
            np.abs(change).mean(axis=(2, 3)),
        ],
        axis=-1,
    )
    pairs = np.arange(time - 1)
    real = pairs[None, :] < (np.asarray(lengths)[:, None] - 1)  # [clips, pairs]
    half = np.maximum(np.asarray(lengths) - 1, 2)[:, None] // 2
    early, late = real & (pairs[None] < half), real & (pairs[None] >= half)
    pooled = [_masked_mean(per_pair, mask) for mask in (real, early, late)]
    maps = [
        _masked_mean(_cells(np.abs(change)).reshape(clips, time - 1, -1), mask)
        for mask in (early, late)
    ]
    return np.concatenate(pooled + maps, axis=-1)


def _cells(images: np.ndarray) -> np.ndarray:
    """Mean over a coarse grid: ``[.., h, w]`` -> ``[.., 8, 8]``."""
    *lead, height, width = images.shape
    cell_h, cell_w = height // _MAP_CELLS, width // _MAP_CELLS
    trimmed = images[..., : cell_h * _MAP_CELLS, : cell_w * _MAP_CELLS]
    return trimmed.reshape(*lead, _MAP_CELLS, cell_h, _MAP_CELLS, cell_w).mean(axis=(-3, -1))


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of ``[clips, pairs, k]`` over the pairs where `mask` ``[clips, pairs]`` holds."""
    weights = mask[..., None].astype(np.float32)
    return (values * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)


def tune_and_score(
    features: dict[str, np.ndarray], labels: dict[str, np.ndarray]
) -> tuple[float, dict[str, float], object]:
    """Fit logistic regression on ``train`` for every C of `C_GRID`; keep the best on
    ``validation`` (the smaller C on a tie). Returns (C, validation accuracy per C, model)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tried, best = {}, None
    for c in C_GRID:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
        model.fit(features["train"], labels["train"])
        tried[c] = float(np.mean(model.predict(features["validation"]) == labels["validation"]))
        if best is None or tried[c] > tried[best[0]]:
            best = (c, model)
    return best[0], tried, best[1]
