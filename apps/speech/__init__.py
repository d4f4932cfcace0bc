"""Speech: keyword spotting with a causal CRNN that streams 20 ms steps, and phrase transcription
with a bidirectional GRU and CTC."""
