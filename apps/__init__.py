"""The six applications of rnn-apps, each built on the ``shared`` library."""
