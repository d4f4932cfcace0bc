"""Train the keyword model only and print, epoch by epoch, its accuracy on the held-out engine's
validation voices: how augmentation and training length are chosen (issue 24).

    python -m apps.speech.choose RUN_DIR [--preset default] [--set key=value ...]

e.g. ``python -m apps.speech.choose /tmp/base --set transcription=false train_limit=4000
epochs=12``. Nothing is exported or scored on a test split; ``RUN_DIR/result.json`` holds
every epoch's accuracies (``val_<engine>_keyword_accuracy`` is the figure).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

from apps.speech.app import SpeechApp
from apps.speech.config import SpeechConfig
from shared.config import resolve_config
from shared.data.sources import Source
from shared.training import fit, set_seeds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=pathlib.Path)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", nargs="*", default=[], dest="overrides")
    args = parser.parse_args(argv)
    config = resolve_config(SpeechConfig, args.preset, args.overrides)
    set_seeds(config.seed)
    app = SpeechApp()
    started = time.time()
    splits = app.load_data(config, Source("default"))
    model = app.build_model(config, splits)
    train, validation = app.make_datasets(config, splits)
    history = fit(
        model,
        train,
        validation,
        config,
        args.run_dir,
        epoch_metrics=app.epoch_metrics(config, splits),
    )
    result = {
        name: [round(float(value), 4) for value in values]
        for name, values in history.history.items()
        if "accuracy" in name
    }
    result.update(
        seconds=round(time.time() - started), preset=args.preset, overrides=args.overrides
    )
    (args.run_dir / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
