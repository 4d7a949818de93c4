"""TMaze: Endless T-Maze corridors; each new cue fully invalidates the old one (memory rewriting).

## Description

The memgym form of the Endless T-Maze of "Memory Retention Is Not Enough to Master Memory Tasks
in Reinforcement Learning" (Shchendrigin, Cherepanov, Kovalev & Panov, AAMAS 2026,
arXiv:2601.15086): a stream of ``n_corridors`` corridors. Each corridor opens with a cue chunk,
a signpost giving the turn to take at the end of *this* corridor ("A signpost reads: the next
turn of Junction is left."), followed by corridor-step chunks that state no fact. At the end of
each corridor the agent reaches a junction: a mid-stream question ("Which way is the next turn
of Junction?") is answered from memory by the reader; the answer is the LATEST cue. Cues are
drawn independently per corridor, so a kept older cue with the other direction makes the
reader's answer ambiguous ("left or right", EM 0): the memory must be rewritten (``update`` the
cue entry), not appended to.

Length regimes (the paper's): ``regime="fixed"``, every corridor ``corridor_length`` steps;
``regime="uniform"``, each corridor's length drawn uniformly from
``[min_length, corridor_length]``. Signpost, corridor and question templates are split-disjoint
(:func:`memgym.tasks.base.split_pool`); the directions and the subject ``Junction`` are the
schema, shared by all splits.

The ``-Memoryless`` ids (see :mod:`memgym.recipes.memory_rewriting`) play the same streams with
every memory op removed: the agent answers each junction itself from its observation, so only
a recurrent policy's state can carry the cue — the paper's classic setting.

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add -> tier,
update slot k), masked by ``action_masks()``; see :mod:`memgym.envs.structured`. The text env
takes the same ops as tool calls.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays (current-chunk features, per-slot features and
chunk-slot relations, budget, progress); see :mod:`memgym.envs.structured`.

## Rewards

Set by the environment: the reader's exact-match score on each junction question (1 /
``n_corridors`` per correct junction), optional dense evidence shaping (the current cue kept,
no stale cue beside it), costs as configured.

## Episode End

After the last corridor's junction.

## Arguments

Task parameters (:class:`TMazeParams`; constructor defaults, overridable per episode):

- ``n_corridors=3``: corridors (cues and junction questions) per stream.
- ``corridor_length=4``: steps per corridor (``fixed``), or the longest corridor (``uniform``).
- ``min_length=1``: the shortest corridor in the ``uniform`` regime.
- ``regime="fixed"``: ``fixed`` or ``uniform`` corridor lengths.

## Version History

- v0: initial release.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import WRITE_OPS, resolve_params, split_pool, split_rng

#: The answers of every junction (the schema, shared by all splits).
DIRECTIONS: tuple[str, ...] = ("left", "right")
REGIMES: tuple[str, ...] = ("fixed", "uniform")
#: Cue chunks; ``{v}`` the direction. All parse as the fact (Junction, next turn, v).
CUE_TEMPLATES: list[str] = [
    "A signpost reads: the next turn of Junction is {v}.",
    "Painted on the wall: the next turn of Junction is {v}.",
    "An arrow on the floor says the next turn of Junction is {v}.",
    "A guide calls out that the next turn of Junction is {v}.",
    "Chalk marks show the next turn of Junction is {v}.",
    "A lantern sign: the next turn of Junction is {v}.",
    "The map fragment shows the next turn of Junction is {v}.",
    "A carved plaque: the next turn of Junction is {v}.",
    "A note pinned here says the next turn of Junction is {v}.",
    "The beacon blinks: the next turn of Junction is {v}.",
    "Scratched into the door: the next turn of Junction is {v}.",
    "A voice echoes that the next turn of Junction is {v}.",
    "The banner overhead: the next turn of Junction is {v}.",
    "A stencil on the pipe: the next turn of Junction is {v}.",
    "Ink on a crate: the next turn of Junction is {v}.",
    "A painted hand points: the next turn of Junction is {v}.",
    "Glowing letters: the next turn of Junction is {v}.",
    "A torn flag points the way: the next turn of Junction is {v}.",
    "Etched in brass: the next turn of Junction is {v}.",
    "A whistle blows twice, meaning the next turn of Junction is {v}.",
    "Footprints in the dust show the next turn of Junction is {v}.",
    "A ribbon tied to the rail marks the next turn of Junction is {v}.",
    "Rune stones spell out that the next turn of Junction is {v}.",
    "A speaker crackles: the next turn of Junction is {v}.",
    "The keeper's board says the next turn of Junction is {v}.",
]
#: Corridor steps: no fact, no direction word (the cue is the only carrier of the answer).
STEP_TEMPLATES: list[str] = [
    "You walk on; the corridor is dark.", "Footsteps echo off the stone walls.",
    "Water drips somewhere ahead.", "The floor tiles are cracked here.",
    "A cold draught moves along the passage.", "The ceiling gets lower for a while.",
    "Dust hangs in the air.", "A rusty pipe runs along the wall.",
    "The passage bends gently and straightens again.", "Moss grows between the bricks.",
    "Your torch flickers for a moment.", "The corridor smells of old paper.",
    "A faint hum comes from the walls.", "Broken crates are stacked by the wall.",
    "The air grows warmer.", "Cobwebs brush your face.", "The stones here are smooth and worn.",
    "A distant bell rings once.", "Puddles cover the floor.", "The walls are painted grey.",
    "Gravel crunches underfoot.", "An empty bench stands in an alcove.",
    "The lights buzz overhead.", "You count your steps quietly.",
]
QUESTION_TEMPLATES: list[str] = [
    "Junction ahead. Which way is the next turn of Junction?",
    "You reach a junction. What is the next turn of Junction?",
    "Decide now: what is the next turn of Junction?",
    "The corridor ends. Which way is the next turn of Junction?",
    "Left or right? Tell me the next turn of Junction.",
    "At the fork: what is the next turn of Junction?",
    "Choose a way: which is the next turn of Junction?",
    "End of the corridor. What is the next turn of Junction?",
    "Two doors ahead. What is the next turn of Junction?",
    "Which path now? Name the next turn of Junction.",
    "The walls split in two. What is the next turn of Junction?",
    "A crossroads appears. Which way is the next turn of Junction?",
    "Time to turn. What is the next turn of Junction?",
    "The passage forks. Give the next turn of Junction.",
    "Stop here: which is the next turn of Junction?",
]


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, list[str]]:
    return {"cue": split_pool(CUE_TEMPLATES, split, min_size=2),
            "step": split_pool(STEP_TEMPLATES, split, min_size=3),
            "question": split_pool(QUESTION_TEMPLATES, split, min_size=1)}


@dataclass(frozen=True)
class TMazeParams:
    """Parameters of :class:`TMazeTask` (one docstring per field)."""

    n_corridors: int = 3
    """Corridors per stream; each has one cue and ends in one junction question."""
    corridor_length: int = 4
    """Corridor steps after the cue (``fixed``), or the longest corridor (``uniform``)."""
    min_length: int = 1
    """Shortest corridor in the ``uniform`` regime (ignored by ``fixed``)."""
    regime: str = "fixed"
    """``fixed``: every corridor has ``corridor_length`` steps; ``uniform``: lengths drawn
    uniformly from ``[min_length, corridor_length]`` per corridor."""

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise ValueError(f"regime must be one of {', '.join(REGIMES)}, got {self.regime!r}")
        if self.n_corridors < 1:
            raise ValueError(f"n_corridors must be >= 1, got {self.n_corridors}")
        if self.min_length < 0 or self.corridor_length < self.min_length:
            raise ValueError(f"need 0 <= min_length <= corridor_length, got min_length="
                             f"{self.min_length}, corridor_length={self.corridor_length}")


class TMazeTask:
    """Endless T-Maze corridors as a stream (see the module docstring)."""

    name = "tmaze"
    #: Every answer a junction can have: the answer actions of the memoryless variant.
    answer_choices: tuple[str, ...] = DIRECTIONS

    def __init__(self, **params: Any) -> None:
        self.params: TMazeParams = resolve_params(TMazeParams, None, params)

    def corridor_lengths(self, rng: Any, p: TMazeParams) -> list[int]:
        if p.regime == "fixed":
            return [p.corridor_length] * p.n_corridors
        return [int(x) for x in rng.integers(p.min_length, p.corridor_length + 1, p.n_corridors)]

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(TMazeParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools = _pools(split)
        texts: list[str] = []
        questions: list[Question] = []
        cues: list[tuple[int, str]] = []  # (chunk id, direction) of every cue so far
        for c, length in enumerate(self.corridor_lengths(rng, p)):
            direction = DIRECTIONS[int(rng.integers(len(DIRECTIONS)))]
            cue_at = len(texts)
            texts.append(pools["cue"][int(rng.integers(len(pools["cue"])))].format(v=direction))
            cues.append((cue_at, direction))
            steps = pools["step"]
            texts.extend(steps[int(i)] for i in rng.integers(len(steps), size=length))
            # Older cues with the other direction make a memory that kept them ambiguous.
            stale = tuple(i for i, d in cues[:-1] if d != direction)
            q_pool = pools["question"]
            questions.append(Question(
                text=q_pool[int(rng.integers(len(q_pool)))], answers=(direction,),
                evidence=(cue_at,), kind="update", asked_after=len(texts) - 1,
                conflicting=stale, id=f"q{c}"))
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions), task=self.name, split=split, seed=int(seed),
            params=dataclasses.asdict(p),
            labels={"cues": [i for i, _ in cues],
                    "junctions": [q.asked_after for q in questions]},
        )


#: Fixed: 3 corridors of 4 steps. Uniform: 3 corridors of 1..7 steps (the same mean length).
LEVEL_TASKS: dict[str, dict[str, Any]] = {
    "Fixed": {"n_corridors": 3, "corridor_length": 4, "regime": "fixed"},
    "Uniform": {"n_corridors": 3, "corridor_length": 7, "min_length": 1, "regime": "uniform"},
}
#: Two entries: room to append a second cue, so rewriting (update) is a choice, not forced.
LEVEL_ENV: dict[str, Any] = {"tiers": {"episodic": {"entries": 2, "tokens": None}},
                             "ops": WRITE_OPS}

register_task(
    "TMaze", TMazeTask,
    levels={level: {"task": task, "env": LEVEL_ENV} for level, task in LEVEL_TASKS.items()},
    description="Endless T-Maze: corridors with a cue each; junctions ask the latest cue.",
)
