"""MemReread: read the stream once with no retrieval; reread it only when memory falls short.

MemReread's setting: an agent reads a long input chunk by chunk with the question in mind,
keeping a bounded memory and retrieving nothing along the way. Only when the final memory
cannot answer does it decompose the question and reread the whole input with the
sub-question; RL decides how many rereading passes to make, each at a cost. A pass is linear
in the input, so compute stays linear in length, where per-chunk recall (ReMemR1's callback
into everything read so far) grows with the square of it.

memgym's version (:class:`MemRereadEnv`) over the HopChains stream
(:mod:`memgym.tasks.hop_chains`: questions of 1-3 hops, facts in any order):

- **Reading** (at reset, scripted, the same for every policy): the stream is read once; a
  chunk is kept (:meth:`memgym.envs.core.MemoryCore.keep_chunk`) when it states, without
  hedging, the fact a pending question's *sub-question* asks: the first hop that memory cannot
  resolve yet (``Ann Lee's manager`` until it is known to be Bob Stone, then ``Bob Stone's
  mentor``, ...). A hop stated before the hop that leads to it is passed over: that is the
  out-of-order evidence rereading exists for. Everything is read from visible text (the rule
  parser of :mod:`memgym.facts`), never from labels.
- **Query phase** (the agent): each question comes into view; the agent answers it from
  memory, or makes a **reread pass**: the whole stream read again, keeping what the question's
  current sub-question asks, at ``pass_cost`` (relative to the question's share of QA).
- ``reading="recall"`` is the ReMemR1-style baseline: while reading, at every chunk the reader
  recalls, for every pending sub-question, the ``recall_k`` past chunks BM25 ranks highest
  (one retrieval over everything read so far per chunk) and keeps those that answer it.

Compute is reported per episode in ``info``: ``chunks_read`` (reading + passes) and
``chunks_scanned`` (chunks searched by recalls). Ids ``memgym/MemReread-v0`` and
``memgym/MemReread-Recall-v0`` are registered by :mod:`memgym.recipes.ids`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from memgym.agents.baselines import BaselineAgent
from memgym.envs.core import MemoryCore, StepOutcome
from memgym.envs.episode_pool import EpisodeSource, task_token
from memgym.envs.registration import load_task
from memgym.facts import extract_fact, fact_key, is_hedged, parse_question
from memgym.rewards.terms import TERMS

ANSWER, REREAD = 0, 1
READINGS = ("stream", "recall")
#: Hop counts of the observation's one-hot; deeper questions share the last column.
HOP_COLUMNS = 4
#: The observation's columns, in order (one table: the env and the docs read it).
QUESTION_COLUMNS: tuple[str, ...] = (
    *(f"hops_{h}" for h in range(1, HOP_COLUMNS + 1)), "resolved_share", "passes_share",
    "no_pass_yet", "last_pass_progressed", "last_pass_found_nothing", "answer_abstains",
    "answer_single", "answer_ambiguous", "questions_left", "memory_fill",
)
COLUMN = {name: i for i, name in enumerate(QUESTION_COLUMNS)}


def sub_question(question: str, memory: list[str]) -> tuple[int, int, frozenset[str]]:
    """``(hops, resolved, keys)`` of ``question`` against the ``memory`` texts: its hop count,
    how many leading hops memory resolves (hedged entries aside) and the fact keys of its first
    unresolved hop (the sub-question; empty when fully resolved or not a possessive chain)."""
    parsed = parse_question(question)
    if parsed is None:
        return 0, 0, frozenset()
    subject, attrs = parsed
    facts: dict[str, set[str]] = {}
    for text in memory:
        fact = extract_fact(text)
        if fact is not None and not is_hedged(text):
            facts.setdefault(fact.key, set()).add(fact.value)
    subjects = {subject}
    for hop, attr in enumerate(attrs):
        keys = frozenset(fact_key(s, attr) for s in subjects)
        values = {v for k in keys for v in facts.get(k, ())}
        if not values:
            return len(attrs), hop, keys
        subjects = values
    return len(attrs), len(attrs), frozenset()


def answers_sub_question(text: str, keys: frozenset[str]) -> bool:
    """Whether chunk ``text`` states, unhedged, a fact whose key is one of ``keys``."""
    fact = extract_fact(text)
    return fact is not None and fact.key in keys and not is_hedged(text)


class MemRereadEnv(gym.Env):
    """
    ## Description

    MemReread (module docstring): the stream is read once at reset by a question-aware
    reader that keeps what each question's current sub-question asks; then each question
    comes into view and the agent answers it or rereads the whole stream for it, pass by pass.

    ## Action Space

    ``Discrete(2)``: 0 answer (the reader answers from memory, the next question comes into
    view), 1 reread pass (masked once ``max_passes`` passes were made for this question, and
    on ``MemReread-Recall``, whose ``max_passes`` is 0).

    ## Observation Space

    ``Dict`` with ``question``: ``Box(0, 1, (14,))``, columns :data:`QUESTION_COLUMNS`: the
    question's hop count (one-hot, parsed from its text), the share of hops memory resolves,
    passes made / ``max_passes``, what the last pass did, what the reader would answer now
    (abstain / one value / several), questions left and memory fill. Nothing depends on
    the stream's length, so a policy trained on short streams runs on long ones.

    ## Rewards

    ``qa`` (the core's: each answer's score / number of questions) and ``retrieval``:
    ``-pass_cost / number of questions`` per pass; ``invalid`` for a masked action. Every
    term is in ``info["reward_terms"]``.

    ## Episode End

    Terminates when the last question is answered. A question in view is answered without
    further passes after 3 invalid actions, so episodes are bounded.

    ## Arguments

    ``task`` / ``task_params`` / ``data_path`` / ``split`` / ``episode_pool`` as
    :class:`memgym.envs.structured.MemoryEnv`; ``tiers``, ``reader``, ``reader_params``,
    ``metric``, ``rewards`` as the core; ``top_k`` (3) entries read per hop;
    ``pass_cost`` (0.2); ``max_passes`` (4); ``reading`` (``"stream"`` or ``"recall"``);
    ``recall_k`` (3).

    ## Version History

    - v0: initial release.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    action_layout = "reread_pass"
    action_names = ["answer", "reread_pass"]

    def __init__(
        self,
        task: Any = "memgym.tasks.hop_chains:HopChainsTask",
        task_params: dict[str, Any] | None = None,
        *,
        data_path: str | None = None,
        split: str = "train",
        tiers: dict[str, dict[str, Any]] | None = None,
        reader: str = "bm25",
        reader_params: dict[str, Any] | None = None,
        metric: str = "em",
        rewards: Any = None,
        top_k: int = 3,
        pass_cost: float = 0.2,
        max_passes: int = 4,
        reading: str = "stream",
        recall_k: int = 3,
        episode_pool: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        if reading not in READINGS:
            raise ValueError(f"reading must be one of {', '.join(READINGS)}, got {reading!r}")
        if pass_cost < 0 or max_passes < 0 or recall_k < 1:
            raise ValueError(f"need pass_cost >= 0, max_passes >= 0, recall_k >= 1; got "
                             f"{pass_cost}, {max_passes}, {recall_k}")
        if data_path is not None:
            task_params = {**(task_params or {}), "data_path": str(data_path)}
        self.task = load_task(task, task_params)
        self.split, self.render_mode = split, render_mode
        self.episodes = EpisodeSource(self.task, episode_pool=episode_pool,
                                      token=task_token(task, task_params))
        self.core = MemoryCore(tiers=tiers, ops=("noop",), reader=reader,
                               reader_params=reader_params, metric=metric, rewards=rewards,
                               retrieval_tiers={"memory": {"top_k": int(top_k), "cost": 0.0}})
        self.pass_cost, self.max_passes = float(pass_cost), int(max_passes)
        self.reading, self.recall_k = reading, int(recall_k)
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Dict(
            {"question": spaces.Box(0, 1, (len(QUESTION_COLUMNS),), np.float32)})

    # -- reading ---------------------------------------------------------------------------
    def memory_texts(self) -> list[str]:
        """The texts of the valid memory entries."""
        return [e.text for e in self.core.store.valid_entries()]

    def _keys(self, questions: list[int]) -> frozenset[str]:
        """The fact keys the sub-questions of ``questions`` ask, against memory now."""
        memory, texts = self.memory_texts(), self.core.episode.questions
        return frozenset().union(*(sub_question(texts[q].text, memory)[2] for q in questions))

    def _read(self, questions: list[int]) -> None:
        """One streaming pass over every chunk, keeping what the sub-questions of ``questions``
        ask (the cheap parse first: most chunks state no fact, and the keys read memory)."""
        core = self.core
        for chunk in core.episode.chunks:
            text = chunk.render()
            fact = extract_fact(text)
            if fact is not None and core.sources_in[chunk.id] == 0 and not is_hedged(text) \
                    and fact.key in self._keys(questions):
                core.keep_chunk(chunk.id)
        self.chunks_read += len(core.episode.chunks)

    def _read_with_recall(self, questions: list[int]) -> None:
        """The ReMemR1-style reading: the streaming pass, plus at every chunk a BM25 recall
        over the chunks read so far for every pending sub-question."""
        core = self.core
        texts = [c.render() for c in core.episode.chunks]
        rank = core.reader.ranker(texts)  # one index; each recall keeps chunks before the cursor
        for i, text in enumerate(texts):
            if core.sources_in[i] == 0 and answers_sub_question(text, self._keys(questions)):
                core.keep_chunk(i)
            if i == 0:
                continue
            while True:  # a recall may resolve a hop and open the next sub-question
                memory = self.memory_texts()
                subs = [sub_question(core.episode.questions[q].text, memory)
                        for q in questions]
                queries = [k.replace("|", " ") for _, _, keys in subs for k in sorted(keys)]
                if not queries:
                    break
                self.recalls += 1
                self.chunks_scanned += i
                keys = frozenset().union(*(keys for _, _, keys in subs))
                recalled = {j for ranking in rank(queries)
                            for j in [r for r in ranking if r < i][:self.recall_k]}
                found = [j for j in sorted(recalled)
                         if core.sources_in[j] == 0 and answers_sub_question(texts[j], keys)]
                if not found:
                    break
                for j in found:
                    core.keep_chunk(j)
        self.chunks_read += len(texts)

    # -- gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        episode, _, _ = self.episodes.draw(self.np_random, options, self.split)
        self.start_episode(episode)
        return self._observation(), self._info()

    def start_episode(self, episode: Any) -> None:
        """Read ``episode`` (the scripted reading phase) and bring its first question into view."""
        core = self.core
        core.start(episode)
        self.chunks_read = self.chunks_scanned = self.recalls = self.passes_total = 0
        self.passes, self.last_progress, self.invalid_here = 0, None, 0
        pending = list(range(len(episode.questions)))
        if self.reading == "recall":
            self._read_with_recall(pending)
        else:
            self._read(pending)
        while core.view.kind == "chunk":  # the reader has read: move the cursor to the end
            core.apply("noop")
        self.passes_by_hops: dict[str, list[int]] = {}

    def action_masks(self) -> np.ndarray:
        """Valid actions now (sb3-contrib's MaskablePPO calls this)."""
        live = self.core.view.kind == "question"
        return np.array([True, live and self.passes < self.max_passes])

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        core = self.core
        terms = dict.fromkeys(TERMS, 0.0)
        try:
            a = int(action)
        except (TypeError, ValueError):
            a = -1
        if core.done:
            return self._observation(), 0.0, True, False, self._info(terms, "episode_over")
        if a == REREAD and self.action_masks()[REREAD]:
            q = core.view.question
            before = sub_question(core.episode.questions[q].text, self.memory_texts())[1]
            self._read([q])
            after = sub_question(core.episode.questions[q].text, self.memory_texts())[1]
            self.last_progress = after > before
            self.passes += 1
            self.passes_total += 1
            core.op_counts["reread_pass"] += 1
            terms["retrieval"] = -core.weights["retrieval"] * self.pass_cost / core.n_questions
            return self._observation(), terms["retrieval"], False, False, self._info(terms)
        error = None
        if a != ANSWER:
            error = "invalid_action"
            core.invalid_count += 1
            self.invalid_here += 1
            terms["invalid"] = -core.weights["invalid"]
            if self.invalid_here < 3:
                return self._observation(), terms["invalid"], False, False, self._info(terms, error)
        outcome = self._answer()
        for k, v in outcome.terms.items():
            terms[k] += v
        reward = float(sum(terms.values()))
        return self._observation(), reward, outcome.done, False, self._info(terms, error)

    def _answer(self) -> StepOutcome:
        core = self.core
        question = core.episode.questions[core.view.question]
        label = "abstain" if question.kind == "abstain" else \
            f"{sub_question(question.text, [])[0]}-hop"  # for the report only, never observed
        self.passes_by_hops.setdefault(label, []).append(self.passes)
        outcome = core.apply("route", tier="memory")
        self.passes, self.last_progress, self.invalid_here = 0, None, 0
        return outcome

    # -- observation -----------------------------------------------------------------------
    def _observation(self) -> dict[str, np.ndarray]:
        out = np.zeros(len(QUESTION_COLUMNS), dtype=np.float32)
        core = self.core
        if core.view.kind != "question":
            return {"question": out}
        question = core.episode.questions[core.view.question]
        memory = self.memory_texts()
        hops, resolved, _ = sub_question(question.text, memory)
        if hops:
            out[min(hops, HOP_COLUMNS) - 1] = 1.0
        out[COLUMN["resolved_share"]] = resolved / hops if hops else 1.0
        out[COLUMN["passes_share"]] = self.passes / self.max_passes if self.max_passes else 1.0
        out[COLUMN["no_pass_yet"]] = self.last_progress is None
        out[COLUMN["last_pass_progressed"]] = self.last_progress is True
        out[COLUMN["last_pass_found_nothing"]] = self.last_progress is False
        reply = core.retrieval_readers["memory"].answer_all([question.text], memory)[0]
        state = ("answer_abstains" if reply.mode == "abstain" else
                 "answer_ambiguous" if " or " in reply.text else "answer_single")
        out[COLUMN[state]] = 1.0
        out[COLUMN["questions_left"]] = (len(core.queue)) / core.n_questions
        out[COLUMN["memory_fill"]] = len(memory) / core.entry_capacity
        return {"question": out}

    def _info(self, terms: dict[str, float] | None = None, error: str | None = None
              ) -> dict[str, Any]:
        core = self.core
        info: dict[str, Any] = {"action_mask": self.action_masks(), "view": core.view.kind,
                                "passes": self.passes, "error": error, "ok": error is None}
        if core.view.kind == "question":
            memory = self.memory_texts()
            question = core.episode.questions[core.view.question].text
            keys = sub_question(question, memory)[2]
            info["sub_question"] = " / ".join(k.replace("|", "'s ") for k in sorted(keys))
        if terms is not None:
            info["reward_terms"] = terms
        if core.done:
            records = core.records
            info.update(qa_score=sum(r.score for r in records) / max(len(records), 1),
                        chunks_read=self.chunks_read, chunks_scanned=self.chunks_scanned,
                        recalls=self.recalls, passes_total=self.passes_total,
                        passes_by_hops={h: list(v) for h, v in self.passes_by_hops.items()})
        return info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        core = self.core
        lines = [f"memory ({len(self.memory_texts())} entries):"]
        lines += [f"  [{e.id}] {e.text}" for e in core.store.valid_entries()]
        lines.append(f"view ({core.view.kind}): {core.view.text}")
        return "\n".join(lines)


def make_env(**kwargs: Any) -> MemRereadEnv:
    """Gymnasium entry point (``memgym.recipes.memreread:make_env``)."""
    return MemRereadEnv(**kwargs)


# -- baselines (act on the answer / reread_pass actions) -----------------------------------
class PassBaseline(BaselineAgent):
    """A baseline of MemRereadEnv's answer / reread_pass actions."""

    acts_on = "reread_pass"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        base = env.unwrapped
        want = self.wants_pass(base)
        return REREAD if want and base.action_masks()[REREAD] else ANSWER

    def wants_pass(self, env: MemRereadEnv) -> bool:
        raise NotImplementedError


class NoRereadAgent(PassBaseline):
    """Answer from the memory of the single reading (MemAgent: no rereading)."""

    name = "no_reread"

    def wants_pass(self, env: MemRereadEnv) -> bool:
        return False


class FixedPassesAgent(PassBaseline):
    """Always ``k`` passes per question, whatever memory already answers."""

    k = 1

    def wants_pass(self, env: MemRereadEnv) -> bool:
        return env.passes < self.k


class OnePassAgent(FixedPassesAgent):
    name, k = "reread_1", 1


class TwoPassesAgent(FixedPassesAgent):
    name, k = "reread_2", 2


class ThreePassesAgent(FixedPassesAgent):
    name, k = "reread_3", 3


class UntilResolvedAgent(PassBaseline):
    """Hand-written stopping rule: reread while a hop is unresolved and the last pass (if any)
    found something; a pass that found nothing would find nothing again."""

    name = "reread_until"

    def wants_pass(self, env: MemRereadEnv) -> bool:
        core = env.core
        question = core.episode.questions[core.view.question].text
        hops, resolved, _ = sub_question(question, env.memory_texts())
        return resolved < hops and env.last_progress is not False


#: The pass baselines (named in :data:`memgym.agents.baselines.BASELINE_PATHS`).
PASS_BASELINES = {cls.name: cls for cls in (NoRereadAgent, OnePassAgent, TwoPassesAgent,
                                            ThreePassesAgent, UntilResolvedAgent)}
