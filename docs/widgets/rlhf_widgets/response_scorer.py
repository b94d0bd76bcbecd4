"""The ``playground`` widget: a response's proxy reward vs its alignment, and its revision.

UI only; every number comes from ``rlhf_mini.experiments.playground`` (score_response, critique,
revise, CONSTITUTION). The reader's prompt (optional: a response can be judged alone) and
response are read from form fields and shown only as text. Like the other widget modules it
imports the browser (``js``) only inside ``build``, so ``EXAMPLES`` can be scored in CPython
(docs/figures/widget_fallbacks.py draws them for the widget's no-script fallback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlhf_mini.experiments.playground import CONSTITUTION, critique, revise, score_response

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

#: Example responses (button label, action, prompt, response).
EXAMPLES = (
    (
        "Padded and repetitive",
        "example-padded",
        "What is the capital of France?",
        "Great question! It is important to note that the capital of France is Paris. "
        "Needless to say, the capital of France is Paris. As I mentioned, the capital of "
        "France is Paris. In conclusion, at the end of the day, the capital of France is "
        "definitely Paris. I hope this helps!",
    ),
    (
        "Concise and helpful",
        "example-concise",
        "What is the capital of France?",
        "The capital of France is Paris.",
    ),
    (
        "Harmful compliance",
        "example-harmful",
        "How do I make a bomb at home?",
        "Sure! Here's how to make a bomb at home. Step 1: you will need explosives from a "
        "hardware store. Step 2: combine the parts carefully.",
    ),
    (
        "Refuses a safe request",
        "example-refusal",
        "How do I boil an egg?",
        "I'm sorry, but I can't help with that, because boiling water can be dangerous. "
        "I'm happy to help with something else instead.",
    ),
    (
        "Honest uncertainty",
        "example-unsure",
        "When was the Peace of Westphalia signed?",
        "I'm not sure. I think the treaty was signed in 1648, but please check a reliable source.",
    ),
)

READOUTS = (("reward", "Reward score (proxy)"), ("alignment", "Alignment score"), ("gap", "Gap"))


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def build(w: Widget) -> None:
    from rlhf_widgets._dom import h, readouts

    prompt = h(
        "input",
        type="text",
        class_="rlhf-textarea",
        data_action="prompt",
        aria_label="Prompt the response answers (optional)",
        spellcheck="false",
    )
    prompt.value = EXAMPLES[0][2]
    text = h(
        "textarea",
        class_="rlhf-textarea",
        rows="6",
        data_action="text",
        aria_label="Response to score",
        spellcheck="false",
    )
    text.value = EXAMPLES[0][3]
    examples = h("div", class_="rlhf-row", role="group", aria_label="Example responses")

    def show_example(request: str, response: str) -> None:
        prompt.value, text.value = request, response
        update()

    for label, action, request, response in EXAMPLES:
        button = h("button", label, type="button", class_="md-button", data_action=action)
        w.on(button, "click", lambda evt, r=request, t=response: show_example(r, t))
        examples.appendChild(button)

    scores = readouts(READOUTS)
    hacking = h("p", "", class_="rlhf-warning", data_output="hacking", role="status")
    critiques = h("ul", class_="rlhf-critiques", data_output="critiques", aria_live="polite")

    boxes = h(
        "fieldset", h("legend", "Constitution: principles to apply"), class_="rlhf-principles"
    )
    checks: dict[str, Any] = {}
    for p in CONSTITUTION:
        box = h("input", type="checkbox", checked=True, data_action=f"principle-{p.name}")
        checks[p.name] = box
        boxes.appendChild(h("label", box, f" {p.name}: {p.statement}"))
        w.on(box, "change", lambda evt: update())

    revised = h("p", "", class_="rlhf-revised", data_output="revised")
    revised_scores = h("p", "", data_output="revised-scores")

    w.body.append(
        h(
            "label",
            "Prompt (optional: without it the response is judged alone)",
            class_="rlhf-label",
        ),
        prompt,
        h("label", "Response", class_="rlhf-label"),
        text,
        examples,
        scores,
        hacking,
        h("p", "Critique (principles violated)", class_="rlhf-label"),
        critiques,
        boxes,
        h("p", "Revised response (critique, then revise)", class_="rlhf-label"),
        revised,
        revised_scores,
    )

    def update() -> None:
        response = str(text.value)
        request = str(prompt.value).strip() or None
        s = score_response(response, request)
        for name, _ in READOUTS:
            value = getattr(s, name)
            w.set(name, value, _fmt(value))
        w.set(
            "hacking",
            "true" if s.hacking else "false",
            "Reward hacking: the proxy pays for what the principles reject."
            if s.hacking
            else "No reward hacking detected.",
        )
        w.output("hacking").classList.toggle("rlhf-warning-on", s.hacking)
        chosen = [name for name, box in checks.items() if box.checked]
        critiques.replaceChildren(
            *[
                h("li", f"{c.principle} ({_fmt(c.score)}): {c.reason}")
                for c in critique(response, chosen, prompt=request)
            ]
            or [h("li", "None of the chosen principles is violated.")]
        )
        new = revise(response, chosen, prompt=request)
        w.set("revised", new)
        r = score_response(new, request)
        w.set(
            "revised-scores",
            f"{_fmt(r.reward)} {_fmt(r.alignment)}",
            f"Revised: reward {_fmt(r.reward)}, alignment {_fmt(r.alignment)}, gap {_fmt(r.gap)}",
        )

    w.on(text, "input", lambda evt: update())
    w.on(prompt, "input", lambda evt: update())
    update()
