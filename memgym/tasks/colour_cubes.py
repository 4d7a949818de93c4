"""ColourCubes: track where each coloured cube is now; every teleport invalidates the old cell.

## Description

A memgym form of the Color-Cubes task of "Memory Retention Is Not Enough to Master Memory Tasks
in Reinforcement Learning" (Shchendrigin, Cherepanov, Kovalev & Panov, AAMAS 2026,
arXiv:2601.15086), in which cubes of different colours change places and the agent must act on
their CURRENT positions. The stream first places ``n_cubes`` cubes on a ``grid`` x ``grid``
board ("Amber Cube's cell is KA2."), then each chunk is either a teleport (with probability
``move_rate``: one cube jumps to another cell, "Flash! Amber Cube's cell is now SO1.") or room
noise that states no fact. ``n_questions`` questions ("Where now? What is Amber Cube's cell?")
are asked mid-stream at random times after the placements, the last after the final chunk; each
asks a random cube's current cell. A kept older cell of the same cube makes the reader's answer
ambiguous: each teleport must REWRITE that cube's entry. Unlike the T-Maze, several cues (one
per cube) are live at once.

Colour names, sentence templates and the row names of cells are split-disjoint
(:func:`memgym.tasks.base.split_pool`): cell ``i`` is the same board position on every split
under a split-specific name. The ``-Memoryless`` ids (see
:mod:`memgym.recipes.memory_rewriting`) answer by position: answer action ``1 + i`` names the
episode's cell ``i`` (``Episode.labels["choices"]``).

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add -> tier,
update slot k), masked by ``action_masks()``; see :mod:`memgym.envs.structured`.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays; see :mod:`memgym.envs.structured`.

## Rewards

Set by the environment: the reader's exact-match score per question (1 / ``n_questions``
each), optional dense evidence shaping, costs as configured.

## Episode End

After the last chunk, once every question is answered.

## Arguments

Task parameters (:class:`ColourCubesParams`, overridable per episode):

- ``n_cubes=3``: cubes to track (the memory budget of the registered levels).
- ``grid=3``: the board is ``grid`` x ``grid`` cells (row name + column: ``KA1`` ...).
- ``length=24``: chunks in the stream (placements included).
- ``move_rate=0.4``: probability that a chunk after the placements is a teleport.
- ``n_questions=3``: questions per stream (the last one after the final chunk).

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
from memgym.tasks.base import WRITE_OPS, check_rate, resolve_params, split_pool, split_rng

COLOURS: list[str] = (
    "Amber Azure Beige Cerise Coral Crimson Cyan Ebony Emerald Fuchsia Gold Indigo Ivory Jade "
    "Khaki Lavender Lilac Magenta Maroon Mauve Mint Navy Ochre Olive Peach Plum Rose Ruby "
    "Rust Saffron Sage Scarlet Sepia Silver Tan Teal Topaz Umber Violet Apricot Aqua Bronze "
    "Burgundy Cobalt Copper Denim Flax Garnet Heather Iris Lemon Lime Mahogany Mustard Onyx "
    "Pearl Pewter Raspberry Sand Slate Tangerine Vanilla Wine"
).split()
PLACE_TEMPLATES: list[str] = [
    "{c} Cube's cell is {v}.", "At the start, {c} Cube's cell is {v}.",
    "You spot it: {c} Cube's cell is {v}.", "The board shows {c} Cube's cell is {v}.",
    "At first, {c} Cube's cell is {v}.", "First look: {c} Cube's cell is {v}.",
    "Setup: {c} Cube's cell is {v}.", "On the table, {c} Cube's cell is {v}.",
]
MOVE_TEMPLATES: list[str] = [
    "Flash! {c} Cube's cell is now {v}.", "A teleport: {c} Cube's cell is now {v}.",
    "It jumps. {c} Cube's cell is now {v}.", "Blink, and {c} Cube's cell has become {v}.",
    "The cube vanishes and reappears: {c} Cube's cell is now {v}.",
    "Shuffle! {c} Cube's cell is now {v}.", "A pop of light: {c} Cube's cell is now {v}.",
    "Moved: {c} Cube's cell changed to {v}.", "Warp: {c} Cube's cell is now {v}.",
    "A hum, then {c} Cube's cell is now {v}.",
]
NOISE_TEMPLATES: list[str] = [
    "The room is quiet.", "Lights dim for a second.", "You hear a faint click.",
    "Nothing moves.", "The floor vibrates softly.", "A clock ticks somewhere.",
    "Shadows shift on the wall.", "The air smells of ozone.", "You wait.",
    "A draught passes through.", "The ceiling lamp buzzes.", "Time passes.",
    "Dust settles on the board.", "A bell chimes far away.", "You blink.",
    "The walls glow faintly.", "Still nothing.", "A soft whirr fades.",
]
QUESTION_TEMPLATES: list[str] = [
    "Where now? What is {c} Cube's cell?", "Quick: what is {c} Cube's cell?",
    "Find it: what is {c} Cube's cell?", "Go to the cube. What is {c} Cube's cell?",
    "Which cell? Tell me {c} Cube's cell.", "Target check: what is {c} Cube's cell?",
    "Reach for it: what is {c} Cube's cell?", "Now, what is {c} Cube's cell?",
    "Point at it: which is {c} Cube's cell?", "Locate it: what is {c} Cube's cell?",
]


#: Row names of the board (two letters); each split names its rows its own way, so cell names
#: (the answers) never cross splits. Cell ``i`` is the same board position on every split.
ROW_LETTERS: list[str] = [a + b for a in "BCDFGHKLMNPRSTVZ" for b in "AEIOU"]


def cells(grid: int, split: str = "train") -> tuple[str, ...]:
    """The board's cells on ``split``: row name (the split's first ``grid`` names), column
    number, row by row (``KA1``, ``KA2``, ...)."""
    rows = _pools(split)["rows"][:grid]
    return tuple(f"{r}{c + 1}" for r in rows for c in range(grid))


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, list[str]]:
    return {"rows": split_pool(ROW_LETTERS, split, min_size=6),
            "colour": split_pool(COLOURS, split, min_size=6),
            "place": split_pool(PLACE_TEMPLATES, split, min_size=1),
            "move": split_pool(MOVE_TEMPLATES, split, min_size=1),
            "noise": split_pool(NOISE_TEMPLATES, split, min_size=3),
            "question": split_pool(QUESTION_TEMPLATES, split, min_size=1)}


@dataclass(frozen=True)
class ColourCubesParams:
    """Parameters of :class:`ColourCubesTask` (one docstring per field)."""

    n_cubes: int = 3
    """Cubes to track."""
    grid: int = 3
    """Board side: ``grid`` x ``grid`` cells."""
    length: int = 24
    """Chunks in the stream, the initial placements included."""
    move_rate: float = 0.4
    """Probability that a chunk after the placements is a teleport (else noise)."""
    n_questions: int = 3
    """Questions per stream, at random times after the placements; the last at the end."""

    def __post_init__(self) -> None:
        check_rate("move_rate", self.move_rate)
        if not 2 <= self.grid <= 6:
            raise ValueError(f"grid must be in [2, 6], got {self.grid}")
        if not 1 <= self.n_cubes <= 6:
            raise ValueError(f"n_cubes must be in [1, 6], got {self.n_cubes}")
        if not 1 <= self.n_questions <= self.length - self.n_cubes + 1:
            raise ValueError(f"n_questions must be in [1, length - n_cubes + 1], got "
                             f"{self.n_questions} (length={self.length}, n_cubes={self.n_cubes})")


class ColourCubesTask:
    """Cubes that teleport; questions ask their current cells (see the module docstring)."""

    name = "colour_cubes"

    def __init__(self, **params: Any) -> None:
        self.params: ColourCubesParams = resolve_params(ColourCubesParams, None, params)
        #: The answers of a ``train`` question (the memoryless variant's answer actions;
        #: each episode lists its split's own in ``labels["choices"]``, position by position).
        self.answer_choices: tuple[str, ...] = cells(self.params.grid)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(ColourCubesParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools, board = _pools(split), cells(p.grid, split)
        colours = [pools["colour"][int(i)]
                   for i in rng.choice(len(pools["colour"]), p.n_cubes, replace=False)]
        where = [board[int(i)] for i in rng.choice(len(board), p.n_cubes, replace=False)]

        def pick(pool: str) -> str:
            return pools[pool][int(rng.integers(len(pools[pool])))]

        texts = [pick("place").format(c=c, v=v) for c, v in zip(colours, where)]
        history: list[list[tuple[int, str]]] = [[(i, v)] for i, v in enumerate(where)]
        for _ in range(p.length - p.n_cubes):
            if rng.random() < p.move_rate:
                cube = int(rng.integers(p.n_cubes))
                cell = board[int(rng.choice([i for i, b in enumerate(board) if b != where[cube]]))]
                where[cube] = cell
                history[cube].append((len(texts), cell))
                texts.append(pick("move").format(c=colours[cube], v=cell))
            else:
                texts.append(pick("noise"))
        last = p.length - 1
        times = sorted(int(t) for t in rng.choice(
            range(p.n_cubes - 1, last), p.n_questions - 1, replace=False)) + [last]
        questions = []
        for n, asked in enumerate(times):
            cube = int(rng.integers(p.n_cubes))
            seen = [(i, v) for i, v in history[cube] if i <= asked]
            cue, cell = seen[-1]
            questions.append(Question(
                text=pick("question").format(c=colours[cube]), answers=(cell,), evidence=(cue,),
                kind="update", asked_after=asked, id=f"q{n}",
                conflicting=tuple(i for i, v in seen[:-1] if v != cell)))
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions), task=self.name, split=split, seed=int(seed),
            params=dataclasses.asdict(p),
            labels={"facts": sorted(i for h in history for i, _ in h), "choices": list(board)},
        )


LEVEL_TASKS: dict[str, dict[str, Any]] = {
    "Easy": {"n_cubes": 2, "grid": 3, "length": 16, "move_rate": 0.3, "n_questions": 2},
    "Medium": {"n_cubes": 3, "grid": 3, "length": 24, "move_rate": 0.4, "n_questions": 3},
}

register_task(
    "ColourCubes", ColourCubesTask,
    levels={level: {"task": task, "env": {
        "tiers": {"episodic": {"entries": task["n_cubes"], "tokens": None}}, "ops": WRITE_OPS}}
        for level, task in LEVEL_TASKS.items()},
    description="Colour-Cubes: cubes teleport; questions ask each cube's current cell.",
)
