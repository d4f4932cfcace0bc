"""``rnnapps bench``: every trained app's quality, speed, size, memory and cost, in one run.

For each app trained in ``saved_models/APP`` (the others get one "not trained" line):

- **Quality**: the app's own ``evaluate`` on its test split through every engine
  (Keras, SavedModel, LiteRT fp32 / fp16 / int8), re-measured now, with the
  ``baselines`` the training run scored on the same split, and the app's controls
  (``App.controls``: video's shuffled frames) as measured now, as ratios
  (ours on LiteRT fp32 / baseline).
- **Every ``*_{variant}.tflite``**: size; latency (median and 90th percentile of
  ``runs`` calls after ``warmup`` calls) on 1 and 2 interpreter threads; floating-point
  operations of one call counted from the flatbuffer (see :class:`FlopCounter`); the
  achieved GFLOP/s (FLOPs / median latency) as a fraction of the machine's
  matrix-multiply throughput on as many threads, measured in the same run (see
  :func:`machine_limits`); peak memory (see :func:`litert_memory`). A model named
  ``step*`` / ``decoder_step*``, or one that takes and returns a recurrent state, runs
  once per time step (streaming, decoding), so its latency is the cost of one step.
- **Inputs**: ``model_<variant>.tflite`` is timed on ``App.latency_inputs`` (one real
  test example) when the app provides it; every other model on synthetic inputs of its
  signature's shapes and dtypes (integers zero, floats drawn from N(0, 1)). The graphs
  have static shapes and fixed loop counts, so their work does not depend on the values.
- **Whole answers**: ``App.latency`` per variant (1 thread): the app's own on-device
  answer, e.g. a greedy decode looping the step model.
- **Per engine**: the size on disk and the peak memory of loading the app's predictor
  and answering one test input, each in a fresh subprocess (skipped with ``quick``).
- **Training**: examples per second and wall time of the recorded run (``metrics.json``);
  from its per-epoch history, the time to reach the app's ``QualityTarget`` on the
  validation split, a Keras metric or one the app logs itself (``App.epoch_metrics``: BLEU,
  weighted F1) (see :func:`time_to_target`) and to its best validation loss (see
  :func:`time_to_best`); with ``train=True`` a short measured run of the trained config
  that splits each step into waiting for the ``tf.data`` iterator and computing.

Writes ``bench/results.json`` and regenerates the block of ``docs/bench.md`` between
:data:`START` and :data:`END`.

The parts, one job each:

- ``common``: settings (quick / full), the page and its markers, small helpers.
- ``machine``: the machine's description and matrix-multiply throughput.
- ``flops``: FLOPs of a ``.tflite`` from its flatbuffer.
- ``models``: LiteRT inputs, latency and memory; an engine's memory in a fresh process.
- ``measure``: one app (``bench_app``), time to target and to best, training throughput.
- ``results``: the whole run (``run``, ``main``), ``results.json`` and the page's block.
- ``cells``: ``rnnapps bench --cells`` and its block in ``docs/lab.md``.
"""

from apps.bench.cells import cells_main
from apps.bench.results import main

__all__ = ["cells_main", "main"]
