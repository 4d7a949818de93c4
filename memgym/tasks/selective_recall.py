"""SelectiveRecall: grammar-generated symbol streams with irregular gaps and distractors.

## Description

A SelectivBench-style selective-copying stream. ``n_items`` register writes ("Commit:
Register K4's symbol is dovu.") are separated by gaps of irregular length (``gap``
distribution with mean ``mean_gap``). Each gap chunk is a distractor with probability
``distractor_rate``, otherwise idle noise. Distractors look like the items: lures that state a
wrong symbol for an item's (or another) register, either hedged ("Someone guessed Register
K4's symbol is mabo.") or marked as not stored ("Cancelled write: Register K4's symbol is
mabo."), and symbol bursts that name symbols but state no fact ("Noise burst: mabo dovu
tirek."). At the end one recall question per item asks the register's symbol. With a memory of
``n_items`` entries the agent must keep exactly the committed writes: a lure kept beside an
item makes the answer ambiguous, a lure that displaces an item loses it.

Every chunk's text is generated from a small probabilistic grammar (:data:`GRAMMAR`): each
nonterminal has weighted productions, expanded with the episode's seeded generator. It is
written out here rather than taken from a library because episodes must be a pure function of
``(task, split, seed, params)`` drawn from memgym's per-split random stream, with
split-disjoint terminal pools; a ~20-line expander does that, while NLTK (not a dependency)
enumerates grammars rather than sampling them. The relevance signal is in the text: hedge
words (a generic lexicon, shared by all splits) and the "not stored" markers
(:data:`VOID_MARKERS`, shared by all splits, the cue a policy must learn from words alone).
Commit markers, register names, symbols and question templates are split-disjoint.

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add -> tier,
update slot k, ...), masked by ``action_masks()``; see :mod:`memgym.envs.structured`.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays; see :mod:`memgym.envs.structured`.

## Rewards

Set by the environment: the reader's exact-match score on each recall question (1 /
``n_items`` each), optional dense evidence shaping, costs as configured.

## Episode End

After the last chunk, once every recall question is answered.

## Arguments

Task parameters (:class:`SelectiveRecallParams`, overridable per episode):

- ``n_items=4``: register writes to recall (one question each).
- ``gap="uniform"``: gap length distribution, ``fixed`` / ``uniform`` (0..2 mean) /
  ``geometric`` (the grammar's recursive "one more filler" rule).
- ``mean_gap=6.0``: mean number of filler chunks before each item and after the last one.
- ``distractor_rate=0.4``: probability that a filler chunk is a distractor, not noise.
- ``vocab_size=16``: distinct symbols in the episode (items and distractors draw from them).

## Version History

- v0: initial release.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import Any

import numpy as np

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import WRITE_OPS, check_rate, resolve_params, split_pool, split_rng
from memgym.tasks.fact_words import HEDGE_MARKERS

GAPS: tuple[str, ...] = ("fixed", "uniform", "geometric")
#: Markers of writes that were NOT stored (shared by all splits: the signal to learn).
VOID_MARKERS: tuple[str, ...] = (
    "Cancelled write:", "Discarded draft:", "Void entry:", "Rolled back:", "Scratch value:",
    "Obsolete copy:", "Test pattern only:", "Aborted write:",
)
#: Markers of committed writes (split-disjoint).
COMMIT_MARKERS: list[str] = [
    "Commit:", "Store:", "Write confirmed:", "Saved:", "Persist:", "Recorded:", "Logged:",
    "Final write:", "Register update:", "Accepted:", "Checkpoint:", "Write applied:",
    "Stored for recall:", "Flushed to disk:", "Entry kept:", "Journal:", "Confirmed:",
    "Set:", "Assigned:", "Latched:",
]
NOISE_LINES: list[str] = [
    "Tick.", "Idle cycle.", "Static on the line.", "Clock pulse.", "Bus idle.", "No signal.",
    "Heartbeat ok.", "Buffer empty.", "Carrier tone.", "Waiting for input.", "Fan spins up.",
    "Parity ok.", "Nothing to report.", "Line quiet.", "Cache warm.", "Timer reset.",
    "Sync pulse.", "Queue drained.", "Standby.", "Ping returned.", "Disk spins down.",
    "Link up.", "Idle loop.", "Voltage steady.", "Clock drift corrected.", "Watchdog fed.",
    "Interrupt cleared.", "Frame dropped.", "Power nominal.", "Scan complete, nothing found.",
    "Keepalive sent.", "Port closed.", "Counter rolled over.", "Checksum ok.", "Relay clicks.",
    "Signal lost briefly.",
]
QUESTION_TEMPLATES: list[str] = [
    "What is {r}'s symbol?", "Recall: what is {r}'s symbol?", "Which was {r}'s symbol?",
    "Question: what is {r}'s symbol?", "Tell me {r}'s symbol.", "Give me {r}'s symbol.",
    "Now, what is {r}'s symbol?", "Read back {r}'s symbol.", "Quickly: which is {r}'s symbol?",
    "Final check, what is {r}'s symbol?", "And what was {r}'s symbol?",
    "From memory: what is {r}'s symbol?", "So what is {r}'s symbol?",
    "Last one: which is {r}'s symbol?", "Please report {r}'s symbol.",
    "What exactly is {r}'s symbol?", "Try to recall {r}'s symbol.",
    "One more: what is {r}'s symbol?",
]
REGISTERS: list[str] = [f"Register {a}{n}" for a in "BCDFGHJKLMNPQRSTVWXZ" for n in range(1, 10)]
#: Pseudo-word symbols: consonant-vowel syllable pairs (lower-case, no real words).
SYMBOLS: list[str] = [a + b + c + d for a, b, c, d in product("bdfgklmnprstvz", "aeiou",
                                                               "bdgklmnprstv", "aeiou")]

#: The grammar: nonterminal -> [(weight, production)]; a production is a tuple of nonterminals
#: (upper case) and terminals. ``$``-terminals are filled per chunk: ``$COMMIT`` / ``$VOID`` /
#: ``$HEDGE`` / ``$NOISE`` from their pools, ``$REG`` / ``$SYM`` by the generator (the
#: register and symbol of the write), ``$ANY`` any symbol of the episode.
GRAMMAR: dict[str, list[tuple[float, tuple[str, ...]]]] = {
    "ITEM": [(1.0, ("$COMMIT", " ", "WRITE"))],
    "WRITE": [(1.0, ("$REG", "'s symbol is ", "$SYM", "."))],
    "DISTRACTOR": [(1.0, ("HEDGED_LURE",)), (1.0, ("VOID_LURE",)), (1.0, ("BURST",))],
    "HEDGED_LURE": [(1.0, ("$HEDGE", " ", "WRITE"))],
    "VOID_LURE": [(1.0, ("$VOID", " ", "WRITE"))],
    "BURST": [(1.0, ("Noise burst: ", "SYMS", ".")), (1.0, ("Garbled: ", "SYMS", "."))],
    "SYMS": [(1.0, ("$ANY", " ", "$ANY")), (1.0, ("$ANY", " ", "$ANY", " ", "$ANY"))],
    "NOISE": [(1.0, ("$NOISE",))],
}


def expand(symbol: str, rng: np.random.Generator, fill: dict[str, Any]) -> str:
    """Sample a string from :data:`GRAMMAR` starting at ``symbol``. ``fill`` maps each
    ``$``-terminal to a string, or to a list drawn from uniformly (one draw per occurrence)."""
    if symbol.startswith("$"):
        value = fill[symbol]
        return value if isinstance(value, str) else value[int(rng.integers(len(value)))]
    if symbol not in GRAMMAR:
        return symbol  # a literal terminal
    rules = GRAMMAR[symbol]
    weights = np.array([w for w, _ in rules])
    _, production = rules[int(rng.choice(len(rules), p=weights / weights.sum()))]
    return "".join(expand(part, rng, fill) for part in production)


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, list[str]]:
    return {"commit": split_pool(COMMIT_MARKERS, split, min_size=3),
            "noise": split_pool(NOISE_LINES, split, min_size=3),
            "question": split_pool(QUESTION_TEMPLATES, split, min_size=1),
            "register": split_pool(REGISTERS, split, min_size=20),
            "symbol": split_pool(SYMBOLS, split, min_size=200)}


@dataclass(frozen=True)
class SelectiveRecallParams:
    """Parameters of :class:`SelectiveRecallTask` (one docstring per field)."""

    n_items: int = 4
    """Committed register writes to recall; one question each."""
    gap: str = "uniform"
    """Gap length distribution: ``fixed`` (always ``mean_gap``), ``uniform`` (0..2 x
    ``mean_gap``) or ``geometric`` (each filler followed by another with p = m / (m + 1))."""
    mean_gap: float = 6.0
    """Mean filler chunks before each item and after the last one."""
    distractor_rate: float = 0.4
    """Probability that a filler chunk is a distractor rather than idle noise."""
    vocab_size: int = 16
    """Distinct symbols in the episode (fewer: lures reuse the items' symbols more often)."""

    def __post_init__(self) -> None:
        if self.gap not in GAPS:
            raise ValueError(f"gap must be one of {', '.join(GAPS)}, got {self.gap!r}")
        if not 1 <= self.n_items <= 12:
            raise ValueError(f"n_items must be in [1, 12], got {self.n_items}")
        if self.mean_gap < 0:
            raise ValueError(f"mean_gap must be >= 0, got {self.mean_gap}")
        check_rate("distractor_rate", self.distractor_rate)
        if not max(2, self.n_items) <= self.vocab_size <= 200:
            raise ValueError(f"vocab_size must be in [max(2, n_items), 200], got {self.vocab_size}")


class SelectiveRecallTask:
    """Grammar-generated selective-copying streams (see the module docstring)."""

    name = "selective_recall"

    def __init__(self, **params: Any) -> None:
        self.params: SelectiveRecallParams = resolve_params(SelectiveRecallParams, None, params)

    @staticmethod
    def gap_lengths(rng: np.random.Generator, p: SelectiveRecallParams, n: int) -> list[int]:
        m = p.mean_gap
        if p.gap == "fixed":
            return [int(round(m))] * n
        if p.gap == "uniform":
            return [int(g) for g in rng.integers(0, int(round(2 * m)) + 1, n)]
        return [int(g) for g in rng.geometric(1.0 / (m + 1.0), n) - 1]  # failures before stop

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(SelectiveRecallParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools = _pools(split)
        registers = [pools["register"][int(i)]
                     for i in rng.choice(len(pools["register"]), 2 * p.n_items, replace=False)]
        items, others = registers[:p.n_items], registers[p.n_items:]
        vocab = [pools["symbol"][int(i)]
                 for i in rng.choice(len(pools["symbol"]), p.vocab_size, replace=False)]
        truth = [vocab[int(i)] for i in rng.choice(p.vocab_size, p.n_items, replace=False)]
        fill = {"$COMMIT": pools["commit"], "$VOID": list(VOID_MARKERS),
                "$HEDGE": list(HEDGE_MARKERS), "$NOISE": pools["noise"], "$ANY": vocab}

        texts: list[str] = []
        item_at: list[int] = []
        lures: dict[str, list[int]] = {}  # register -> lure chunk ids
        distractors: list[int] = []
        for slot, gap in enumerate(self.gap_lengths(rng, p, p.n_items + 1)):
            for _ in range(gap):
                if rng.random() < p.distractor_rate:
                    # Half the lures target an item's register (a conflicting value), half
                    # another register; the symbol is never the item's true one.
                    reg = items[int(rng.integers(p.n_items))] if rng.random() < 0.5 else \
                        others[int(rng.integers(len(others)))]
                    wrong = [s for s in vocab if reg not in items or s != truth[items.index(reg)]]
                    before = len(texts)
                    text = expand("DISTRACTOR", rng, {**fill, "$REG": reg, "$SYM": wrong})
                    if "'s symbol is" in text:
                        lures.setdefault(reg, []).append(before)
                    distractors.append(before)
                else:
                    text = expand("NOISE", rng, fill)
                texts.append(text)
            if slot < p.n_items:
                item_at.append(len(texts))
                texts.append(expand("ITEM", rng, {**fill, "$REG": items[slot],
                                                  "$SYM": truth[slot]}))
        q_pool = pools["question"]
        questions = tuple(Question(
            text=q_pool[int(rng.integers(len(q_pool)))].format(r=items[i]), answers=(truth[i],),
            evidence=(item_at[i],), kind="lookup", conflicting=tuple(lures.get(items[i], ())),
            id=f"q{n}") for n, i in enumerate(int(i) for i in rng.permutation(p.n_items)))
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=questions, task=self.name, split=split, seed=int(seed),
            params=dataclasses.asdict(p),
            labels={"facts": item_at, "distractors": distractors},
        )


def _level(n_items: int, gap: str, mean_gap: float, rate: float, vocab: int) -> dict[str, Any]:
    return {"task": {"n_items": n_items, "gap": gap, "mean_gap": mean_gap,
                     "distractor_rate": rate, "vocab_size": vocab},
            "env": {"tiers": {"episodic": {"entries": n_items, "tokens": None}}, "ops": WRITE_OPS}}


register_task(
    "SelectiveRecall", SelectiveRecallTask,
    levels={"Easy": _level(3, "uniform", 4.0, 0.2, 24),
            "Medium": _level(4, "uniform", 6.0, 0.4, 16),
            "Hard": _level(6, "geometric", 10.0, 0.6, 12)},
    description="Grammar-generated symbol stream: keep the committed writes among lures; recall.",
)
