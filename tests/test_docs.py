"""The course as a document: every Python block runs, notebooks execute, pages are complete.

- Every fenced ``python`` block in ``docs/**/*.md`` and ``README.md`` is collected by Sybil
  (root ``conftest.py``): a block that slipped past the collector would be an untested
  claim on the site.
- Both notebooks execute from a clean kernel, and the outputs stored in them (which the site
  shows) are exactly what running them prints now.
- Each lesson carries its widget placeholder and its "Quick check" with feedback on every
  option; every figure a lesson shows is drawn in ``docs/figures/`` (in the lesson's own
  module), and every figure drawn there is shown.

Set ``RLHF_UPDATE_NOTEBOOKS=1`` to rewrite the notebooks' stored outputs from a fresh run.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LESSONS = DOCS / "lessons"
NOTEBOOKS = sorted((DOCS / "notebooks").glob("*.ipynb"))

# An opening fence: optional indentation or blockquote/list prefix (as inside admonitions and
# tabs), three or more backticks or tildes, then the info string.
FENCE_OPEN = re.compile(r"^(?P<indent>[ \t>]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")


def python_fences(text: str) -> list[tuple[int, int]]:
    """(first line, last line), 1-based, of every fenced code block whose language is python."""
    spans = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        close = re.compile(rf"^[ \t>]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        language = re.split(r"[\s{]", info, maxsplit=1)[0].lower() if info else ""
        if language in ("python", "py", "python3", "pycon"):
            spans.append((i + 1, j + 1))
        i = j + 1
    return spans


def markdown_files() -> list[Path]:
    return [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


def test_fence_counter_finds_fences_collectors_miss():
    text = (
        "```python\n>>> 1\n1\n```\n"
        "!!! note\n    ```python\n    x = 1\n    ```\n"
        "```py\nx = 2\n```\n"  # counted: a "py" block would not be run by Sybil
        "```bash\nls\n```\n"
        "````markdown\n```python\nnot real\n```\n````\n"
    )
    assert python_fences(text) == [(1, 4), (6, 8), (9, 11)]


@pytest.fixture(scope="module")
def collected() -> dict[str, list[int]]:
    """Line numbers of the Sybil items pytest collects, per file (relative path)."""
    files = [str(p.relative_to(ROOT)) for p in markdown_files()]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode in (0, 5), proc.stdout[-3000:] + proc.stderr[-3000:]
    items: dict[str, list[int]] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r"^(?P<path>[^:\s]+\.md)::sybil:markdown,line:(?P<line>\d+),", line)
        if m:
            items.setdefault(m.group("path"), []).append(int(m.group("line")))
    return items


def test_every_python_block_is_collected(collected):
    fences_total = 0
    covered_total = 0
    problems = []
    for path in markdown_files():
        rel = str(path.relative_to(ROOT))
        spans = python_fences(path.read_text(encoding="utf-8"))
        lines = collected.get(rel, [])
        fences_total += len(spans)
        for first, last in spans:
            if any(first <= n <= last for n in lines):
                covered_total += 1
            else:
                problems.append(f"{rel}:{first}: python block not collected by Sybil")
        for n in lines:
            if not any(first <= n <= last for first, last in spans):
                problems.append(f"{rel}:{n}: collected example outside any python fence")
    assert not problems, "\n".join(problems)
    assert covered_total == fences_total
    assert fences_total >= 30, f"only {fences_total} python blocks in the course"


# --------------------------------------------------------------------------------------
# Lesson pages: widgets, quizzes, figures
# --------------------------------------------------------------------------------------

LESSON_WIDGETS = {
    "02-human-preferences.md": "preference-game",
    "03-reward-model.md": "reward-training",
    "04-ppo.md": "ppo-sweep",
    "05-pipeline.md": "pipeline",
    "06-dpo.md": "dpo-trainer",
    "07-playground.md": "playground",
    "09-beyond-ppo.md": "method-frontier",
    "10-language-model.md": "lm-align",
}
LESSON_QUIZZES = {
    "01-why-rlhf.md": "next-token",
    "02-human-preferences.md": "bradley-terry",
    "03-reward-model.md": "reward-model",
    "04-ppo.md": "kl-constraint",
    "05-pipeline.md": "pipeline",
    "06-dpo.md": "dpo-advantage",
    "07-playground.md": "reward-hacking",
    "08-takeaways.md": "reference-model",
    "09-beyond-ppo.md": "group-baseline",
    "10-language-model.md": "lm-hacking",
}
LESSON_FILES = [
    "01-why-rlhf.md",
    "02-human-preferences.md",
    "03-reward-model.md",
    "04-ppo.md",
    "05-pipeline.md",
    "06-dpo.md",
    "07-playground.md",
    "08-takeaways.md",
    "09-beyond-ppo.md",
    "10-language-model.md",
]


class _QuizParser(HTMLParser):
    """Collects quizzes: id, question text, options (correct flag, feedback, label)."""

    def __init__(self) -> None:
        super().__init__()
        self.quizzes: list[dict] = []
        self._in_question = False
        self._in_button = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class") or ""
        if tag == "div" and "rlhf-quiz" in cls.split():
            self.quizzes.append({"id": a.get("data-quiz"), "question": "", "options": []})
        elif tag == "p" and "rlhf-quiz-question" in cls.split():
            self._in_question = True
        elif tag == "button" and self.quizzes:
            self.quizzes[-1]["options"].append(
                {
                    "type": a.get("type"),
                    "correct": a.get("data-correct"),
                    "feedback": a.get("data-feedback") or "",
                    "label": "",
                }
            )
            self._in_button = True
        elif tag == "p" and "rlhf-quiz-feedback" in cls.split() and self.quizzes:
            self.quizzes[-1]["live"] = a.get("aria-live")

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_question = False
        if tag == "button":
            self._in_button = False

    def handle_data(self, data):
        if self._in_question and self.quizzes:
            self.quizzes[-1]["question"] += data
        if self._in_button and self.quizzes:
            self.quizzes[-1]["options"][-1]["label"] += data


def test_lesson_files_exist():
    missing = [name for name in LESSON_FILES if not (LESSONS / name).is_file()]
    assert not missing


@pytest.mark.parametrize("name", sorted(LESSON_QUIZZES))
def test_quick_check_quiz(name):
    text = (LESSONS / name).read_text(encoding="utf-8")
    assert "## Quick check" in text
    parser = _QuizParser()
    parser.feed(text)
    assert [q["id"] for q in parser.quizzes] == [LESSON_QUIZZES[name]]
    quiz = parser.quizzes[0]
    assert quiz["question"].strip().endswith("?")
    assert quiz.get("live") == "polite"
    options = quiz["options"]
    assert len(options) >= 3
    assert [o["correct"] for o in options].count("true") == 1
    assert all(o["correct"] in ("true", "false") for o in options)
    assert all(o["type"] == "button" for o in options)
    for o in options:
        assert len(o["feedback"]) > 40, f"thin feedback on option {o['label']!r}"
        assert o["label"].strip()


@pytest.mark.parametrize("name", sorted(LESSON_WIDGETS))
def test_widget_placeholder(name):
    """The widget's box holds its no-script fallback: a sentence and the figure of its
    default run (``figures/widget-NAME.svg``, drawn by docs/figures/widget_fallbacks.py)."""
    text = (LESSONS / name).read_text(encoding="utf-8")
    widgets = re.findall(
        r'<div class="rlhf-widget" data-widget="([a-z-]+)" markdown>\n'
        r'<div class="rlhf-widget-fallback" markdown>\n'
        r"(.+?)\n\n!\[[^\]]+\]\(\.\./figures/widget-([a-z-]+)\.svg\)\n</div>\n</div>\n",
        text,
        re.S,
    )
    assert [(w, fig) for w, _, fig in widgets] == [(LESSON_WIDGETS[name],) * 2]
    assert len(widgets[0][1]) > 60  # the sentence on what the widget does
    assert text.count('class="rlhf-widget"') == 1


def _figures_hook():
    spec = importlib.util.spec_from_file_location(
        "docs_figures_hook", DOCS / "hooks" / "figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _figures_shown() -> dict[str, str]:
    """Figure name -> the page (path under docs/) that shows it."""
    shown = {}
    for path in sorted(DOCS.rglob("*.md")):
        for alt, target in re.findall(
            r"!\[([^\]]*)\]\(([^)]+)\)", path.read_text(encoding="utf-8")
        ):
            m = re.fullmatch(r"(?:\.\./)*figures/([a-z0-9-]+)\.svg", target)
            if m:
                assert len(alt.strip()) > 20, f"{path.name}: figure {target} needs alt text"
                shown[m.group(1)] = path.relative_to(DOCS).as_posix()
    return shown


def test_every_figure_shown_is_drawn_and_every_drawn_figure_is_shown():
    hook = _figures_hook()
    assert set(_figures_shown()) == set(hook.figures())


def test_each_figure_is_drawn_next_to_the_lesson_it_serves():
    """lesson NN's figures in docs/figures/lesson_NN.py, the widgets' default runs in
    widget_fallbacks.py."""
    drawn_in = {
        name: draw.__module__.rsplit(".", 1)[1] for name, draw in _figures_hook().figures().items()
    }
    for name, page in _figures_shown().items():
        lesson = re.fullmatch(r"lessons/(\d\d)-[a-z0-9-]+\.md", page)
        expected = (
            "widget_fallbacks"
            if name.startswith("widget-")
            else f"lesson_{lesson.group(1)}"
            if lesson
            else None
        )
        assert drawn_in[name] == expected, f"{name} (shown in {page}) is drawn in {drawn_in[name]}"


def test_figures_render_deterministically(tmp_path):
    hook = _figures_hook()
    name = "bradley-terry-curve"
    svg = hook.render(name)
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert b"0.88" in svg  # the worked example, computed by the library, is annotated
    assert hook.render(name) == svg


# --------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------


def _comparable(outputs: list) -> list:
    """The text a reader sees: streams and text/plain results (images are not compared)."""
    seen: list[tuple] = []
    for out in outputs:
        if out.get("output_type") == "stream":
            # the kernel splits a stream into chunks by timing: compare the joined text
            text = "".join(out.get("text", ""))
            if seen and seen[-1][:2] == ("stream", out.get("name")):
                seen[-1] = ("stream", out.get("name"), seen[-1][2] + text)
            else:
                seen.append(("stream", out.get("name"), text))
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "image/png" in data or "image/svg+xml" in data:
                seen.append(("image",))
            elif "text/plain" in data:
                seen.append(("text", "".join(data["text/plain"])))
        elif out.get("output_type") == "error":
            seen.append(("error", out.get("ename")))
    return seen


def test_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["dpo-vs-ppo.ipynb", "reward-model-and-ppo.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_and_shows_its_own_outputs(path):
    import nbformat
    from nbclient import NotebookClient

    stored = nbformat.read(path, as_version=4)
    fresh = nbformat.read(path, as_version=4)
    client = NotebookClient(
        fresh, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()  # raises CellExecutionError on any failing cell
    code = [c for c in fresh.cells if c.cell_type == "code"]
    assert code, "notebook has no code"
    for cell in code:
        assert not any(o.get("output_type") == "error" for o in cell.get("outputs", []))
    if os.environ.get("RLHF_UPDATE_NOTEBOOKS") == "1":
        for cell in code:
            cell.metadata.pop("execution", None)
        nbformat.write(fresh, path)
        return
    stored_code = [c for c in stored.cells if c.cell_type == "code"]
    assert [c.source for c in stored_code] == [c.source for c in code]
    for before, after in zip(stored_code, code, strict=True):
        assert _comparable(before.get("outputs", [])) == _comparable(after.outputs), (
            f"{path.name}: stored output of cell {after.source[:60]!r} differs from a fresh run "
            "(rerun with RLHF_UPDATE_NOTEBOOKS=1)"
        )


def test_notebooks_have_download_links():
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        assert f"]({path.name})" in text, f"{path.name}: no download link to itself"


def test_api_reference_lists_every_public_function_and_class():
    import inspect

    import rlhf_mini

    listed: dict[str, str] = {}  # name -> module of the ::: block listing it
    module = None
    for line in (DOCS / "reference.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("::: "):
            module = line[4:].strip()
        elif m := re.fullmatch(r"\s+- ([A-Za-z_]\w*)\s*", line):
            listed[m.group(1)] = module
    public = {
        name
        for name in rlhf_mini.__all__
        if inspect.isfunction(getattr(rlhf_mini, name)) or inspect.isclass(getattr(rlhf_mini, name))
    }
    assert public - set(listed) == set(), "public names missing from docs/reference.md"
    for name, module in listed.items():
        assert hasattr(importlib.import_module(module), name), f"{module}.{name} does not exist"


# --------------------------------------------------------------------------------------
# The architecture page
# --------------------------------------------------------------------------------------


def _layer_imports() -> set[tuple[str, str]]:
    """(A, B) for each subpackage A of rlhf_mini that imports something of subpackage B
    (at module level or inside a function). The package's own ``__init__.py`` (which
    re-exports the public API) is left out; its ``__main__.py`` belongs to the cli."""
    import ast

    library = ROOT / "rlhf_mini"
    edges = set()
    for path in library.rglob("*.py"):
        parts = path.relative_to(library).parts
        if parts == ("__init__.py",):
            continue
        layer = "cli" if parts == ("__main__.py",) else parts[0]
        package = ["rlhf_mini", *parts[:-1]]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                names = [".".join([*base, node.module] if node.module else base)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                target = name.split(".")
                if target[0] == "rlhf_mini" and len(target) > 1 and target[1] != layer:
                    edges.add((layer, target[1]))
    return edges


def test_architecture_diagram_draws_what_the_library_imports():
    """The first diagram of docs/architecture.md: one arrow per layer that imports another,
    and no other arrow (the top-level package, which re-exports everything, is left out)."""
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    source = re.findall(r"```mermaid\n(.*?)```", text, re.S)[0]
    drawn = set(re.findall(r"^\s*(\w+)\s*-->\s*(\w+)\s*$", source, re.M))
    layers = {p.name for p in (ROOT / "rlhf_mini").iterdir() if (p / "__init__.py").is_file()}
    actual = _layer_imports()
    assert {a for edge in actual for a in edge} <= layers
    assert drawn == actual, (
        f"drawn but not imported: {sorted(drawn - actual)}; "
        f"imported but not drawn: {sorted(actual - drawn)}"
    )
    nodes = set(re.findall(r"^\s*(\w+)\[", source, re.M))
    assert nodes == layers  # every layer is on the map
