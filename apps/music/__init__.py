"""Music: melodies as events (pitch, duration, rest, bar line) from real tunes; data layer so far."""
