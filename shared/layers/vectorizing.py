"""What the in-graph vectorizers share: the id lookup and split-then-look-up on strings.

``TextVectorizer`` (words) and ``UnitVectorizer`` (translation units) differ only in their
patterns, lower-casing and reserved ids; both tokenise the same way, here.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def make_lookup(table: list[str]) -> keras.layers.StringLookup:
    """Token -> id: 0 for the empty (padding) string, 1 for unknown, 2... for `table`."""
    return keras.layers.StringLookup(
        vocabulary=table or ["<none>"],  # StringLookup refuses an empty vocabulary
        mask_token="",
        num_oov_indices=1,
        output_mode="int",
        name="lookup",
    )


def split_and_look_up(
    texts: tf.Tensor,
    lookup: keras.layers.StringLookup,
    max_length: int,
    split_off_pattern: str,
    space_run_pattern: str,
) -> tf.Tensor:
    """String tensor [batch] -> int32 ids [batch, max_length], cut or padded with 0.

    Pieces matching `split_off_pattern` become tokens of their own, runs of
    `space_run_pattern` separate tokens, as the host tokenizers' regular expressions do.
    """
    return look_up(split(texts, split_off_pattern, space_run_pattern), lookup, max_length)


def split(texts: tf.Tensor, split_off_pattern: str, space_run_pattern: str) -> tf.RaggedTensor:
    """String tensor [batch] -> its tokens, ragged [batch, (tokens)] (see split_and_look_up)."""
    texts = tf.strings.regex_replace(texts, split_off_pattern, r" \1 ")
    texts = tf.strings.regex_replace(texts, space_run_pattern, " ")
    texts = tf.strings.strip(texts)
    return tf.strings.split(texts, sep=" ")


def look_up(
    tokens: tf.RaggedTensor, lookup: keras.layers.StringLookup, max_length: int
) -> tf.Tensor:
    """Ragged tokens [batch, (tokens)] -> int32 ids [batch, max_length], cut or padded with 0."""
    ids = look_up_ragged(tokens[:, :max_length], lookup)
    return ids.to_tensor(default_value=0, shape=[None, max_length])


def look_up_ragged(tokens: tf.RaggedTensor, lookup: keras.layers.StringLookup) -> tf.RaggedTensor:
    """Ragged tokens [batch, (tokens)] -> their int32 ids, ragged alike (nothing cut)."""
    return tf.cast(tf.ragged.map_flat_values(lookup, tokens), tf.int32)


def windows(ids: tf.RaggedTensor, length: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Ragged ids [batch, (tokens)] -> windows [windows, length] and their owners [windows].

    The in-graph twin of ``WordTokenizer.encode_windows``: a row of n ids gives
    max(1, ceil(n / length)) windows, in order, the last padded with 0; ``owners`` holds the
    row each window is from.
    """
    batch = ids.nrows(out_type=tf.int32)
    counts = tf.maximum((ids.row_lengths() + length - 1) // length, 1)  # windows per row
    most = tf.reduce_max(tf.concat([counts, [1]], axis=0))
    dense = ids.to_tensor(default_value=0)
    dense = tf.pad(dense, [[0, 0], [0, tf.cast(most * length, tf.int32) - tf.shape(dense)[1]]])
    grid = tf.reshape(dense, [batch, -1, length])  # [batch, most, length]
    keep = tf.sequence_mask(counts, tf.shape(grid)[1])
    rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(keep))
    return tf.boolean_mask(grid, keep), tf.cast(tf.boolean_mask(rows, keep), tf.int32)
