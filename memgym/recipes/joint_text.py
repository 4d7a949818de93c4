"""One language model in both roles: it writes memory on chunk views and chooses what the
answerer reads on question views (CoMAM's construction and retrieval agents as one model with
two roles; Memory-R1's manager and answer agent sharing a backbone).

:class:`JointTextEnv` plays one :class:`memgym.recipes.selection_game.SelectionGame` with no
fixed partner: whoever acts plays the turn in view. It is what
:class:`memgym.recipes.joint_reader.JointReaderEnv` is for two small policies (RLlib
multi-agent), for one text policy; :mod:`memgym.llm.selector_turns` trains a model on it
through per-turn GRPO (``trl.write_mode: joint``).
"""

from __future__ import annotations

from typing import Any

from memgym.envs.text import MAX_PROMPT_CHARS, tool_names
from memgym.envs.text_view import render_prompt
from memgym.recipes.selection_game import MANAGER_TERMS
from memgym.recipes.selector_text import SelectorTextEnv
from memgym.rewards.terms import TERMS

#: The line that tells the model which role the turn is.
ROLE_HEADERS = {"manager": "## Your role now: memory manager (write memory for later questions)",
                "selector": "## Your role now: memory selector (choose the notes the answerer "
                            "reads)"}


class JointTextEnv(SelectorTextEnv):
    """
    ## Description

    A manager and a selector turn (module docstring) for one text policy. On a chunk view the
    prompt is the memory manager's view (the memory with ids, the chunk, ops left, the last
    result) and the action one tool call (``add_memory``, ``update_memory``,
    ``delete_memory``, ``next_chunk``, as :class:`memgym.envs.text.TextMemoryEnv`); on a
    question view the prompt lists the ``n_candidates`` retrieved notes and the action names
    the notes the answerer reads (as :class:`memgym.recipes.selector_text.SelectorTextEnv`).
    Each prompt opens with the role it asks for; ``info["role"]`` names the next one.

    ## Action Space

    ``Text``: a tool call on a manager turn, a list of note numbers on a selector turn.
    Unparsable or invalid actions cost the ``format`` / ``invalid`` penalty and change
    nothing (three on one question answer it with no notes); a chunk allows ``ops_per_chunk``
    calls before the stream moves on by itself.

    ## Observation Space

    ``Text``: the prompt of the role in view.

    ## Rewards

    Every term of both roles: the manager's op terms (op costs, shaping, memory size, the
    evidence coverage terms when weighted) and the answers' terms (``qa``, ``retrieval`` per
    note passed, ``rank_credit``, ``citation``, penalties). ``info["manager_terms"]`` and
    ``info["selector_terms"]`` at the end split them per role (CoMAM's local rewards).

    ## Episode End

    Terminates after the last question. The final ``info`` has ``qa_score``,
    ``entries_passed``, ``selection_recall`` and the per-role terms.

    ## Arguments

    ``n_candidates`` (8), ``budget`` (4), ``select_cost`` (0.02); every other keyword goes to
    the inner :class:`memgym.envs.structured.MemoryEnv` (``task``, ``tiers``, ``ops``, ...).
    ``manager`` is accepted and ignored (the policy is the manager), so the selector ids'
    kwargs serve here too.

    ## Version History

    - v0: initial release.
    """

    action_layout = "joint_text"

    def __init__(self, manager: Any = None, *, n_candidates: int = 8, budget: int = 4,
                 select_cost: float = 0.02, render_mode: str | None = None,
                 **env_kwargs: Any) -> None:
        del manager  # the policy writes memory itself; the partner below is never played
        super().__init__("add_only", n_candidates=n_candidates, budget=budget,
                         select_cost=select_cost, render_mode=render_mode, **env_kwargs)
        self.selector_terms: dict[str, float] = {}

    @property
    def tools(self) -> list[str]:
        """The manager's tools (its turns are tool calls)."""
        return [t for t in tool_names(self.core) if t != "route_memory"]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[str, dict[str, Any]]:
        self.selector_terms = {}
        return super().reset(seed=seed, options=options)

    def _play_manager(self) -> None:
        """No partner: the policy plays the manager's turns through :meth:`step`."""

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        game = self.game
        if game.role != "manager":
            obs, reward, done, truncated, info = super().step(action)
            if "reward_terms" in info and info.get("error") != "episode_over":
                self._add(self.selector_terms, info["reward_terms"])
            return obs, reward, done, truncated, self._with_roles(info)
        terms, ok, self.last_result = game.manager_tool_call(action)
        self._add(self.manager_terms, terms)
        info = self._info(terms, None if ok else "invalid_call")
        info["message"] = self.last_result
        return self.prompt(), float(sum(terms.values())), game.role is None, False, \
            self._with_roles(info)

    def _settle(self, answered: int, terms: dict[str, float]) -> dict[str, float]:
        """An answer's terms all go to this one policy (the manager's coverage terms too)."""
        mine = super()._settle(answered, terms)
        return {**mine, **{k: terms.get(k, 0.0) for k in MANAGER_TERMS}}

    def _with_roles(self, info: dict[str, Any]) -> dict[str, Any]:
        info["role"] = self.game.role
        if self.game.role is None:
            info["manager_terms"] = dict(self.manager_terms)
            info["selector_terms"] = dict(self.selector_terms)
        return info

    @staticmethod
    def _add(total: dict[str, float], terms: dict[str, float]) -> None:
        for k, v in terms.items():
            if k in TERMS and v:
                total[k] = total.get(k, 0.0) + v

    def prompt(self) -> str:
        role = self.game.role
        if role == "manager":
            body = render_prompt(self.core, self.last_result)
        else:
            body = super().prompt()
        return (f"{ROLE_HEADERS[role]}\n{body}" if role else body)[:MAX_PROMPT_CHARS]


def make_env(**kwargs: Any) -> JointTextEnv:
    """Gymnasium entry point (``memgym.recipes.joint_text:make_env``)."""
    return JointTextEnv(**kwargs)
