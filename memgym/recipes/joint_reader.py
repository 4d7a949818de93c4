"""Joint training of a memory manager and a memory selector (CoMAM-style), as one RLlib
multi-agent env.

:class:`JointReaderEnv` plays one :class:`memgym.recipes.selection_game.SelectionGame` with two
agents: ``"manager"`` acts on chunk views (the inner env's memory ops), ``"selector"`` on
question views (pick up to ``budget`` of the ``n_candidates`` retrieved entries, then answer).
It is the same episode :class:`memgym.recipes.selector.SelectorEnv` plays with a fixed manager;
here either role may be learned or *frozen* to a fixed partner (a baseline name or any agent
with ``act(obs, info, env)``), so one env serves "both learn" and "one learns, the other fixed".

Rewards follow CoMAM's split of a sequential two-agent MDP into a global and local rewards:

- **global** (shared): the ``qa`` term of each answer;
- **manager local**: every other term of its own steps (op costs, shaping, memory size, ...)
  plus the memory terms of each answer (:data:`SELECTOR_TERMS` excluded, ``qa`` excluded):
  the coverage of its memory (``evidence``, ``evidence_recall``, ``shaping``: the game's
  :data:`~memgym.recipes.selection_game.MANAGER_TERMS`);
- **selector local**: the terms of its selection, :data:`SELECTOR_TERMS` (``retrieval``,
  ``rank_credit``, ``citation``, ``invalid``).

Each learned agent is paid ``alpha * local + (1 - alpha) * w * global``, ``w = 1`` unless
``credit_group`` is set. With ``credit_group = G``, ``w`` is the agent's CoMAM-style credit:
the Spearman rank correlation (average ranks for ties, clipped at 0; 0 when either side is
constant) between its local and the global episode returns over the env's last ``G``
finished episodes, recomputed at each reset (``w = 1`` until 3 episodes are in). CoMAM ranks
a *group of rollouts of one query*; here the group is the last ``G`` episodes of this env
(different streams), which is what an RLlib env can see: a weight for how well the agent's
own reward orders episodes as the QA reward does. Only the agent whose turn
it is gets an observation. A reward an agent earns while the other acts (the manager's share
of ``qa`` is earned on the selector's turns) is held by the env and paid with that agent's next
observation, or at the episode's end: RLlib 2.60's ``MultiAgentEpisode`` would also carry such
a reward to the agent's next step (its ``_hanging_rewards_end``), but it drops rewards an agent
gets before its first observation; holding them here makes the per-agent return exact and
independent of that bookkeeping. The last step carries no observation:
``terminateds["__all__"]`` ends the episode and RLlib repeats each agent's last observation.

Ray is imported only here (``MultiAgentEnv``), so importing :mod:`memgym.recipes` does not
load it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from memgym.recipes.selection_game import SelectionGame
from memgym.recipes.selector import SELECTION_BASELINES, inner_env, make_partner
from memgym.rewards.selection import CANDIDATE_COLUMNS, QUESTION_COLUMNS

ROLES = ("manager", "selector")
#: Terms of an answer that are the selector's work (its local reward).
SELECTOR_TERMS = ("retrieval", "rank_credit", "citation", "invalid")
#: The shared term.
GLOBAL_TERMS = ("qa",)


def split_terms(terms: dict[str, float], role: str) -> dict[str, float]:
    """``{"global", "manager", "selector"}`` sums of the weighted ``terms`` of one step of
    ``role`` (a manager step's terms are all its own but ``qa``; an answer's are split)."""
    out = {"global": 0.0, "manager": 0.0, "selector": 0.0}
    for key, value in terms.items():
        if key in GLOBAL_TERMS:
            out["global"] += value
        elif role == "selector" and key in SELECTOR_TERMS:
            out["selector"] += value
        else:
            out["manager"] += value
    return out


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values), dtype=float)
    for v in np.unique(values):
        tied = values == v
        ranks[tied] = ranks[tied].mean()
    return ranks


def rank_consistency(local: Sequence[float], global_: Sequence[float]) -> float:
    """Spearman correlation of ``local`` and ``global_`` over a group of episodes, clipped
    at 0 (0 when either is constant: a constant reward ranks nothing)."""
    a, b = np.asarray(local, dtype=float), np.asarray(global_, dtype=float)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    ra, rb = _ranks(a), _ranks(b)
    return max(0.0, float(np.corrcoef(ra, rb)[0, 1]))


class SelectorView:
    """What a frozen selector agent sees as its ``env``: the game, the selector's mask and
    its (unflattened) observation space, like :class:`SelectorEnv` (so both the selection
    baselines and :class:`memgym.training.rllib_agent.RLlibPolicyAgent` can act)."""

    action_layout, spec = "select", None

    def __init__(self, game: SelectionGame, observation_space: spaces.Dict) -> None:
        self.game, self.observation_space = game, observation_space
        self.action_space = spaces.Discrete(game.n_candidates + 1)

    @property
    def unwrapped(self) -> SelectorView:
        return self

    def action_masks(self) -> np.ndarray:
        return self.game.selection_mask()


class JointReaderEnv(MultiAgentEnv):
    """
    ## Description

    The two-role episode of :mod:`memgym.recipes.selection_game` as a multi-agent env (module
    docstring): the manager writes memory chunk by chunk, the selector chooses which retrieved
    entries the answerer reads. Agents: the roles not frozen (``manager`` / ``selector``
    arguments left ``None``).

    ## Action Space

    ``manager``: the inner :class:`memgym.envs.structured.MemoryEnv`'s ``Discrete`` ops;
    ``selector``: ``Discrete(n_candidates + 1)`` (pick rank ``i``, or answer).

    ## Observation Space

    Per agent ``Dict{"action_mask": Box(0, 1, (n_actions,)), "observations": Box}``: the
    role's observation flattened, the layout of
    :class:`memgym.envs.wrappers.ActionMaskObservation` (RLlib's
    ``ActionMaskingTorchRLModule`` reads it). Only the acting agent gets one per step.

    ## Rewards

    ``alpha * local + (1 - alpha) * w * global`` per agent (module docstring; ``w`` in
    :attr:`credit`, 1 unless ``credit_group``); each step's split
    is in ``info["reward_parts"]`` of the acting agent, and ``env.returns`` holds the
    episode's per-agent ``local`` / ``global`` / ``mixed`` sums.

    ## Episode End

    After the last question (``terminateds["__all__"]``). Final info (every learned agent's
    last info and :attr:`final_info`): ``qa_score``, ``entries_passed``, ``selection_recall``
    as :class:`memgym.recipes.selector.SelectorEnv` reports them, plus ``manager_terms``.

    ## Arguments

    ``config`` (RLlib's ``env_config``; merged with the keywords), ``manager`` / ``selector``
    (``None``: learned; else a baseline name or an agent: frozen), ``alpha`` (0.5),
    ``credit_group`` (0: off; else the CoMAM-style credit over the last that many episodes),
    ``n_candidates`` (8), ``budget`` (4), ``select_cost`` (0.02); every other keyword goes to
    the inner :class:`memgym.envs.structured.MemoryEnv` (``task``, ``task_params``, ``tiers``,
    ``ops``, ``rewards``, ``split``, ...).

    ## Version History

    - v0: initial release.
    """

    def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        kwargs = {**dict(config or {}), **kwargs}
        manager, selector = kwargs.pop("manager", None), kwargs.pop("selector", None)
        self.alpha = float(kwargs.pop("alpha", 0.5))
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        self.credit_group = int(kwargs.pop("credit_group", 0))
        if self.credit_group < 0:
            raise ValueError(f"credit_group must be >= 0, got {self.credit_group}")
        #: per role, (local, global) returns of the last ``credit_group`` episodes
        self.history = {r: deque(maxlen=max(self.credit_group, 1)) for r in ROLES}
        self.credit = dict.fromkeys(ROLES, 1.0)
        n_candidates = kwargs.pop("n_candidates", 8)
        budget = kwargs.pop("budget", 4)
        select_cost = kwargs.pop("select_cost", 0.02)
        self.inner = inner_env(budget, kwargs)
        self.game = SelectionGame(self.inner, reader=kwargs.get("reader", "bm25"),
                                  reader_params=kwargs.get("reader_params"),
                                  n_candidates=n_candidates, budget=budget,
                                  select_cost=select_cost)
        self.frozen: dict[str, Any] = {}
        if manager is not None:
            self.frozen["manager"] = make_partner(manager, "manager")
        if selector is not None:
            self.frozen["selector"] = make_partner(selector, "selector",
                                                    SELECTION_BASELINES)
        self.selector_space = spaces.Dict({
            "candidates": spaces.Box(0, 1, (n_candidates, len(CANDIDATE_COLUMNS)), np.float32),
            "question": spaces.Box(0, 1, (len(QUESTION_COLUMNS),), np.float32)})
        self.view = SelectorView(self.game, self.selector_space)
        self.raw_spaces = {"manager": self.inner.observation_space,
                           "selector": self.selector_space}
        acts = {"manager": self.inner.action_space,
                "selector": spaces.Discrete(n_candidates + 1)}
        self.possible_agents = [r for r in ROLES if r not in self.frozen]
        self.agents = list(self.possible_agents)
        self.observation_spaces = {r: spaces.Dict({
            "action_mask": spaces.Box(0.0, 1.0, (acts[r].n,), np.float32),
            "observations": spaces.flatten_space(self.raw_spaces[r])})
            for r in self.possible_agents}
        self.action_spaces = {r: acts[r] for r in self.possible_agents}
        self.final_info: dict[str, Any] | None = None

    # -- observations ---------------------------------------------------------------------
    def raw_observation(self, role: str) -> dict[str, np.ndarray]:
        return self.inner._observation() if role == "manager" else self.game.observation()

    def mask(self, role: str) -> np.ndarray:
        return self.inner.action_masks() if role == "manager" else self.game.selection_mask()

    def agent_observation(self, role: str) -> dict[str, np.ndarray]:
        """``role``'s observation in the ``ActionMaskObservation`` layout."""
        flat = spaces.flatten(self.raw_spaces[role], self.raw_observation(role))
        return {"action_mask": self.mask(role).astype(np.float32),
                "observations": flat.astype(np.float32)}

    # -- episode --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        # the inner seed is drawn as SelectorEnv draws it: same seed, same episode
        inner_seed = None if seed is None else int(self.np_random.integers(2**31))
        obs, info = self.inner.reset(seed=inner_seed, options=options)
        for role, agent in self.frozen.items():
            if hasattr(agent, "reset"):
                agent.reset(self.inner if role == "manager" else self.view, seed=inner_seed)
        self.game.started()
        if self.game.role is None:
            raise ValueError("the episode has no question (the task asked none): use a task "
                             "with questions")
        self.log: list[dict[str, Any]] = []
        self.manager_terms: dict[str, float] = {}
        self.returns = {r: {"local": 0.0, "global": 0.0, "mixed": 0.0} for r in ROLES}
        self.pending = dict.fromkeys(ROLES, 0.0)
        self.final_info = None
        if self.credit_group and len(self.history["manager"]) >= 3:
            self.credit = {r: rank_consistency([h[0] for h in self.history[r]],
                                               [h[1] for h in self.history[r]]) for r in ROLES}
        self._manager_info = info
        self._play_frozen()
        role = self.game.role
        if role is None:
            self._finish()
            return {}, {}
        return {role: self.agent_observation(role)}, {role: self._info(role, None, None)}

    def step(self, action_dict: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        role = self.game.role
        if role is None:
            raise RuntimeError("step() after the episode ended; call reset()")
        if role not in action_dict:
            raise ValueError(f"it is {role!r}'s turn; got actions for {sorted(action_dict)}")
        parts, error = self._act(role, action_dict[role])
        self._play_frozen()
        nxt = self.game.role
        done = nxt is None
        paid = list(self.possible_agents) if done else [nxt]
        rewards = {r: self.pending[r] for r in paid}
        for r in paid:
            self.pending[r] = 0.0
        if done:
            self._finish()
            obs: dict[str, Any] = {}
            infos = {r: dict(self.final_info) for r in self.possible_agents}
            terminateds = {r: True for r in self.possible_agents}
        else:
            obs = {nxt: self.agent_observation(nxt)}
            infos = {nxt: self._info(nxt, parts if nxt == role else None, error)}
            terminateds = {}
        terminateds["__all__"] = done
        return obs, rewards, terminateds, {"__all__": False}, infos

    def _act(self, role: str, action: Any) -> tuple[dict[str, float], str | None]:
        """One action of ``role``; its reward split, credited to both roles' pending rewards."""
        if role == "manager":
            terms, self._manager_info = self.game.manager_step(action)
            error = self._manager_info.get("error")
        else:
            answered = self.game.n_answered
            terms, error = self.game.select(action)
            if self.game.n_answered > answered:
                self.log.append(self.game.answer_record())
        parts = split_terms(terms, role)
        for k, v in terms.items():
            if role == "manager" or (k not in SELECTOR_TERMS and k not in GLOBAL_TERMS):
                self.manager_terms[k] = self.manager_terms.get(k, 0.0) + v
        for r in ROLES:
            mixed = self.alpha * parts[r] + (1 - self.alpha) * self.credit[r] * parts["global"]
            self.returns[r]["local"] += parts[r]
            self.returns[r]["global"] += parts["global"]
            self.returns[r]["mixed"] += mixed
            self.pending[r] += mixed
        return parts, error

    def _play_frozen(self) -> None:
        """Frozen roles act until a learned role's turn (or the end)."""
        while self.game.role in self.frozen:
            role = self.game.role
            agent = self.frozen[role]
            if role == "manager":
                action = agent.act(self.inner._observation(), self._manager_info, self.inner)
            else:
                action = agent.act(self.game.observation(), {}, self.view)
            self._act(role, action)

    def _info(self, role: str, parts: dict[str, float] | None, error: str | None
              ) -> dict[str, Any]:
        info: dict[str, Any] = {"role": role, "error": error}
        if parts is not None:
            info["reward_parts"] = parts
        return info

    def _finish(self) -> None:
        for r in ROLES:
            self.history[r].append((self.returns[r]["local"], self.returns[r]["global"]))
        self.final_info = self._final()

    def _final(self) -> dict[str, Any]:
        records = self.inner.core.records
        recalls = [r["recall"] for r in self.log if r["recall"] is not None]
        return {"qa_score": sum(r.score for r in records) / max(len(records), 1),
                "entries_passed": float(np.mean([r["passed"] for r in self.log]))
                if self.log else 0.0,
                "selection_recall": float(np.mean(recalls)) if recalls else None,
                "manager_terms": dict(self.manager_terms), "credit": dict(self.credit),
                "returns": {r: dict(v) for r, v in self.returns.items()}}

    def play(self, seed: int | None = None, options: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        """One whole episode with both roles frozen (evaluation): the final info."""
        if self.possible_agents:
            raise RuntimeError(f"play() needs both roles frozen; learned: {self.possible_agents}")
        self.reset(seed=seed, options=options)
        assert self.final_info is not None
        return self.final_info


def make_env(config: dict[str, Any] | None = None) -> JointReaderEnv:
    """RLlib env creator (``register_env(name, make_env)``)."""
    return JointReaderEnv(config)
