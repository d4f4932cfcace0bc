"""Video classification: a per-frame CNN and a recurrent network over time that name a motion."""
