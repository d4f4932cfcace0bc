"""Reusable Keras layers: one public class per file, registered for saving."""

from shared.layers.recurrent_layer import CELLS, recurrent_layer
from shared.layers.text_vectorizer import TextVectorizer

__all__ = ["CELLS", "TextVectorizer", "recurrent_layer"]
