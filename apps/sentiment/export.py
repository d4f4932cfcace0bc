"""The export graph: the batch-1, fixed-length token-id model converted to LiteRT."""

from __future__ import annotations

import keras

from shared.export import fixed_shape_model


def litert_model(model: keras.Model) -> keras.Model:
    """The batch-1, fixed-length graph that converts with builtin ops: label and rating
    only (an ensemble's members' own outputs are for training)."""
    fixed = fixed_shape_model(model, batch_size=1)
    outputs = fixed(fixed.inputs[0])
    return keras.Model(
        fixed.inputs[0], {"label": outputs["label"], "rating": outputs["rating"]}, name=model.name
    )
