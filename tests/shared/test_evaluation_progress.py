"""The progress lines of a run's evaluation: time per engine, count, and an estimate."""

from shared.workflow import EvaluationProgress


def test_each_engine_gets_its_time_the_count_and_an_estimate_of_the_rest():
    ticks = iter([0.0, 10.0, 10.0, 30.0, 30.0, 31.0, 31.0, 40.0])
    progress = EvaluationProgress(
        "demo", ["keras", "savedmodel", "fp32"], clock=lambda: next(ticks)
    )
    lines = []
    for name, counted in (
        ("keras", True),
        ("savedmodel", True),
        ("baselines", False),
        ("fp32", True),
    ):
        started = progress.clock()
        lines.append(progress.line(name, progress.clock() - started, counted))
    assert lines[0] == "demo: keras evaluated in 10 s (1 of 3, about 20 s for the other 2)"
    assert lines[1] == "demo: savedmodel evaluated in 20 s (2 of 3, about 15 s for the other 1)"
    assert lines[2] == "demo: baselines in 1 s"  # not an engine: not counted, no estimate
    assert lines[3] == "demo: fp32 evaluated in 9 s (3 of 3)"


def test_the_step_context_logs_one_line(monkeypatch):
    logged = []
    monkeypatch.setattr("shared.workflow.log", logged.append)
    ticks = iter([5.0, 7.5])
    progress = EvaluationProgress("app", ["keras"], clock=lambda: next(ticks))
    with progress.step("keras"):
        pass
    assert logged == ["app: keras evaluated in 2 s (1 of 1)"]
