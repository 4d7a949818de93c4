"""The episode loop both interfaces share: stream -> memory -> reader -> reward.

An episode has an ingest phase (one chunk in view at a time; the agent issues ops, then moves
on) and answers questions as they fall due: a question with ``asked_after = i`` right after
chunk ``i``, the rest after the last chunk. With ``retrieval_tiers`` set, each due question
comes into view and the agent routes it to a retrieval tier (BudgetMem-style); otherwise the
default reader answers it at once.

Progress is guaranteed: every op on a stream chunk (valid or not) uses one of the chunk's
``ops_per_chunk`` ops, ``noop`` moves on at once, a reread brings a past chunk or archived
entry into view for one op and then returns to the chunk, and at most
``max_rereads_per_chunk`` rereads are allowed per chunk. Invalid ops never change memory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from memgym.episode import Episode
from memgym.envs.memory import OPS, MemoryStore, OpResult, count_tokens, parse_tiers
from memgym.envs.credit import credited_source
from memgym.envs.ledger import EvidenceLedger
from memgym.rewards.evidence import evidence_shares, recall_ranker
from memgym.rewards.metrics import score_answer
from memgym.rewards.reader import ABSTAIN as _NO_ANSWER
from memgym.rewards.reader import make_reader
from memgym.rewards.terms import TERMS, RewardConfig, reward_config

DEFAULT_RETRIEVAL_TIERS: dict[str, dict[str, Any]] = {
    "low": {"top_k": 1, "cost": 0.0},
    "mid": {"top_k": 3, "cost": 0.05},
    "high": {"top_k": 5, "cost": 0.2, "archive": True, "log": True},
}


@dataclass(frozen=True)
class View:
    """What is in front of the agent: a stream chunk, a recalled text or a question."""

    kind: str  # "chunk" | "recalled" | "question" | "none"
    text: str = ""
    source: int | None = None  # chunk id the text comes from
    question: int | None = None  # index into episode.questions


@dataclass
class QARecord:
    id: str
    kind: str
    question: str
    prediction: str
    answers: tuple[str, ...]
    score: float
    asked_after: int | None
    route: str | None = None
    #: Share of the question's evidence chunks in memory when it was answered (None: no
    #: evidence ids) and whether a conflicting (stale / planted) chunk was kept beside it.
    evidence_kept: float | None = None
    stale_kept: bool = False
    #: Share of the evidence chunks among the reader's top ``evidence_k`` ranked entries.
    evidence_recall: float | None = None


@dataclass
class StepOutcome:
    result: OpResult
    terms: dict[str, float]
    reward: float
    done: bool
    answered: list[QARecord] = field(default_factory=list)


class MemoryCore(EvidenceLedger):
    """Owns one episode's memory, cursor, questions and reward bookkeeping."""

    def __init__(
        self,
        *,
        tiers: dict[str, dict[str, Any]] | None = None,
        ops: tuple[str, ...] = ("noop", "add", "update", "delete"),
        reader: str = "bm25",
        reader_params: dict[str, Any] | None = None,
        metric: str = "em",
        rewards: RewardConfig | dict | None = None,
        ops_per_chunk: int = 1,
        max_rereads_per_chunk: int = 1,
        archive_capacity: int | None = None,
        retrieval_tiers: dict[str, dict[str, Any]] | bool | None = None,
    ) -> None:
        unknown = set(ops) - set(OPS)
        if unknown:
            raise ValueError(f"ops: unknown {sorted(unknown)}; valid ops are {', '.join(OPS)}")
        if ops_per_chunk < 1:
            raise ValueError(f"ops_per_chunk must be >= 1, got {ops_per_chunk}")
        self.tiers = parse_tiers(tiers)
        self.ops = tuple(op for op in OPS if op in set(ops) | {"noop"})
        self.reader = make_reader(reader, **(reader_params or {}))
        self.metric = metric
        score_answer_check = score_answer  # fail fast on an unknown metric name
        score_answer_check(_NO_ANSWER, ("x",), metric)
        self.rewards = reward_config(rewards)
        self.weights = {term: self.rewards.weight(term) for term in TERMS}
        self.ops_per_chunk = ops_per_chunk
        self.max_rereads_per_chunk = max_rereads_per_chunk
        self.archive_capacity = archive_capacity
        if retrieval_tiers is True:
            retrieval_tiers = DEFAULT_RETRIEVAL_TIERS
        self.retrieval_tiers = dict(retrieval_tiers or {})
        self.retrieval_readers = {
            name: make_reader(reader, **{**(reader_params or {}), "top_k": int(spec["top_k"])})
            for name, spec in self.retrieval_tiers.items()
        }
        self.recall_ranker = recall_ranker(self.reader, self.rewards.evidence_k)
        self.default_tier = self.tiers.default
        self.entry_capacity = self.tiers.n_slots
        self.episode: Episode | None = None

    # -- episode lifecycle ---------------------------------------------------------------
    def start(self, episode: Episode) -> None:
        self.episode = episode
        self.store = MemoryStore(self.tiers, self.archive_capacity)
        self.step_count = 0
        self.cursor = 0
        self.ops_used = 0
        self.rereads_used = 0
        self.invalid_in_view = 0
        self.records: list[QARecord] = []
        self.op_counts: Counter[str] = Counter()
        self.invalid_count = 0
        self.memory_trace: list[int] = []
        self.queue: list[int] = []
        self.done = not episode.chunks
        self.stream_tokens = sum(count_tokens(c.render()) for c in episode.chunks)
        self.due: dict[int, list[int]] = {}
        for i, q in enumerate(episode.questions):
            after = q.asked_after if q.asked_after is not None else len(episode.chunks) - 1
            self.due.setdefault(after, []).append(i)
        self._init_potential(episode.questions)
        self.n_evidence_questions = max(sum(bool(q.evidence) for q in episode.questions), 1)
        self.view = self._chunk_view() if episode.chunks else View("none")

    def _chunk_view(self) -> View:
        chunk = self.episode.chunks[self.cursor]
        return View("chunk", chunk.render(), chunk.id)

    @property
    def n_questions(self) -> int:
        return max(len(self.episode.questions), 1)

    # -- the step ------------------------------------------------------------------------
    def check(self, op: str, target: int | None = None, tier: str | None = None,
              text: str | None = None, chunk: int | None = None) -> str | None:
        """Why ``op`` cannot run now (an error code), or ``None`` when it can. ``text`` is the
        agent's own text for add / update (default: the text in view); a reread recalls past
        chunk ``chunk`` or else archived entry ``target``."""
        view = self.view
        if self.done:
            return "episode_over"
        if op not in self.ops and not (op == "route" and view.kind == "question"):
            return "op_not_enabled"
        if view.kind == "question":
            if op != "route":
                return "must_route_question"
            return None if tier in self.retrieval_tiers else "unknown_tier"
        store = self.store
        if op in ("update", "delete", "evict", "route", "invalidate") and \
                target not in store.entries:
            return "unknown_id"
        if op == "invalidate" and store.entries[target].invalidated is not None:
            return "already_invalid"
        if op in ("add", "update"):
            text = view.text if text is None else text
            if not text.strip():
                return "empty_text"
            if op == "add":
                return store.room(tier or self.default_tier, count_tokens(text))
            return store.room(store.entries[target].tier, count_tokens(text),
                              replacing=store.entries[target])
        if op == "route":
            entry = store.entries[target]
            return "same_tier" if tier == entry.tier else store.room(tier, entry.tokens)
        if op == "reread":
            if view.kind != "chunk" or self.rereads_used >= self.max_rereads_per_chunk:
                return "reread_limit"
            if chunk is not None:
                return None if 0 <= chunk < len(store.log) else "unknown_chunk"
            if target not in store.archive:
                return "unknown_id"
        return None

    def apply(self, op: str, *, target: int | None = None, tier: str | None = None,
              text: str | None = None, chunk: int | None = None,
              malformed: str | None = None) -> StepOutcome:
        """Run one op. ``target`` is an entry id (archived for reread), ``chunk`` a chunk id
        to reread, ``text`` overrides the view text for add / update (text interface).
        ``malformed`` (the parse error of an unreadable text action) makes the step a
        format failure: memory unchanged, the ``format`` penalty instead of ``invalid``."""
        terms = dict.fromkeys(TERMS, 0.0)
        answered: list[QARecord] = []
        phi_before = self.potential()
        self.step_count += 1
        view = self.view
        error = "malformed" if malformed is not None else self.check(op, target, tier, text, chunk)
        if error is None:
            result = self._execute(op, target, tier, text, chunk, terms, answered)
        else:
            message = malformed or _error_message(error, op, target, tier)
            result = OpResult(op, False, target, error, message)
        if not result.ok:
            self.invalid_count += 1
            terms["format" if malformed is not None else "invalid"] = -1.0
            if view.kind == "question":
                self.invalid_in_view += 1
                if self.invalid_in_view >= 3:  # stop a stuck agent: answer with no memory
                    self._answer_routed(None, terms, answered)
        else:
            self.op_counts[op] += 1
        if view.kind == "recalled":
            self.view = self._chunk_view()
        elif view.kind == "chunk" and not (result.ok and op == "reread"):
            self.ops_used += 1
            if op == "noop" or self.ops_used >= self.ops_per_chunk:
                self._advance(terms, answered)
        terms["shaping"] = self.potential() - phi_before
        weights = self.weights
        weighted = {k: weights[k] * v for k, v in terms.items()}
        return StepOutcome(result, weighted, float(sum(weighted.values())), self.done, answered)

    def _execute(self, op: str, target: int | None, tier: str | None, text: str | None,
                 chunk: int | None, terms: dict[str, float], answered: list[QARecord]
                 ) -> OpResult:
        store, view, step = self.store, self.view, self.step_count
        if op == "noop":
            result = OpResult("noop", True, message="moved on")
        elif op == "add":
            source = self._source_of(text)
            result = store.add(view.text if text is None else text, tier or self.default_tier,
                               source=source, step=step, time=view.source)
            if result.ok:
                self._source_moved(source, +1)
        elif op == "update":
            old, source = self._current_source(target), self._source_of(text)
            result = store.update(target, view.text if text is None else text,
                                  source=source, step=step, time=view.source)
            if result.ok:
                self._source_moved(old, -1)
                self._source_moved(source, +1)
        elif op in ("delete", "evict"):
            source = self._current_source(target)
            result = store.delete(target) if op == "delete" else store.evict(target)
            if self.view.source is not None:  # what was in view when memory was thrown away
                self.removed_during.add(self.view.source)
            self._source_moved(source, -1)
        elif op == "route" and view.kind == "question":
            return self._answer_routed(tier, terms, answered)
        elif op == "route":
            result = store.route(target, tier)
        elif op == "invalidate":
            source = store.entries[target].source
            result = store.invalidate(target, step=step)
            self._source_moved(source, -1)  # no longer read: out of the evidence ledger
        else:  # reread
            result = store.recall_chunk(chunk) if chunk is not None else store.recall_archived(target)
            if result.ok:
                self.rereads_used += 1
                terms["retrieval"] -= self.rewards.reread_cost
                self.view = View("recalled", result.view, result.view_source)
        if result.ok:
            terms["op_cost"] -= self.rewards.op_costs.get(op, 0.0)
        return result

    def keep_chunk(self, chunk: int) -> OpResult:
        """Write chunk ``chunk`` into the default tier outside the agent's turn (a recipe's
        scripted reader: MemReread), over the oldest entry when full; the evidence ledger
        follows, the step does not. Counted as ``op_counts["keep"]``."""
        store, tier, text = self.store, self.default_tier, self.episode.chunks[chunk].render()
        if store.room(tier, count_tokens(text)) is None:
            result = store.add(text, tier, source=chunk, step=self.step_count, time=chunk)
        else:
            held = [e for e in store.entries.values() if e.tier == tier]
            if not held:
                return OpResult("keep", False, None, "over_token_budget", "the text does not fit")
            oldest = min(held, key=lambda e: (e.updated, e.id))
            old = self._current_source(oldest.id)
            result = store.update(oldest.id, text, source=chunk, step=self.step_count, time=chunk)
            if result.ok:
                self._source_moved(old, -1)
        if result.ok:
            self._source_moved(chunk, +1)
            self.op_counts["keep"] += 1
        return result

    def _current_source(self, target: int) -> int | None:
        """The evidence ledger's source of entry ``target`` (None once invalidated: the
        ledger let go of it then)."""
        entry = self.store.entries[target]
        return entry.source if entry.invalidated is None else None

    def _source_of(self, text: str | None) -> int | None:
        """The chunk an add / update of ``text`` is credited with (evidence ledger, evidence
        terms, oracle diagnostics): the chunk in view when the text is the view's, else only
        if the agent's text carries that chunk's content (:mod:`memgym.envs.credit`)."""
        view = self.view
        if text is None or view.source is None or text == view.text:
            return view.source
        return credited_source(text, view.text, view.source, self.episode)

    # -- moving through the stream and answering -----------------------------------------
    def _advance(self, terms: dict[str, float], answered: list[QARecord]) -> None:
        episode = self.episode
        self.store.log.append(episode.chunks[self.cursor])
        used = sum(self.store.tier_entries.values())
        self.memory_trace.append(used)
        terms["memory_size"] -= used / self.entry_capacity / len(episode.chunks)
        due = self.due.get(self.cursor, [])
        self.cursor += 1
        self.ops_used = self.rereads_used = 0
        if self.retrieval_tiers:
            self.queue.extend(due)
        elif due:
            self._answer(due, self.reader, terms, answered)
        self._next_view(terms)

    def _next_view(self, terms: dict[str, float]) -> None:
        self.invalid_in_view = 0
        if self.queue:
            q = self.queue[0]
            self.view = View("question", self.episode.questions[q].text, None, q)
        elif self.cursor < len(self.episode.chunks):
            self.view = self._chunk_view()
        else:
            self.view = View("none")
            self.done = True
            if self.stream_tokens:
                terms["compression"] += 1.0 - self.store.total_tokens() / self.stream_tokens

    def _answer_routed(self, tier: str | None, terms: dict[str, float],
                       answered: list[QARecord]) -> OpResult:
        q = self.queue.pop(0)
        if tier is None:
            self._answer([q], None, terms, answered, route="none")
        else:
            terms["retrieval"] -= float(self.retrieval_tiers[tier].get("cost", 0.0))
            self._answer([q], self.retrieval_readers[tier], terms, answered,
                         self._beyond_memory(tier), route=tier)
        self._next_view(terms)
        return OpResult("route", True, message=f"answered question {q} via {tier}")

    def retrieval_pool(self, tier: str) -> tuple[list[str], list[int]]:
        """Texts a retrieval tier searches (memory, then archive / stream log if the tier
        says so) and the indices always shown to the reader."""
        entries = self.store.valid_entries()
        return [e.text for e in entries] + self._beyond_memory(tier), self._shown(entries)

    def _beyond_memory(self, tier: str) -> list[str]:
        """What retrieval tier ``tier`` searches besides memory: the archive, the stream log."""
        spec = self.retrieval_tiers[tier]
        texts = [e.text for e in self.store.archive.values()] if spec.get("archive") else []
        if spec.get("log"):
            texts += [c.render() for c in self.store.log]
        return texts

    def _shown(self, entries: list[Any]) -> list[int]:
        """Indices of the ``entries`` in a tier always shown to the reader."""
        return [i for i, e in enumerate(entries) if self.store.tier_specs[e.tier].always_shown]

    def _answer(self, due: list[int], reader: Any, terms: dict[str, float],
                answered: list[QARecord], extra: list[str] = (), route: str | None = None
                ) -> None:
        entries = self.store.valid_entries()
        texts = [e.text for e in entries] + list(extra)
        shown = self._shown(entries)
        questions = [self.episode.questions[i] for i in due]
        if reader is None:
            replies = [_NO_ANSWER] * len(questions)
        elif getattr(reader, "time_aware", False):  # entries' stream times; extra texts: -1
            times = [-1 if e.time is None else e.time for e in entries] + [-1] * len(extra)
            replies = reader.answer_all([q.text for q in questions], texts, shown, times=times)
        else:
            replies = reader.answer_all([q.text for q in questions], texts, shown)
        shares = evidence_shares([q.evidence for q in questions], [q.text for q in questions],
                                 texts[:len(entries)], [e.source for e in entries],
                                 self.recall_ranker, self.rewards.evidence_k)
        for i, q, reply, (retention, recall) in zip(due, questions, replies, shares):
            for used in reply.used:
                if used < len(entries):
                    entries[used].hits += 1
                    entries[used].last_used = self.step_count
            score = score_answer(reply, q.answers, self.metric)
            terms["qa"] += score / self.n_questions
            if retention is not None:
                terms["evidence"] += retention / self.n_evidence_questions
                terms["evidence_recall"] += recall / self.n_evidence_questions
            self.ready_sum -= self._ready(i)
            self.answered[i] = True
            kept = self.evidence_in[i] / self.need[i] if self.need[i] else None
            record = QARecord(q.id or f"q{i}", q.kind, q.text, reply.text, q.answers, score,
                              q.asked_after, route, kept, self.conflicts_in[i] > 0, recall)
            self.records.append(record)
            answered.append(record)


def _error_message(error: str, op: str, target: int | None, tier: str | None) -> str:
    messages = {
        "episode_over": "the episode is over; call reset()",
        "op_not_enabled": f"op {op!r} is not enabled in this environment",
        "must_route_question": "a question is in view: route it to a retrieval tier",
        "unknown_id": f"no entry with id {target} in memory",
        "unknown_tier": f"unknown tier {tier!r}",
        "tier_full": f"tier {tier} is full",
        "over_token_budget": "the text does not fit the tier's token budget",
        "same_tier": f"entry {target} is already in tier {tier}",
        "reread_limit": "no reread allowed now (limit per chunk reached, or not on a chunk)",
        "empty_text": "the text is empty",
        "already_invalid": f"entry {target} is already invalidated",
    }
    return messages.get(error, error)

