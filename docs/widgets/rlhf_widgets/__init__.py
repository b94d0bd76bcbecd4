"""The course widgets: thin UI wiring around ``rlhf_mini``, run by Pyodide in the page.

``docs/assets/boot.js`` starts one interpreter per visit and then runs ``start()``, whose
:func:`mount_page` mounts every ``<div class="rlhf-widget" data-widget="NAME">`` found in the
page (and is called again for each page the reader moves to without reloading): it imports
``REGISTRY[NAME]`` and calls its ``build(widget)`` with a :class:`rlhf_widgets._dom.Widget`,
then sets ``data-ready="true"``. A widget whose build fails shows why in its ``data-error``
element; the other widgets and the page are unaffected.

Importing this package does not import ``js`` (so the pure parts can be tested in CPython).
See ``docs/assets/README.md`` for how to add a widget.
"""

from __future__ import annotations

import importlib

#: Widget name (``data-widget``) -> module with ``build(widget)``.
REGISTRY: dict[str, str] = {
    "playground": "rlhf_widgets.response_scorer",
    "preference-game": "rlhf_widgets.preference_game",
    "reward-training": "rlhf_widgets.reward_training",
    "ppo-sweep": "rlhf_widgets.ppo_sweep",
    "pipeline": "rlhf_widgets.pipeline_walkthrough",
    "dpo-trainer": "rlhf_widgets.dpo_comparison",
    "method-frontier": "rlhf_widgets.method_frontier",
    "lm-align": "rlhf_widgets.lm_align",
}


def start() -> None:
    """Import the library, hand :func:`mount_page` to the page's JS (a page swapped in later
    calls it again: one interpreter per visit) and mount the first page."""
    import js
    from pyodide.ffi import create_proxy

    js.rlhfRuntime.mark("framework")
    import rlhf_mini  # noqa: F401  (numpy and the library; timed apart from the widgets)

    js.rlhfRuntime.mark("library")
    js.rlhfRuntime.attach(create_proxy(mount_page))
    mount_page()


_HANDED: list[object] = []  # the runner and checker proxies handed to the page's JS


def mount_page(*_: object) -> None:
    """Mount every widget of the page now in the document (the widgets of the page before,
    if any, stop: ``_dom.unmount_page``), then hand the code runner and the exercises'
    checker to the page's JS (``rlhfRuntime.ready``)."""
    import js
    from pyodide.ffi import create_proxy

    from rlhf_widgets import _deferred, _dom, runner

    _dom.unmount_page()
    for proxy in _HANDED:
        proxy.destroy()
    _HANDED.clear()
    deferred = _deferred.start()  # a page using the language model: its weights
    for root in js.document.querySelectorAll(".rlhf-widget"):
        name = root.getAttribute("data-widget") or ""
        module = REGISTRY.get(name)
        if module is None:
            _dom.show_error(root, f"Unknown widget {name!r}.")
            continue
        _dom.mount(root, lambda w, module=module: importlib.import_module(module).build(w))
        js.rlhfRuntime.mark(f"mounted {name}")

    namespace = runner.new_namespace()

    def check(exercise_id: str, source: str) -> str:
        from rlhf_widgets import exercises  # on the first Check: no cost for pages without

        return exercises.check_json(exercise_id, source)

    def ready(*_: object) -> None:
        _HANDED.extend(
            [create_proxy(lambda source: runner.run_json(source, namespace)), create_proxy(check)]
        )
        js.rlhfRuntime.ready(*_HANDED)

    if deferred is None:
        ready()
    else:  # the page's code blocks may use the weights: they run once they are in
        deferred.add_done_callback(
            lambda task: (
                ready()
                if task.exception() is None
                else js.rlhfRuntime.fail(
                    f"The language model could not be loaded ({task.exception()})."
                )
            )
        )
