"""The learned reader for language models: a numbered list of notes in, the chosen numbers out.

:class:`SelectorTextEnv` is :class:`memgym.recipes.selector.SelectorEnv` (the same manager
partner, the same :class:`memgym.recipes.selection_game.SelectionGame`, the same reward split
and episode info) with a text interface: each question comes as a prompt listing the
retrieved candidates numbered from 1, and the action is one reply naming the notes the
answerer reads, best first (:meth:`SelectionGame.choose`: the whole selection at once, then
the answer). :func:`parse_reply` reads the reply; it never raises. Ids
``memgym/Selector-<Task>-Text-v0`` are registered by :mod:`memgym.recipes.ids`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from memgym.envs.text import _CHARSET, MAX_PROMPT_CHARS, UnicodeText
from memgym.recipes.selector import SelectorEnv

#: Longest reply read (a list of at most ``n_candidates`` numbers needs a few characters;
#: also keeps every number far below the 4300 digits ``int`` converts).
MAX_REPLY_CHARS = 2000
#: Words a reply may start with ("Notes: 2, 5", "Answer - 3").
_LABEL = re.compile(r"^(?:final\s+)?(?:notes?|selection|selected|select|answer|reply|read)"
                    r"\s*[:=\-]?\s*", re.I)
#: A reply that selects nothing.
_NONE = re.compile(r"^(?:none|no\s+notes?|nothing|no|\[\s*\])$", re.I)
#: Separators between numbers: whitespace, , ; & / "and", and the gap between "][" .
_SEP = re.compile(r"[\s,;&/+]+|\band\b|(?<=\])(?=\[)", re.I)
#: One number, maybe as "[2]", "#2", "(2)" (ASCII digits: "²".isdigit() is true).
_NUMBER = re.compile(r"[\[(#]?\s*([0-9]+)\s*[\])]?")


@dataclass(frozen=True)
class ParsedReply:
    """The numbers a reply names (1-based, in order), or why it could not be read."""

    numbers: tuple[int, ...] = ()
    error: str | None = None


def parse_reply(reply: Any) -> ParsedReply:
    """Read a selection reply: ``"2, 5"``, ``"[2] [5]"``, ``"2 and 5"``, ``"Notes: 2,5"``,
    ``"none"`` / ``"no notes"``. Parsing never raises; an unreadable reply has an error."""
    if not isinstance(reply, str):
        return ParsedReply(error=f"a reply must be a string, got {type(reply).__name__}")
    if len(reply) > MAX_REPLY_CHARS:
        return ParsedReply(error=f"reply longer than {MAX_REPLY_CHARS} characters")
    text = reply.strip().strip("\"'`*").strip()
    text = _LABEL.sub("", text, count=1).strip().rstrip(".!").strip().strip("\"'`*").strip()
    if _NONE.fullmatch(text):
        return ParsedReply(())
    tokens = [t for t in _SEP.split(text) if t]
    numbers = []
    for token in tokens:
        match = _NUMBER.fullmatch(token)
        if match is None:
            return ParsedReply(error=f"cannot read {token[:40]!r} as a note number")
        numbers.append(int(match.group(1)))
    if not numbers:
        return ParsedReply(error="no note numbers in the reply")
    return ParsedReply(tuple(numbers))


def selection_problem(numbers: tuple[int, ...], n_candidates: int, budget: int) -> str | None:
    """What is wrong with a readable selection (``None``: nothing), for the agent to read."""
    problems = []
    outside = [n for n in numbers if not 1 <= n <= n_candidates]
    if outside:
        allowed = f"1 to {n_candidates}" if n_candidates else "none (no notes were retrieved)"
        problems.append(f"no note {', '.join(map(str, outside))} (notes: {allowed})")
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        problems.append(f"note {', '.join(map(str, repeated))} named more than once")
    if len(numbers) > budget:
        problems.append(f"{len(numbers)} notes named, at most {budget}")
    return "; ".join(problems) or None


class SelectorTextEnv(SelectorEnv):
    """
    ## Description

    :class:`memgym.recipes.selector.SelectorEnv` for language models. A manager partner
    writes memory chunk by chunk; each question comes into view with the ``n_candidates``
    entries BM25 ranks highest for it, listed as numbered notes; the agent replies with the
    numbers of the notes the answerer reads (at most ``budget``, best first) and the env's
    reader answers from exactly those notes.

    ## Action Space

    ``Text``: one reply, e.g. ``"2, 5"``, ``"[2] [5]"``, ``"2 and 5"``, ``"Notes: 2,5"``, or
    ``"none"`` / ``"no notes"`` (answer without memory); see :func:`parse_reply`. An
    unreadable reply costs the ``format`` penalty; a readable but invalid one (a number
    outside the list, a note named twice, more than ``budget`` notes) the ``invalid``
    penalty. Either way nothing is selected, the question stays in view and the problem is
    named in ``info["message"]`` and in the next prompt.

    ## Observation Space

    ``Text``: the prompt: question number and text, the candidates as ``[1] text`` lines
    (best ranked first), the budget, the last reply's result and the reply format.

    ## Rewards

    As :class:`memgym.recipes.selector.SelectorEnv` (``qa``, ``retrieval``, ``rank_credit``,
    ``citation``, ``invalid``; the manager's terms in ``info["manager_terms"]``), plus
    ``format`` (``-weight``) for an unreadable reply. A reply equal to a structured
    selection (picks, then answer) earns that selection's reward in one step.

    ## Episode End

    Terminates after the last question. Three failed replies on one question (unreadable or
    invalid, as the core counts format failures) answer it with no notes, so a model that
    never replies in format still finishes. The final ``info`` has ``qa_score``,
    ``entries_passed``, ``selection_recall`` and ``manager_terms``.

    ## Arguments

    As :class:`memgym.recipes.selector.SelectorEnv`: ``manager``, ``n_candidates`` (8),
    ``budget`` (4), ``select_cost`` (0.02); every other keyword goes to the inner
    :class:`memgym.envs.structured.MemoryEnv`.

    ## Version History

    - v0: initial release.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    action_layout = "select_text"  # the Discrete selection baselines refuse it

    def __init__(self, manager: Any = "salience", *, n_candidates: int = 8, budget: int = 4,
                 select_cost: float = 0.02, render_mode: str | None = None,
                 **env_kwargs: Any) -> None:
        super().__init__(manager, n_candidates=n_candidates, budget=budget,
                         select_cost=select_cost, render_mode=render_mode, **env_kwargs)
        self.action_names = []
        self.observation_space = UnicodeText(MAX_PROMPT_CHARS, charset=_CHARSET)
        self.action_space = UnicodeText(MAX_REPLY_CHARS, charset="0123456789, ")
        self.last_result = ""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[str, dict[str, Any]]:
        self.last_result = ""
        _, info = super().reset(seed=seed, options=options)
        return self.prompt(), info

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        game = self.game
        if game.role != "selector":
            return self.prompt(), 0.0, True, False, self._reply_info({}, "episode_over",
                                                                     "the episode is over")
        answered = game.n_answered
        parsed = parse_reply(action)
        if parsed.error is not None:
            terms, error = game.strike("format"), "malformed"
            message = f"{parsed.error}; reply with note numbers, e.g. \"2, 5\", or \"none\""
        else:
            message = selection_problem(parsed.numbers, len(game.candidates), game.budget)
            terms, error = game.choose([n - 1 for n in parsed.numbers])
            message = message or error  # the game's checks are the ones named above
        if game.n_answered > answered:
            n = len(game.last_sources)
            message = (f"{message}; answered with no notes" if error is not None
                       else f"the answerer read {n} note{'s' * (n != 1)}")
        self.last_result = f"error ({error}): {message}" if error else f"ok: {message}"
        mine = self._settle(answered, terms)
        return self.prompt(), float(sum(mine.values())), game.role is None, False, \
            self._reply_info(mine, error, message)

    def _reply_info(self, terms: dict[str, float], error: str | None, message: str
                    ) -> dict[str, Any]:
        info = self._info(terms, error)
        info["message"] = message
        return info

    def _info(self, terms: dict[str, float] | None, error: str | None) -> dict[str, Any]:
        info = super()._info(terms, error)
        del info["action_mask"]  # the structured env's Discrete mask: not this action space
        return info

    def prompt(self) -> str:
        """The selector's prompt (the question in view, or the end of the stream)."""
        game = self.game
        if game.role != "selector":
            lines = ["## The stream is over."]
            if self.last_result:
                lines.append(f"## Last result\n{self.last_result}")
            return "\n".join(lines)
        texts = game.candidate_texts()
        lines = [f"## Question {game.n_answered + 1} of {self.core.n_questions}",
                 game.question_text,
                 f"## Notes retrieved for it, best ranked first ({len(texts)})"]
        lines += [f"[{r + 1}] {text}" for r, text in enumerate(texts)] or ["(no notes)"]
        lines.append(f"## Budget: the answerer reads at most {game.budget} notes; "
                     "each costs a little")
        if self.last_result:
            lines.append(f"## Last result\n{self.last_result}")
        lines.append(f"Reply with the numbers of the notes the answerer should read, at most "
                     f"{game.budget}, best first, e.g. \"2, 5\", or \"none\".")
        return "\n".join(lines)[:MAX_PROMPT_CHARS]

    def render(self) -> str | None:
        return self.prompt() if self.render_mode == "ansi" else None


def make_env(**kwargs: Any) -> SelectorTextEnv:
    """Gymnasium entry point (``memgym.recipes.selector_text:make_env``)."""
    return SelectorTextEnv(**kwargs)
