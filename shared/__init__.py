"""The common library of rnn-apps: layers, preprocessing, data, training, export."""
