"""Hop chains: questions of 1 to ``max_hops`` hops over facts stated in any order.

## Description

The MultiHop stream (:mod:`memgym.tasks.multihop`: its names, values, fact templates, hedged
rumours, filler and mentions) with chains of varying depth. A chain of ``h`` hops is ``h``
reliable facts: ``h - 1`` bridges (``"Ann Lee's manager is Bob Stone."``, ``"Bob Stone's
mentor is Cara Ito."``) and a target (``"Cara Ito's city is Oslo."``), at random positions,
so later hops are often stated *before* the hop that makes them relevant. The question
``"What is Ann Lee's manager's mentor's city?"`` (kind ``lookup`` for one hop,
``multi-hop`` otherwise) needs all ``h``; the reader resolves it hop by hop. Rumours give a
wrong value for one hop and open with a hedge marker (:data:`HEDGED_MARKERS`).

This is the setting of MemReread (:mod:`memgym.recipes.memreread`): a reader that streams
through the text once with the question in mind cannot know that ``Cara Ito's city`` matters
before it has read who Ann's manager's mentor is. The number of out-of-order hops, and so the
passes a rereading reader needs, grows with the question's depth.

``abstain_questions`` adds chains through a relation never stated (answer ``unknown``): no
amount of rereading finds them.

## Action Space

Set by the environment (:class:`memgym.envs.structured.MemoryEnv`): one flat ``Discrete``
over (op, target) pairs for the level's ``ops``, invalid pairs masked. The text interface
takes the same ops as tool calls.

## Observation Space

Structured: a flat ``Dict`` of ``Box`` arrays (chunk features, per-slot relations, budget).
Text: a prompt listing memory with ids, the chunk in view and the budget.

## Rewards

The reader's QA score over the questions (exact match), minus memory-size and op costs;
optional evidence shaping (:mod:`memgym.rewards.terms`).

## Episode End

After the last chunk, once every question is answered.

## Arguments

- ``length`` (40): chunks in the stream.
- ``n_chains`` (3): queried chains, one question each.
- ``max_hops`` (3): each chain has 1 to ``max_hops`` hops, uniformly.
- ``distractor_rate`` (0.3), ``filler_rate`` (0.2): as MultiHop.
- ``abstain_questions`` (0): questions through a relation never stated.

## Version History

- v0: initial version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.facts import is_hedged
from memgym.tasks.base import WRITE_OPS, check_rate, rate_count, resolve_params, split_rng
from memgym.tasks.multihop import RELATIONS, RUMOUR_MARKERS, TARGET_VALUES, surface_pools

#: MultiHop's rumour markers that the generic hedge lexicon (:func:`memgym.facts.is_hedged`)
#: recognises (all but "Word is,"). MemReread's scripted reader judges reliability with that
#: lexicon; a rumour it cannot recognise resolves a hop with a wrong value for every policy
#: alike (measured: 0.61 QA at 4x for every rereading policy, most failures such rumours),
#: which would hide what rereading does.
HEDGED_MARKERS: tuple[str, ...] = tuple(m for m in RUMOUR_MARKERS if is_hedged(m))


@dataclass(frozen=True)
class HopChainsParams:
    """Parameters of :class:`HopChainsTask`; any of them can be overridden per episode."""

    length: int = 40
    """Chunks in the stream (held-out streams may be 16x longer)."""
    n_chains: int = 3
    """Queried chains; one question each."""
    max_hops: int = 3
    """Hops of a chain are drawn uniformly from 1 .. max_hops."""
    distractor_rate: float = 0.3
    """Share of chunks that are hedged rumours with a wrong value for a queried hop."""
    filler_rate: float = 0.2
    """Share of chunks that are generic filler; other non-fact chunks are mentions."""
    abstain_questions: int = 0
    """Extra questions through a relation never stated (answer ``"unknown"``)."""

    def __post_init__(self) -> None:
        if self.n_chains < 1:
            raise ValueError(f"n_chains must be >= 1, got {self.n_chains}")
        if not 1 <= self.max_hops <= len(RELATIONS) + 1:
            raise ValueError(f"max_hops must be in [1, {len(RELATIONS) + 1}], got {self.max_hops}")
        if self.length < self.n_chains * self.max_hops:
            raise ValueError(f"length={self.length} cannot hold the facts of {self.n_chains} "
                             f"chains of up to {self.max_hops} hops")
        check_rate("distractor_rate", self.distractor_rate)
        check_rate("filler_rate", self.filler_rate)
        if self.abstain_questions < 0:
            raise ValueError(f"abstain_questions must be >= 0, got {self.abstain_questions}")


class HopChainsTask:
    """Questions of 1 to ``max_hops`` hops over facts in random order, among rumours."""

    name = "hop_chains"

    def __init__(self, **params: Any) -> None:
        self.params = resolve_params(HopChainsParams, None, params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        """The episode ``seed`` of ``split`` (deterministic in all arguments)."""
        p = resolve_params(HopChainsParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools = surface_pools(split)

        def pick(pool: Any) -> Any:
            return pool[int(rng.integers(len(pool)))]

        hops = [int(h) for h in rng.integers(1, p.max_hops + 1, p.n_chains)]
        n_cast = sum(hops) + p.n_chains + 2  # every chain's people, plus bystanders
        if n_cast > len(pools["people"]):
            raise ValueError(f"split {split!r} has too few names for {sum(hops)} hops")
        order = rng.permutation(len(pools["people"]))[:n_cast].tolist()
        cast = [pools["people"][i] for i in order]
        # chains[c] = [(subject, attribute, value) per hop]: the last hop is the target.
        chains: list[list[tuple[str, str, str]]] = []
        start = 0
        for h in hops:
            people = cast[start:start + h + 1]
            start += h + 1
            relations = [RELATIONS[i] for i in rng.permutation(len(RELATIONS))[:h - 1].tolist()]
            attribute = pick(tuple(TARGET_VALUES))
            facts = [(people[k], relations[k], people[k + 1]) for k in range(h - 1)]
            facts.append((people[h - 1], attribute, pick(pools["values"][attribute])))
            chains.append(facts)

        n_facts = sum(hops)
        n_rumours = min(rate_count(p.distractor_rate, p.length), p.length - n_facts)
        n_filler = min(rate_count(p.filler_rate, p.length), p.length - n_facts - n_rumours)
        positions = rng.permutation(p.length).tolist()
        fact_pos, positions = positions[:n_facts], positions[n_facts:]
        rumour_pos, positions = positions[:n_rumours], positions[n_rumours:]
        filler_pos, mention_pos = positions[:n_filler], positions[n_filler:]

        texts = [""] * p.length
        evidence: list[list[int]] = []
        at = iter(fact_pos)
        for facts in chains:
            evidence.append([])
            for s, a, v in facts:
                pos = next(at)
                texts[pos] = pick(pools["facts"]).format(s=s, a=a, v=v)
                evidence[-1].append(pos)
        conflicting: list[list[int]] = [[] for _ in chains]
        for pos in rumour_pos:  # a wrong value for one hop of one chain, hedged
            c = int(rng.integers(p.n_chains))
            s, a, v = chains[c][int(rng.integers(hops[c]))]
            pool = pools["values"][a] if a in TARGET_VALUES else tuple(cast)
            wrong = pick(tuple(x for x in pool if x not in (v, s)))
            texts[pos] = pick(pools["rumours"]).format(m=pick(HEDGED_MARKERS), s=s, a=a, v=wrong)
            conflicting[c].append(pos)
        for pos in filler_pos:
            texts[pos] = pick(pools["filler"])
        for pos in mention_pos:
            i, j = (int(x) for x in rng.permutation(n_cast)[:2])
            texts[pos] = pick(pools["mentions"]).format(p=cast[i], q=cast[j])

        questions = []
        for c, facts in enumerate(chains):
            path = "'s ".join([facts[0][0]] + [a for _, a, _ in facts])
            questions.append(Question(
                text=pick(pools["questions"]).format(c=path), answers=(facts[-1][2],),
                evidence=tuple(evidence[c]), kind="lookup" if hops[c] == 1 else "multi-hop",
                conflicting=tuple(sorted(conflicting[c])), id=f"q{c}"))
        stated = {(s, a) for facts in chains for s, a, _ in facts}
        for k in range(p.abstain_questions):  # through a relation never stated for them
            subject = pick(tuple(facts[0][0] for facts in chains))
            relation = pick(tuple(r for r in RELATIONS if (subject, r) not in stated))
            path = f"{subject}'s {relation}'s {pick(tuple(TARGET_VALUES))}"
            questions.append(Question(text=pick(pools["questions"]).format(c=path),
                                      answers=("unknown",), evidence=(), kind="abstain",
                                      id=f"q{len(chains) + k}"))
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions), task=self.name, split=split, seed=seed,
            params=asdict(p),
            labels={"facts": sorted(fact_pos), "distractors": sorted(rumour_pos),
                    "filler": sorted(filler_pos + mention_pos), "hops": hops},
        )


register_task(
    "HopChains", HopChainsTask,
    levels={
        "Medium": {
            "task": {"length": 40, "n_chains": 3, "max_hops": 3, "abstain_questions": 1},
            "env": {"tiers": {"episodic": {"entries": 9, "tokens": None}}, "ops": WRITE_OPS},
        },
    },
    description="Questions of 1-3 hops over facts stated in any order, among hedged rumours.",
)
