"""The on-device runtime: what a ``.tflite`` answer needs on the host, without TensorFlow.

Every module of this package (and every ``apps/<app>/runtime.py``) imports only the
standard library, NumPy, ``ai_edge_litert`` and the light decoders (Pillow, soundfile,
soxr, PyAV), so a device, or an install without the ``train`` extra, can load an exported
model and answer with it. ``tests/test_layers.py`` checks the imports;
``tests/apps/<app>/test_end_to_end.py`` runs each app's runtime in a process where
importing TensorFlow or Keras fails, and checks its answers equal the full stack's.

- ``litert``: ``LiteRTModel``, one ``.tflite`` behind its signature.
- ``base``: ``Predictor`` (a model behind one engine) and ``Runtime`` (an app's LiteRT
  predictor, loaded from a model folder).
- ``answers``: ``answer_each``, the check-each-input, answer-in-batch, put-back loop.
- ``step_decoder``: greedy and beam decoding over an encoder and a decoder step, and those
  as ``.tflite`` files (``LiteRTStepDecoder``): the host side of translation and captioning.
- ``streaming``: ``StreamingSession`` and ``WindowedStream`` (step models and their
  state on the host), ``window_starts``, and the event detector.
"""
