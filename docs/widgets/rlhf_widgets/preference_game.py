"""Preference game: the reader labels pairs, a Bradley–Terry model refits after every pick.

UI only; the model is :func:`rlhf_mini.fit_bradley_terry` (with a small ``l2``, so the fit
exists from the first pick on), its predictions :func:`rlhf_mini.preference_probability`,
its loss :func:`rlhf_mini.bradley_terry_loss`, and "simulate 50 labellers" is
:func:`rlhf_mini.simulate_comparisons` on the same prompt. :class:`PreferenceGame` holds
the state and imports no browser module, so it is tested in CPython
(tests/test_widget_logic.py).

"Download my picks" saves the reader's own picks (every prompt, simulated labels excluded)
as the JSON file ``rlhf-mini export-trl OUT_DIR --picks FILE`` turns into TRL preference data
(:func:`rlhf_mini.bridge.trl_export.picks_document`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from rlhf_mini import (
    bradley_terry_loss,
    fit_bradley_terry,
    load_world,
    preference_probability,
    simulate_comparisons,
)
from rlhf_mini.bridge.trl_export import picks_document

#: Selects follow Material's light/dark colours (the browser default is always light).
SELECT_STYLE = "color: var(--md-default-fg-color); background: var(--md-default-bg-color);"

if TYPE_CHECKING:
    from rlhf_widgets._dom import Widget

#: Gaussian prior strength of the fit: keeps the scores finite with few comparisons.
L2 = 0.1
#: Score differences up to this size count as a tie (P = 1/2, half a hit). The fit converges
#: to ~1e-10 and two numpy builds (the browser's 2.0.2, the host's) round differently, so a
#: symmetric fit can give +-1e-16 instead of 0 on one and not the other; a real preference
#: moves the scores far more than 1e-6.
TIE_TOL = 1e-6
N_SIMULATED = 50
#: File name of "Download my picks".
PICKS_FILE = "rlhf_mini_picks.json"
#: At most this many actions are replayed from a saved game (each one refits the model).
MAX_SAVED_ACTIONS = 300


def hit_credit(margin: np.ndarray) -> np.ndarray:
    """1 where the fitted model preferred the chosen response (score margin > TIE_TOL, i.e.
    P(chosen) > 1/2), 1/2 for a tie (|margin| <= TIE_TOL), 0 otherwise."""
    margin = np.asarray(margin, dtype=float)
    return np.where(np.abs(margin) <= TIE_TOL, 0.5, (margin > 0).astype(float))


class PreferenceGame:
    """Comparisons on one prompt's K candidates, and the Bradley–Terry fit to them.

    ``accuracy`` is how often the model, fitted to the comparisons *before* a new one,
    gave the chosen response probability > 1/2 (a tie, scores within ``TIE_TOL``, counts as
    half a hit): an honest, held-out measure of how predictable the labels have become. A simulated batch
    is predicted by the model fitted before the batch.
    """

    def __init__(self, prompt_index: int = 0, seed: int = 0, world: Any = None):
        self.world = load_world() if world is None else world
        if not 0 <= prompt_index < self.world.n_prompts:
            raise ValueError(f"prompt_index must be in [0, {self.world.n_prompts})")
        self.prompt_index = prompt_index
        self.seed = seed
        #: The reader's own picks on every prompt, (prompt_id, chosen, rejected); kept when
        #: the prompt changes or the fit is reset, for "Download my picks".
        self.history: list[tuple[str, int, int]] = []
        self.reset()

    @property
    def prompt(self) -> Any:
        return self.world.prompts[self.prompt_index]

    @property
    def k(self) -> int:
        return self.world.n_candidates

    def reset(self) -> None:
        #: What happened since the last reset, in order: "a", "b" (the reader's picks) and
        #: "s" (a simulated batch). With ``prompt_index`` and ``history`` it is the whole
        #: state: replaying it gives the same fit (everything else is seeded).
        self.actions: list[str] = []
        self.winners: list[int] = []
        self.losers: list[int] = []
        self.hits = 0.0
        self.n_simulations = 0
        self.scores = np.zeros(self.k)
        self._rng = np.random.default_rng(self.seed)
        self.pair = self._draw_pair()

    def _draw_pair(self) -> tuple[int, int]:
        a = int(self._rng.integers(0, self.k))
        b = int((a + self._rng.integers(1, self.k)) % self.k)  # uniform over the others
        return a, b

    @property
    def n_comparisons(self) -> int:
        return len(self.winners)

    def _add(self, winners: np.ndarray, losers: np.ndarray) -> None:
        self.hits += float(np.sum(hit_credit(self.scores[winners] - self.scores[losers])))
        self.winners.extend(int(i) for i in winners)
        self.losers.extend(int(i) for i in losers)
        pairs = np.stack([self.winners, self.losers], axis=1)  # (m, 2) rows (winner, loser)
        self.scores = fit_bradley_terry(pairs, n_items=self.k, l2=L2)

    def pick(self, side: str) -> None:
        """The reader prefers response ``"a"`` or ``"b"`` of the current pair."""
        if side not in ("a", "b"):
            raise ValueError(f"side must be 'a' or 'b', got {side!r}")
        a, b = self.pair
        winner, loser = (a, b) if side == "a" else (b, a)
        self.history.append((self.prompt.id, winner, loser))
        self.actions.append(side)
        self._add(np.array([winner]), np.array([loser]))
        self.pair = self._draw_pair()

    def simulate(self, n: int = N_SIMULATED) -> None:
        """Add ``n`` comparisons of this prompt from simulated (Bradley–Terry) labellers."""
        c = simulate_comparisons(
            n,
            seed=self.seed + 1000 + self.n_simulations,
            prompts=[self.prompt_index],
            world=self.world,
        )
        self.n_simulations += 1
        self.actions.append("s")
        self._add(c.chosen, c.rejected)

    @property
    def accuracy(self) -> float | None:
        return self.hits / self.n_comparisons if self.n_comparisons else None

    @property
    def loss(self) -> float | None:
        """Mean Bradley–Terry loss of the current fit on all comparisons so far."""
        if not self.n_comparisons:
            return None
        winners, losers = np.array(self.winners), np.array(self.losers)
        return float(bradley_terry_loss(self.scores[winners], self.scores[losers]))

    def ranking(self) -> list[tuple[int, float]]:
        """(candidate, score), best first (ties: lower index first)."""
        order = sorted(range(self.k), key=lambda i: (-self.scores[i], i))
        return [(i, float(self.scores[i])) for i in order]

    def state(self) -> dict[str, Any]:
        """The game as JSON-able data, for the next visit (:meth:`restore`)."""
        return {
            "prompt": self.prompt_index,
            "actions": "".join(self.actions[-MAX_SAVED_ACTIONS:]),
            "history": [list(h) for h in self.history],
        }

    @classmethod
    def restore(cls, state: Any, world: Any = None) -> PreferenceGame:
        """The game :meth:`state` described, replayed; a new game if ``state`` is not one
        (nothing saved, or saved by another version of this page)."""
        try:
            game = cls(int(state["prompt"]), world=world)
            actions = str(state["actions"])[-MAX_SAVED_ACTIONS:]
            history = [(str(p), int(w), int(l)) for p, w, l in state["history"]]
            if set(actions) - {"a", "b", "s"}:
                raise ValueError(f"unknown actions in {actions!r}")
            for action in actions:
                game.simulate() if action == "s" else game.pick(action)
        except (KeyError, TypeError, ValueError):
            return cls(world=world)
        game.history = history
        return game

    def picks_json(self) -> str:
        """The reader's picks as the JSON file ``rlhf-mini export-trl --picks`` reads."""
        return json.dumps(picks_document(self.history), indent=1) + "\n"

    def p_a(self) -> float:
        """The current model's P(response A preferred to response B)."""
        a, b = self.pair
        return float(preference_probability(self.scores[a], self.scores[b]))


def build(w: Widget) -> None:
    import js

    from rlhf_widgets._dom import h, js_object, readouts

    game = PreferenceGame.restore(w.saved().get("game"))  # the reader's game, if any
    world = game.world

    prompt_select = h(
        "select", data_action="prompt", aria_label="Prompt to label", style=SELECT_STYLE
    )
    for i, p in enumerate(world.prompts):
        prompt_select.appendChild(h("option", p.text, value=str(i)))
    prompt_select.value = str(game.prompt_index)
    prompt_text = h("p", "", class_="rlhf-prompt", data_output="prompt")

    def card(side: str) -> tuple[Any, Any]:
        text = h("p", "", data_output=f"response-{side}")
        button = h(
            "button",
            f"Prefer {side.upper()}",
            type="button",
            class_="md-button",
            data_action=f"pick-{side}",
        )
        box = h(
            "div",
            h("p", f"Response {side.upper()}", class_="rlhf-label"),
            text,
            button,
            style="flex: 1 1 16rem; border: 1px solid var(--md-default-fg-color--lightest);"
            " padding: 0.4rem 0.8rem;",
        )
        return box, button

    card_a, pick_a = card("a")
    card_b, pick_b = card("b")
    simulate = h(
        "button",
        f"Simulate {N_SIMULATED} labellers",
        type="button",
        class_="md-button",
        data_action="simulate",
    )
    reset = h("button", "Reset", type="button", class_="md-button", data_action="reset")
    download = h(
        "button",
        "Download my picks",
        type="button",
        class_="md-button",
        data_action="download-picks",
        title="Your picks on every prompt, as JSON for: rlhf-mini export-trl OUT_DIR --picks FILE",
    )

    read_outs = readouts(
        (
            ("p-a", "Model's P(A preferred), before your pick"),
            ("comparisons", "Comparisons"),
            ("accuracy", "Accuracy (predicted the pick before seeing it)"),
            ("loss", "Bradley–Terry loss (mean)"),
            ("my-picks", "Your picks (all prompts)"),
        )
    )
    ranking = h("ol", data_output="ranking", aria_live="polite")

    w.body.append(
        h("label", "Prompt", class_="rlhf-label"),
        prompt_select,
        prompt_text,
        h("div", card_a, card_b, class_="rlhf-row"),
        h("div", simulate, reset, download, class_="rlhf-row"),
        read_outs,
        h("p", "Learned ranking (Bradley–Terry scores, mean zero)", class_="rlhf-label"),
        ranking,
    )

    def update() -> None:
        prompt = game.prompt
        a, b = game.pair
        w.set("prompt", prompt.text)
        w.set("response-a", prompt.responses[a].text)
        w.set("response-b", prompt.responses[b].text)
        p_a = game.p_a()
        w.set("p-a", p_a, f"{p_a:.3f}")
        n = game.n_comparisons
        w.set("comparisons", n)
        acc, loss = game.accuracy, game.loss
        if acc is None or loss is None:
            w.set("accuracy", "", "no comparisons yet")
            w.set("loss", "", "no comparisons yet")
        else:
            w.set("accuracy", acc, f"{acc:.1%} ({game.hits:g} of {n})")
            w.set("loss", loss, f"{loss:.3f}")
        rows = [
            h("li", f"{score:+.2f}  [{prompt.responses[i].behaviour}]  {prompt.responses[i].text}")
            for i, score in game.ranking()
        ]
        w.set("my-picks", len(game.history))
        download.disabled = not game.history
        ranking.replaceChildren(*rows)
        ranking.setAttribute("data-value", ",".join(str(i) for i, _ in game.ranking()))
        w.save(game=game.state())

    def choose_prompt(evt: Any) -> None:
        game.prompt_index = int(prompt_select.value)
        game.reset()
        update()

    w.on(pick_a, "click", lambda evt: (game.pick("a"), update()))
    w.on(pick_b, "click", lambda evt: (game.pick("b"), update()))
    w.on(simulate, "click", lambda evt: (game.simulate(), update()))
    w.on(reset, "click", lambda evt: (game.reset(), update()))

    def save_picks(evt: Any) -> None:
        # A Blob URL clicked from a temporary link: the browser saves the file, no server.
        from pyodide.ffi import create_once_callable, to_js

        blob = js.Blob.new(to_js([game.picks_json()]), js_object({"type": "application/json"}))
        url = js.URL.createObjectURL(blob)
        link = h("a", href=url, download=PICKS_FILE, hidden=True)
        js.document.body.appendChild(link)
        link.click()
        link.remove()
        js.setTimeout(create_once_callable(lambda: js.URL.revokeObjectURL(url)), 60_000)

    w.on(prompt_select, "change", choose_prompt)
    w.on(download, "click", save_picks)
    update()
