"""Text generation: a character-level recurrent language model with controllable sampling."""
