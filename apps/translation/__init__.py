"""Machine translation: an encoder-decoder GRU with attention, English to Spanish by default."""
