"""Building widget UIs from Python: elements from text only, events, errors.

Everything a widget shows is set with ``textContent`` / attributes, never ``innerHTML``, so
text a reader types (or any string from the library) can never become markup.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import traceback
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import create_once_callable, create_proxy, to_js

_PAGE: list[Widget] = []  # the widgets of the page shown (a page swap replaces them)
_TASKS: set[Any] = set()  # widgets still building (asyncio keeps only weak references)


def h(tag: str, *children: Any, **attrs: Any) -> Any:
    """Create an element: ``h("button", "Run", class_="md-button", data_action="run")``.

    Keyword names map to attributes (``class_`` -> ``class``, ``data_action`` ->
    ``data-action``); ``True`` sets an empty attribute, ``None``/``False`` skips it. String
    children become text nodes.
    """
    el = js.document.createElement(tag)
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        el.setAttribute(key.rstrip("_").replace("_", "-"), "" if value is True else str(value))
    for child in children:
        if child is None:
            continue
        el.appendChild(js.document.createTextNode(child) if isinstance(child, str) else child)
    return el


def readouts(fields: Any) -> Any:
    """A ``<dl class="rlhf-readouts">`` with one ``<dt>label</dt><dd data-output=name>``
    per ``(name, label)`` in ``fields``; the widget fills the ``dd`` texts in."""
    dl = h("dl", class_="rlhf-readouts")
    for name, label in fields:
        dl.appendChild(h("dt", label))
        dl.appendChild(h("dd", "", data_output=name))
    return dl


def scroll_box(child: Any, label: str) -> Any:
    """``child`` (a wide table) in a box that scrolls sideways on its own, so a phone's
    narrow screen never cuts it off or widens the page. The box is a named, focusable
    region, so keyboard users can scroll it too."""
    return h(
        "div",
        h("div", child, class_="md-typeset__table"),
        class_="rlhf-scroll",
        tabindex="0",
        role="region",
        aria_label=label,
    )


def js_object(value: Any) -> Any:
    """A Python dict/list as a plain JS object/array (e.g. a Chart.js config)."""
    return to_js(value, dict_converter=js.Object.fromEntries)


def show_error(root: Any, message: str) -> None:
    """Show ``message`` in the widget's ``data-error`` element (created if missing)."""
    err = root.querySelector("[data-error]")
    if err is None:
        err = h("p", class_="rlhf-widget-error", data_error=True, role="alert")
        root.appendChild(err)
    err.textContent = message
    err.hidden = False
    root.setAttribute("data-failed", "true")
    root.removeAttribute("aria-busy")


class Widget:
    """What ``build`` gets: the root element, a body to fill, and safe event wiring."""

    def __init__(self, root: Any):
        self.root = root
        self.name = root.getAttribute("data-widget")
        self.body = h("div", class_="rlhf-widget-body")
        self.alive = True  # False once the reader has moved to another page (unmount_page)
        self.proxies: list[Any] = []
        _PAGE.append(self)

    def guard(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        """``handler`` that shows its error in the widget instead of raising (for events
        and animation frames)."""

        def guarded(arg: Any) -> None:
            if not self.alive:  # its page is gone: an animation frame it had asked for
                return
            try:
                handler(arg)
            except Exception as exc:
                show_error(self.root, f"{type(exc).__name__}: {exc}")
                js.console.error(f"widget {self.name}:\n{traceback.format_exc()}")

        return guarded

    def proxy(self, handler: Callable[[Any], None]) -> Any:
        """A JS function calling the guarded ``handler``, kept alive for the page's life
        (:func:`unmount_page` frees it)."""
        proxy = create_proxy(self.guard(handler))
        self.proxies.append(proxy)
        return proxy

    def on(self, element: Any, event: str, handler: Callable[[Any], None]) -> None:
        """``element.addEventListener(event, handler)``; a failing handler shows its error."""
        element.addEventListener(event, self.proxy(handler))

    def output(self, name: str) -> Any:
        """The read-out element ``[data-output=name]``."""
        el = self.body.querySelector(f'[data-output="{name}"]')
        if el is None:
            raise KeyError(f"widget {self.name} has no data-output={name!r}")
        return el

    # --- what the reader set, kept for the next visit (docs/assets/progress.js) -----------

    def saved(self) -> dict[str, Any]:
        """What this widget saved on an earlier visit (key ``widget:NAME``), or ``{}``."""
        store = getattr(js, "rlhfProgress", None)
        text = store.getItem(f"widget:{self.name}") if store else None
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def save(self, **values: Any) -> None:
        """Keep ``values`` (JSON-able) for the next visit, merged into what is saved."""
        store = getattr(js, "rlhfProgress", None)
        if store:
            store.setItem(f"widget:{self.name}", json.dumps({**self.saved(), **values}))

    def persist(self, control: Any, key: str | None = None) -> None:
        """Give ``control`` (a select, input or textarea) the value saved on an earlier visit,
        and save its value whenever the reader changes it. Call it in ``build`` before the
        first computation reads the control. A saved value the control no longer offers (an
        option removed since) is ignored."""
        key = key or control.getAttribute("data-action")
        checkbox = control.getAttribute("type") == "checkbox"
        saved = self.saved().get(key)
        if saved is not None:
            if checkbox:
                control.checked = bool(saved)
            else:
                default = control.value
                control.value = str(saved)
                if control.value != str(saved):  # not one of a select's options
                    control.value = default

        def remember(evt: Any) -> None:
            self.save(**{key: bool(control.checked) if checkbox else str(control.value)})

        self.on(control, "change", remember)
        if not checkbox:
            self.on(control, "input", remember)

    def set(self, name: str, value: Any, text: str | None = None) -> None:
        """Set a read-out: its text (``text`` or ``str(value)``) and exact ``data-value``."""
        el = self.output(name)
        el.textContent = str(value) if text is None else text
        el.setAttribute("data-value", repr(value) if isinstance(value, float) else str(value))


def unmount_page() -> None:
    """Stop the widgets of the page the reader has left (the course swaps pages in without
    reloading, docs/assets/navigation.js): their handlers do nothing from now on, so a
    training loop's next animation frame ends it, their charts are destroyed, and their
    proxies are freed in the next animation frame (after any frame they had already asked
    for, which runs first), releasing what their closures hold."""
    from rlhf_widgets import _chart

    widgets = _PAGE[:]
    _PAGE.clear()
    for widget in widgets:
        widget.alive = False
    _chart.destroy_all()
    proxies = [p for widget in widgets for p in widget.proxies]
    if proxies:

        def free(_: Any) -> None:
            for proxy in proxies:
                proxy.destroy()

        js.requestAnimationFrame(create_once_callable(free))


def mount(root: Any, build: Callable[[Widget], Any]) -> None:
    """Build one widget into ``root`` and mark it ready, or show why it failed (next to the
    fallback figure, which then stays). A ``build`` that returns a coroutine (a widget that
    waits for data, e.g. the language model's weights) is ready when the coroutine is done."""
    widget = Widget(root)

    def failed(exc: BaseException) -> None:
        show_error(root, f"This widget could not start: {type(exc).__name__}: {exc}")
        js.console.error(f"widget {widget.name}:\n{traceback.format_exc()}")

    try:
        pending = build(widget)
    except Exception as exc:
        failed(exc)
        return
    if inspect.isawaitable(pending):

        async def finish() -> None:
            try:
                await pending
            except Exception as exc:
                failed(exc)
                return
            _ready(root, widget)

        task = asyncio.ensure_future(finish())
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)
        return
    _ready(root, widget)


def _ready(root: Any, widget: Widget) -> None:
    # The loading line goes, and so does the no-script fallback (a sentence and the figure
    # of the default run, drawn at build time): the live widget now shows that run itself.
    for placeholder in root.querySelectorAll("[data-loading], .rlhf-widget-fallback"):
        placeholder.remove()
    root.appendChild(widget.body)
    root.removeAttribute("aria-busy")
    root.setAttribute("data-ready", "true")
