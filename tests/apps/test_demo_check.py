"""The demo's "right?" column: each app's sample check says yes to a right answer and no to
a wrong one, from references made independently of the models."""

import datetime
import types

import pytest
from babel.dates import format_date, format_time
from num2words import num2words

from apps import cli, registry
from apps.translation import runtime as translation_runtime


def test_the_translation_references_are_what_num2words_and_babel_say():
    references = translation_runtime.SAMPLE_REFERENCES
    assert set(references) == set(translation_runtime.TranslationRuntime.sample_inputs)
    assert references["three hundred forty-two"] == num2words(342, lang="es")
    assert references["two thousand and twenty-six"] == num2words(2026, lang="es")
    assert references["November 21, 2026"] == format_date(
        datetime.date(2026, 11, 21), "long", locale="es"
    )
    assert references["quarter past seven in the evening"] == format_time(
        datetime.time(19, 15), "short", locale="es"
    )
    assert references["$1,250.99"] == num2words(1250.99, lang="es", to="currency", currency="USD")


def spanish():
    return types.SimpleNamespace(config=types.SimpleNamespace(target_language="es"))


@pytest.mark.parametrize(
    ("name", "raw", "right", "wrong"),
    [
        ("sentiment", "an utterly charming film", {"label": "positive"}, {"label": "negative"}),
        (
            "sentiment",
            "The council will meet on Tuesday to discuss the budget.",
            {"label": "neutral"},
            {"label": "positive"},
        ),
        ("speech", "data/speech_samples/yes.wav", {"keyword": "yes"}, {"keyword": "_unknown_"}),
        ("video", "clips/grow.mp4", {"label": "grow"}, {"label": "shrink"}),
        (
            "translation",
            "quarter past seven in the evening",
            {"translation": "19:15"},
            {"translation": "19:55"},
        ),
    ],
)
def test_a_right_answer_is_yes_and_a_wrong_one_no(name, raw, right, wrong):
    app = registry.get_app(name)
    assert app.sample_check(spanish(), raw, right) is True
    assert app.sample_check(spanish(), raw, wrong) is False


def test_a_caption_is_right_when_it_names_the_objects_of_a_reference():
    from apps.captioning import generator

    app = registry.get_app("captioning")
    references = generator.make_scene(11).captions
    raw = "data/captioning_samples/scene_11.png"
    assert app.sample_check(None, raw, {"caption": references[0]}) is True
    other = next(
        caption
        for seed in range(100, 200)
        for caption in generator.make_scene(seed).captions
        if app.sample_check(None, raw, {"caption": caption}) is False
    )
    assert other not in references
    assert app.sample_check(None, raw, {"caption": "nothing here"}) is False


def test_apps_that_cannot_know_say_so():
    for name in ("text_generation", "forecasting"):
        app = registry.get_app(name)
        assert app.sample_check(None, "The movie was", {"text": "x"}) is None


def test_the_demo_table_marks_wrong_answers_and_counts_them(capsys):
    rows = [
        ("translation", "quarter past seven in the evening", "NO", "19:55"),
        ("sentiment", "an utterly charming film", "yes", "positive (0.97)"),
        ("text_generation", "The movie was", "–", "..."),
    ]
    assert cli.print_demo_table(rows) == 1
    out = capsys.readouterr().out
    assert "right?" in out and "1 sample answer is wrong" in out
    line = next(line for line in out.splitlines() if line.startswith("translation"))
    assert " NO " in line


def test_the_demo_ends_with_where_the_figures_are_and_how_to_see_them(tmp_path, capsys):
    folder = tmp_path / "sentiment"
    folder.mkdir()
    for name in ("training_curves.png", "scores_by_domain.png", "metrics.json"):
        (folder / name).write_bytes(b"")
    cli.print_figures({"sentiment": folder, "video": tmp_path / "video"})
    lines = capsys.readouterr().out.splitlines()
    assert f"{folder}/: scores_by_domain.png, training_curves.png" in lines[2]
    assert "video" in lines[3] and "(none)" in lines[3]
    assert "rnnapps serve" in lines[-1] and "http://127.0.0.1:8000/" in lines[-1]
