"""Music: a melody language model over events (pitch, duration, rest, bar line, a start token
carrying key and metre) that writes new tunes and continues given ones, on device."""
