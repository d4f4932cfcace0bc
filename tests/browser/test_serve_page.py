"""The web page in a real headless Chromium (Debian's package, driven by Playwright).

No browser is ever downloaded: Playwright's Python package drives /usr/bin/chromium
(``apt-get install -y chromium``). Screenshots go to test-artifacts/ (git-ignored).

``test_every_tab_answers_its_sample_input`` serves quick-trained models by default. With
``RNNAPPS_BROWSER_MODELS`` set to a models folder it serves that folder's trained models
instead (read only), so the screenshots show the real answers::

    RNNAPPS_BROWSER_MODELS=saved_models pytest tests/browser -k every_tab -s
"""

import base64
import json
import os
import pathlib
import shutil
import tempfile
import time

import pytest

from apps import registry
from apps.serve.server import Settings
from apps.serve.testing import quick_model, request, running_server

CHROMIUM = pathlib.Path("/usr/bin/chromium")
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A synthetic microphone (a beep) that needs no permission prompt, for the record button.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
ANSWER_TIMEOUT_MS = 60_000
# The figure each tab must draw beside its answer (issue 9); the other tabs draw none.
FIGURES = {
    "speech": "log-mel spectrogram",
    "translation": "attention heatmap",
    "captioning": "attention overlay",
    "video": "label over time",
    "forecasting": "history, forecast and anomalies",
    "music": "piano roll",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason="no /usr/bin/chromium (install it: apt-get install -y chromium chromium-driver)",
    ),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.getbasetemp() / "serve-models"  # shared by the serve test modules
    quick_model(base, "sentiment")
    return base


@pytest.fixture(scope="module")
def server(models):
    with running_server(registry, models, settings=Settings(quiet=True, time_limit=60)) as server:
        yield server


@pytest.fixture(scope="module")
def browser_context():
    profile = tempfile.mkdtemp(prefix="rnnapps-chromium-")  # a fresh profile every run
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1100, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def watched_page(browser_context, server):
    """A new page that records console errors, page errors and any request leaving `server`."""
    page = browser_context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))

    def outside(req):
        if not req.url.startswith((server.url, "data:", "blob:")):
            page.problems.append(f"request outside the server: {req.url}")

    page.on("request", outside)
    return page


@pytest.fixture
def page(browser_context, server):
    """A page on the quick-model server (see `watched_page`)."""
    page = watched_page(browser_context, server)
    yield page
    page.close()


def open_tab(page, server, app_name: str):
    page.goto(f"{server.url}#{app_name}")
    page.wait_for_selector("body[data-ready=true]")
    page.click(f"#tab-{app_name}")
    return page.locator(f"#panel-{app_name}")


def run_and_read(page, panel) -> str:
    panel.locator("button.run").click()
    answer = panel.locator(".answer")
    page.wait_for_function(
        "el => ['done', 'error'].includes(el.dataset.state)",
        arg=answer.element_handle(),
        timeout=ANSWER_TIMEOUT_MS,
    )
    assert answer.get_attribute("data-state") == "done", answer.inner_text()
    return answer.locator(".headline").inner_text()


def screenshot(page, name: str) -> pathlib.Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"serve-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_type_a_sentence_and_read_the_sentiment(page, server):
    panel = open_tab(page, server, "sentiment")
    sentence = "What a wonderful, moving film; I loved every minute."
    panel.locator("textarea").fill(sentence)
    label = run_and_read(page, panel)
    status, body, _ = request(
        server, "POST", "/v1/models/sentiment:predict", {"instances": [sentence]}
    )
    assert (
        status == 200 and label == body["predictions"][0]["label"]
    )  # the page shows the API's answer
    assert panel.locator(".bar-row").count() == 3  # negative, neutral, positive
    assert panel.locator("table.metrics tbody tr").count() >= 4  # keras + 3 LiteRT variants
    assert screenshot(page, "sentiment").stat().st_size > 10_000
    assert page.problems == []


def test_a_tab_shows_the_figures_of_the_training_run(page, server):
    panel = open_tab(page, server, "sentiment")
    names = request(server, "GET", "/v1/models/sentiment/metadata")[1]["metadata"]["run_figures"]
    images = panel.locator(".run-figures-block .run-figure img")
    assert len(names) >= 3 and images.count() == len(names)
    assert panel.locator(".run-figure figcaption").all_inner_texts() == names
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()  # loaded lazily, once in view
        page.wait_for_function(
            "el => el.complete && el.naturalWidth > 0", arg=image.element_handle(), timeout=10_000
        )
    assert page.problems == []


def test_an_untrained_app_shows_the_command_that_trains_it(browser_context, tmp_path):
    with running_server(registry, tmp_path) as empty:  # a models folder with nothing trained
        page = browser_context.new_page()
        problems = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        name = registry.names()[0]
        panel = open_tab(page, empty, name)
        command = panel.locator(".untrained-box .command").inner_text()
        assert command == f"rnnapps train {name} --preset demo --out {tmp_path.resolve() / name}"
        assert panel.locator("button.run").count() == 0
        assert page.locator("#tabs .tab.untrained").count() == len(registry.names())
        page.close()
    assert problems == []


def wav_of(word: str, path: pathlib.Path) -> pathlib.Path:
    import soundfile

    from shared.data.espeak import Espeak

    speaker = Espeak()
    soundfile.write(path, speaker.synthesize(word, voice="en-us"), speaker.sample_rate)
    return path


@pytest.mark.skipif("speech" not in registry.names(), reason="the speech app is not built yet")
def test_upload_a_generated_wav_and_read_the_keyword(page, server, models, tmp_path):
    quick_model(models, "speech")
    panel = open_tab(page, server, "speech")
    panel.locator("input.file-input").set_input_files(str(wav_of("yes", tmp_path / "yes.wav")))
    keyword = run_and_read(page, panel)
    from apps.speech.data import LABELS

    assert keyword in LABELS
    figure = panel.locator(".answer img.figure")
    assert figure.count() == 1  # the log-mel spectrogram
    assert base64.b64decode(figure.get_attribute("src").split(",", 1)[1])[:4] == b"\x89PNG"
    screenshot(page, "speech")
    assert page.problems == []


@pytest.mark.skipif("speech" not in registry.names(), reason="the speech app is not built yet")
def test_record_from_the_microphone_and_read_the_keyword(page, server, models):
    quick_model(models, "speech")
    panel = open_tab(page, server, "speech")
    record = panel.locator("button.record")
    record.click()
    page.wait_for_function("el => el.textContent.includes('stop')", arg=record.element_handle())
    page.wait_for_timeout(1200)
    record.click()
    page.wait_for_function(
        "el => el.textContent.startsWith('recording.wav')",
        arg=panel.locator(".file-status").element_handle(),
        timeout=ANSWER_TIMEOUT_MS,
    )
    from apps.speech.data import LABELS

    assert run_and_read(page, panel) in LABELS  # the page's WAV encoding reached the model
    assert page.problems == []


@pytest.mark.skipif("captioning" not in registry.names(), reason="the captioning app is not built")
def test_upload_an_image_and_read_a_caption(page, server, models):
    quick_model(models, "captioning")
    panel = open_tab(page, server, "captioning")
    image = registry.get_app("captioning").sample_inputs[0]
    panel.locator("input.file-input").set_input_files(str(image))
    caption = run_and_read(page, panel)
    assert caption.strip() and caption != "(nothing)"
    assert panel.locator(".answer img.figure").count() == 1  # the attention overlay
    screenshot(page, "captioning")
    assert page.problems == []


@pytest.fixture(scope="module")
def every_app_server(request):
    """A server with every app trained: $RNNAPPS_BROWSER_MODELS's models, else quick ones."""
    folder = os.environ.get("RNNAPPS_BROWSER_MODELS")
    if not folder:
        models = request.getfixturevalue("models")
        for name in registry.names():
            quick_model(models, name)
        yield request.getfixturevalue("server")
        return
    # Only read from: the apps load their predictors; a missing folder is a UserError.
    with running_server(
        registry, pathlib.Path(folder), settings=Settings(quiet=True, time_limit=60)
    ) as server:
        yield server


def give_sample_input(page, panel, name: str, kind: str) -> str:
    """Choose the tab's first example or generated sample, as a user would; what was chosen."""
    buttons = panel.locator("button.example, button.sample")
    if buttons.count():
        buttons.first.click()
    else:  # the page offers none: the app's own sample, typed or uploaded
        sample = next(str(s) for s in registry.get_app(name).sample_inputs if str(s).strip())
        if kind == "text":
            panel.locator("textarea").fill(sample)
        else:
            panel.locator("input.file-input").set_input_files(sample)
    if kind == "text":
        return panel.locator("textarea").input_value()
    status = panel.locator(".file-status")  # the sample is fetched, then read
    page.wait_for_function(
        "el => !el.textContent.startsWith('No file')", arg=status.element_handle()
    )
    return status.inner_text()


def test_every_tab_answers_its_sample_input(browser_context, every_app_server):
    """Each tab in turn, as a user: a sample input, Run, the answer, its figure, the metrics."""
    server = every_app_server
    page = watched_page(browser_context, server)
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    lines = []
    for name in registry.names():
        start = time.monotonic()
        page.click(f"#tab-{name}")
        panel = page.locator(f"#panel-{name}")
        assert panel.is_visible() and page.locator("#panels .panel:visible").count() == 1
        assert panel.locator("button.run").count() == 1, (
            f"{name}: not trained in {server.catalog.models}"
        )
        chosen = give_sample_input(page, panel, name, server.catalog.get(name).kind)
        with page.expect_response(
            f"**/v1/models/{name}:predict", timeout=ANSWER_TIMEOUT_MS
        ) as answered:
            run_and_read(page, panel)  # waits for the answer and asserts it is not an error
        assert answered.value.status == 200
        sent = answered.value.request.post_data_json
        (prediction,) = answered.value.json()["predictions"]
        answer = panel.locator(".answer")
        headline = answer.locator(".headline")
        key = headline.get_attribute("data-key")
        assert isinstance(prediction.get(key), str), prediction
        if server.catalog.get(name).metrics.get("preset") != "quick":
            # Only a trained model must say something: a one-epoch quick translator says "".
            assert prediction[key].strip(), f"{name}: an empty answer"
        shown = prediction["input"] + prediction["text"] if key == "text" else prediction[key]
        assert headline.text_content() == shown  # the page shows the server's answer
        assert json.loads(answer.locator("details pre").text_content()) == {
            field: value for field, value in prediction.items() if field != "figure"
        }
        figure = answer.locator("img.figure")
        if name in FIGURES:
            assert figure.count() == 1, f"{name}: no {FIGURES[name]}"
            png = prediction["figure"]["b64"]
            assert figure.get_attribute("src") == f"data:image/png;base64,{png}"
            assert base64.b64decode(png)[:4] == b"\x89PNG"
            assert figure.evaluate("img => img.complete && img.naturalWidth") > 0  # it drew
        else:
            assert figure.count() == 0
        if name == "sentiment":  # the class probabilities, as bars
            probabilities = prediction["probabilities"]
            assert answer.locator(".bar-row").count() == len(probabilities) >= 2
            assert abs(sum(probabilities.values()) - 1) < 1e-3
        if name == "speech":
            from apps.speech.data import LABELS

            assert prediction["keyword"] in LABELS and "score" in answer.inner_text()
        if name == "text_generation":  # the prompt is the input; these are the tab's options
            assert {"length", "temperature", "top_p"} <= set(sent["parameters"])
        if name == "video":
            assert prediction["label"] in server.catalog.get("video").predictor.classes
        # The measured metrics and sizes from metrics.json.
        assert panel.locator("table.metrics tbody tr").count() >= 4
        assert "MB" in panel.locator("table.metrics").inner_text()
        path = screenshot(page, name)
        assert path.stat().st_size > 10_000
        assert page.problems == [], f"{name}: {page.problems}"
        lines.append(
            f"{name}: {chosen!r} -> {shown!r} in {time.monotonic() - start:.1f} s ({path})"
        )
    print("\n" + "\n".join(lines))  # the answers, with pytest -s
    page.close()
