"""The layers of the code: the suite (apps/cli, registry, bench, serve) above the apps, the
apps above the library (shared/), and the runtime (shared/runtime, apps/<app>/runtime.py)
needing nothing a device cannot install."""

import ast
import pathlib
import sys

import pytest

from apps import registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What the base (runtime-only) install brings, beside the standard library.
RUNTIME_PACKAGES = {"numpy", "ai_edge_litert", "PIL", "soundfile", "soxr", "av", "sentencepiece"}


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every module `path` imports at run time (absolute imports; the project uses no others)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):  # `if TYPE_CHECKING:` imports never run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def code_strings(path: pathlib.Path) -> list[str]:
    """String constants that import something (code run by ``python -c`` or ``exec``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and ("import " in node.value)
    ]


def test_the_library_imports_no_app():
    offenders = []
    for path in sorted((ROOT / "shared").rglob("*.py")):
        for name in imported_modules(path):
            if name == "apps" or name.startswith("apps."):
                offenders.append(f"{path.relative_to(ROOT)}: imports {name}")
        for text in code_strings(path):
            if "from apps" in text or "import apps" in text:
                offenders.append(f"{path.relative_to(ROOT)}: runs code importing apps")
    assert not offenders, "\n".join(offenders)


def test_the_scan_finds_an_import_of_the_apps(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('import os\nfrom apps import registry\nCODE = "from apps.cli import main"\n')
    assert "apps" in imported_modules(planted)
    assert any("from apps" in text for text in code_strings(planted))


def _module_path(name: str) -> pathlib.Path | None:
    parts = name.split(".")
    for candidate in (
        ROOT.joinpath(*parts).with_suffix(".py"),
        ROOT.joinpath(*parts, "__init__.py"),
    ):
        if candidate.is_file():
            return candidate
    return None


def runtime_imports(module: str) -> dict[str, str]:
    """Every third-party top-level package `module` needs, following the project's own
    modules: package -> the project module that imports it."""
    needed, seen, todo = {}, set(), [module]
    while todo:
        name = todo.pop()
        path = _module_path(name)
        if path is None or name in seen:
            continue
        seen.add(name)
        parent = name.rsplit(".", 1)[0]
        if parent != name:
            todo.append(parent)  # importing a.b runs a/__init__.py first
        for imported in imported_modules(path):
            top = imported.split(".")[0]
            if top in ("apps", "shared"):
                todo.append(imported)
            elif top not in sys.stdlib_module_names and top != "__future__":
                needed.setdefault(top, name)
    return needed


@pytest.mark.parametrize(
    "module",
    [
        "shared.runtime.litert",
        "shared.runtime.answers",
        "shared.runtime.base",
        "shared.runtime.isolation",
        "apps.registry",
        *(path.split(":")[0] for path in registry.RUNTIMES.values()),
    ],
)
def test_the_runtime_needs_only_the_base_install(module):
    needed = runtime_imports(module)
    extra = {package: by for package, by in needed.items() if package not in RUNTIME_PACKAGES}
    assert not extra, f"{module} needs packages outside the base install: {extra}"


def test_the_runtime_scan_follows_project_modules():
    needed = runtime_imports("shared.workflow")  # the training side: TensorFlow, via imports
    assert "tensorflow" in needed or "keras" in needed


def _figure_modules() -> list[str]:
    """The modules the runtimes name for their figures (``attention_figure``, ``answer_figure``)."""
    modules = []
    for name in registry.RUNTIMES:
        runtime = registry.get_runtime(name) if name in registry.names() else None
        for reference in (
            getattr(runtime, "attention_figure", None),
            getattr(runtime, "answer_figure", None),
        ):
            if reference:
                modules.append(reference.split(":")[0])
    return modules


@pytest.mark.parametrize(
    "module", ["apps.serve", "apps.serve.server", "apps.serve.runner", *_figure_modules()]
)
def test_the_litert_server_needs_only_the_base_install_and_the_serve_extra(module):
    """``rnnapps serve`` (LiteRT) runs on the base install; its figures add the serve extra."""
    needed = runtime_imports(module)
    allowed = RUNTIME_PACKAGES | {"matplotlib", "librosa"}
    extra = {package: by for package, by in needed.items() if package not in allowed}
    assert not extra, f"{module} needs packages outside the base install and serve extra: {extra}"
