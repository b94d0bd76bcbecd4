"""The lessons' exercises, checked in CPython exactly as the page's Python checks them.

- Every exercise's reference solution passes its checks (several seeds of fresh inputs), and
  every plausible wrong solution written next to it fails them: no exercise has a check that
  cannot fail.
- A failure is explained in words (the input, the expected and the returned value, a tip),
  never as a bare traceback: syntax errors, exceptions, a missing function, a forbidden call
  of the library's own version, a loop that never ends.
- Each lesson 1-10 places two or three exercises, each exactly once.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "widgets"))
from rlhf_widgets.exercises import (  # noqa: E402
    EXERCISES,
    check_json,
    framework,
    run_check,
)
from rlhf_widgets.exercises.playground import (  # noqa: E402
    SENTENCES,
    reward_and_gap_reference,
    text_case,
)

sys.path.pop(0)

import rlhf_mini as rm  # noqa: E402

IDS = list(EXERCISES)
WRONG = [(ex.id, k) for ex in EXERCISES.values() for k in range(len(ex.wrong))]
PLACEHOLDER = re.compile(r'<div class="rlhf-exercise" data-exercise="([a-z0-9-]+)"></div>')


@pytest.mark.parametrize("exercise_id", IDS)
def test_reference_solution_passes(exercise_id):
    ex = EXERCISES[exercise_id]
    for seed in range(5):
        report = run_check(exercise_id, ex.solution, seed)
        assert report.ok, (seed, report)
        assert (
            report.passed
            == report.total
            == len(ex.targets) * (len(ex.examples) + ex.n_random + len(ex.edges))
        )
    assert "All" in report.message and "checks passed" in report.message


@pytest.mark.parametrize(("exercise_id", "k"), WRONG, ids=[f"{i}-{k}" for i, k in WRONG])
def test_wrong_solution_fails_with_a_message_in_words(exercise_id, k):
    ex = EXERCISES[exercise_id]
    report = run_check(exercise_id, ex.wrong[k].code, seed=0)
    assert not report.ok, f"{exercise_id}: the check misses: {ex.wrong[k].mistake}"
    labels = [label for label, _ in report.details]
    assert labels[0] == "Input" and "Expected" in labels, report
    assert "Your function returned" in labels or "raised" in report.message, report
    assert report.passed < report.total
    assert "Traceback" not in json.dumps(report.to_dict())


def test_every_exercise_has_wrong_solutions_and_two_or_three_per_lesson():
    lessons = sorted(p.stem for p in (ROOT / "docs" / "lessons").glob("[0-9][0-9]-*.md"))
    assert len(lessons) == 10
    per_lesson = {lesson: [] for lesson in lessons}
    for ex in EXERCISES.values():
        per_lesson[ex.lesson].append(ex.id)
        assert ex.wrong and ex.hints and ex.examples, ex.id
        assert ex.starter != ex.solution
    assert all(2 <= len(ids) <= 3 for ids in per_lesson.values()), per_lesson


def test_each_exercise_is_placed_once_in_its_lesson_in_order():
    for path in sorted((ROOT / "docs" / "lessons").glob("*.md")):
        placed = PLACEHOLDER.findall(path.read_text(encoding="utf-8"))
        expected = [ex.id for ex in EXERCISES.values() if ex.lesson == path.stem]
        assert placed == expected, path.name


def test_the_exercises_load_the_language_model_only_when_its_exercise_is_checked():
    """Every lesson page imports the whole exercises package; the transformer (lesson 10's
    reference) is imported by the first check that needs it, not with the package."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT / 'docs' / 'widgets')!r})\n"
        "from rlhf_widgets.exercises import EXERCISES, run_check\n"
        "before = 'rlhf_mini.models.transformer' in sys.modules\n"
        "ok = run_check('lm-sequence-logp', EXERCISES['lm-sequence-logp'].solution, 0).ok\n"
        "print(before, ok, 'rlhf_mini.models.transformer' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True", "True"], done.stdout + done.stderr


@pytest.mark.parametrize("exercise_id", IDS)
def test_starter_code_runs_and_is_reported_as_not_done(exercise_id):
    ex = EXERCISES[exercise_id]
    namespace: dict = {}
    exec(compile(ex.starter, "<starter>", "exec"), namespace)  # runs as the page's Run does
    report = run_check(exercise_id, ex.starter, seed=0)
    assert not report.ok
    assert "returned None" in report.message or "returned one NoneType" in report.message
    assert "`return" in report.tip


def test_code_snippets_are_formatted_like_the_project(tmp_path):
    for ex in EXERCISES.values():
        for kind, code in [("starter", ex.starter), ("solution", ex.solution)] + [
            (f"wrong{k}", w.code) for k, w in enumerate(ex.wrong)
        ]:
            (tmp_path / f"{ex.id.replace('-', '_')}_{kind}.py").write_text(code)
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "format", "--check", "--diff", "--line-length", "100", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


# --- how failures are explained ----------------------------------------------------------


def test_syntax_error_names_the_line():
    report = run_check("bt-probability", "def preference_probability(r_a, r_b)\n    return 1\n")
    assert not report.ok and report.message.startswith("Python could not read your code")
    assert "(line 1)" in report.message
    assert report.details == [("Line", "`def preference_probability(r_a, r_b)`")]


def test_exception_in_the_function_names_the_input_and_the_line():
    code = "def preference_probability(r_a, r_b):\n    x = 1\n    return x / 0\n"
    report = run_check("bt-probability", code, seed=0)
    assert not report.ok
    assert "your function raised ZeroDivisionError: division by zero" in report.message
    assert "line 3: `return x / 0`" in report.message
    assert report.details[0][0] == "Input" and "r_a = " in report.details[0][1]


def test_error_while_defining_is_reported_before_any_check():
    report = run_check("bt-probability", "import numpy as np\nundefined_name\n")
    assert not report.ok and "before the check could call your function" in report.message
    assert report.details == [
        ("Error", "NameError: name 'undefined_name' is not defined on line 2: `undefined_name`")
    ]


def test_missing_function_and_forbidden_library_call():
    report = run_check("bt-loss", "def loss(a, b):\n    return 0\n")
    assert "does not define a function called `bradley_terry_loss`" in report.message
    cheat = (
        "import rlhf_mini as rm\n\n\ndef bradley_terry_loss(r_chosen, r_rejected):\n"
        "    return rm.bradley_terry_loss(r_chosen, r_rejected)\n"
    )
    report = run_check("bt-loss", cheat)
    assert not report.ok and "`bradley_terry_loss` from the library" in report.message
    cheat2 = "from rlhf_mini import bradley_terry_loss as f\n\n\ndef bradley_terry_loss(a, b):\n    return f(a, b)\n"
    assert "from the library" in run_check("bt-loss", cheat2).message


def test_a_loop_that_never_ends_is_stopped(monkeypatch):
    monkeypatch.setattr(framework, "TIME_LIMIT", 0.2)
    before = sys.gettrace()
    code = "def preference_probability(r_a, r_b):\n    while True:\n        pass\n"
    report = run_check("bt-probability", code, seed=0)
    assert not report.ok and "still running after 0.2 seconds" in report.message
    assert "loop" in report.tip
    report = run_check(
        "bt-probability",
        "while True:\n    try:\n        pass\n    except Exception:\n        pass\n",
    )
    assert "still running" in report.message  # an `except Exception` cannot swallow it
    assert sys.gettrace() is before  # the tracer is removed again


def test_shapes_types_and_non_finite_values_are_explained():
    report = run_check(
        "expected-utility", "def expected_utility(p, u):\n    return (p * u).sum()\n"
    )
    assert "Expected shape (2,), got shape ()" in report.message
    report = run_check("expected-utility", "def expected_utility(p, u):\n    return 'two'\n")
    assert "returned a str, not a number or array" in report.message
    report = run_check("gae", "def gae(r, v, gamma, lam):\n    return r\n")
    assert "should return 2 values (advantages, returns)" in report.message
    report = run_check("bt-loss", EXERCISES["bt-loss"].wrong[0].code, seed=0)
    assert "inf (infinity)" in report.message and "finite" in report.tip


def test_prints_and_warnings_of_the_readers_code_do_not_leak(capsys):
    code = (
        "import numpy as np\nprint('top level')\n\n\ndef preference_probability(r_a, r_b):\n"
        "    print('inside')\n    return np.exp(r_a) / (np.exp(r_a) + np.exp(r_b))\n"
    )
    with np.errstate(all="raise"):  # the check sets its own error state
        run_check("bt-probability", code, seed=0)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_fresh_inputs_each_check_and_reproducible_with_a_seed():
    ex = EXERCISES["gae"]
    a = ex.cases(np.random.default_rng(1))
    b = ex.cases(np.random.default_rng(2))
    assert json.dumps(framework.show(a[1].args["rewards"])) != json.dumps(
        framework.show(b[1].args["rewards"])
    )
    assert run_check("gae", ex.wrong[1].code, 3) == run_check("gae", ex.wrong[1].code, 3)


def test_check_json_is_what_the_page_reads():
    out = json.loads(check_json("bt-probability", EXERCISES["bt-probability"].solution))
    assert out["ok"] is True and out["passed"] == out["total"] > 8
    assert set(out) == {"ok", "message", "passed", "total", "details", "tip"}
    out = json.loads(check_json("no-such-exercise", ""))
    assert out["ok"] is False and "unknown exercise" in out["message"]


def test_show_writes_values_as_a_reader_would():
    assert framework.show(np.array([0.5, 1.0, 2.0])) == "[0.5, 1, 2]"
    assert framework.show(np.array([1, 2])) == "[1, 2]"
    assert framework.show(0.1234567891) == "0.123457"
    assert framework.show((np.zeros(2), None)) == "([0, 0], None)"
    assert framework.show(np.arange(1000.0)).count(",") < 20  # long arrays are summarised


def test_reward_gap_reference_is_score_response():
    """The lesson 7 exercise compares with counts; they reproduce rm.score_response."""
    rng = np.random.default_rng(0)
    texts = ["", *SENTENCES]
    texts += [" ".join(rng.choice(SENTENCES, size=int(rng.integers(1, 8)))) for _ in range(40)]
    for text in texts:
        case = text_case(text, "")
        reward, gap = reward_and_gap_reference(*case.args.values())
        score = rm.score_response(text)
        assert reward == pytest.approx(score.reward, abs=1e-12), text
        assert gap == pytest.approx(score.gap, abs=1e-12), text
