"""Text generation: a recurrent language model over characters or subword pieces (the default),
with controllable sampling."""
