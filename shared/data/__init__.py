"""Data sources: the download-and-verify cache, TFDS, local readers, splits."""
