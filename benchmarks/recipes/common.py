"""Helpers the recipe benchmark scripts share: training a recipe config within a budget,
the 95% interval of a mean, and writing the ``.json`` / ``.md`` results.

The scripts run as ``python benchmarks/recipes/<name>.py`` (this folder is then first on
``sys.path``) and import this module as ``common``; heavy imports stay inside functions so
``--help`` and imports stay fast.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "recipes"


def ci95(values: Sequence[float]) -> float:
    """Half-width of the normal 95% interval of the mean of ``values``."""
    import numpy as np

    return float(1.96 * np.std(values, ddof=1) / np.sqrt(len(values)))


def train_timed(config_path: Path, overrides: list[str]) -> tuple[Any, Any, float]:
    """Train ``config_path`` with ``overrides`` (replacing an earlier run of the same name):
    the config, its run folder and the training seconds (config loading not counted)."""
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    config = load_config(config_path, overrides)
    start = time.perf_counter()
    train_from_config(config, overwrite=True)
    seconds = time.perf_counter() - start
    return config, RunFolder.for_config(config), seconds


def train_within_budget(config_path: Path, out: Path, minutes: float, steps: int,
                        overrides: Sequence[str] = ()) -> tuple[Any, list[dict[str, Any]]]:
    """MaskablePPO from a recipe config (plus ``overrides``) for at most ``minutes`` /
    ``steps``, with no baselines in its periodic evaluation: the policy (best checkpoint on
    the config's ``eval.select_split``) and its learning curve."""
    from memgym.training.sb3 import load_agent

    config, folder, _ = train_timed(config_path, [
        f"output_dir={out}", f"max_minutes={minutes}", f"total_timesteps={steps}",
        "eval.episodes=20", "eval.baselines=[]", "progress=false", *overrides])
    return load_agent(folder, config), folder.read_curve()


def write_results(folder: Path, stem: str, result: dict[str, Any], markdown: str) -> None:
    """``<stem>.json`` (indented, newline-terminated) and ``<stem>.md`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (folder / f"{stem}.md").write_text(markdown)


def budget_main(description: str, stem: str, run: Callable[[float, int, int], dict[str, Any]],
                markdown: Callable[[dict[str, Any]], str], *, minutes: float,
                episodes: int, steps: int = 400_000) -> None:
    """The command line of a train-within-a-budget benchmark (``--minutes``, ``--steps``,
    ``--episodes``, ``--out``): run it, write the results, print the table."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--minutes", type=float, default=minutes)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--episodes", type=int, default=episodes)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = run(args.minutes, args.steps, args.episodes)
    write_results(args.out, stem, result, markdown(result))
    print(markdown(result))


def trainer_parser(description: str, *, per: str, minutes: float, steps: int
                   ) -> argparse.ArgumentParser:
    """The options of a benchmark that trains one policy per ``per`` (a beta, a trainer) on a
    wall-clock and step budget, then evaluates on held-out episodes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--minutes", type=float, default=minutes, help=f"wall clock per {per}")
    parser.add_argument("--steps", type=int, default=steps, help=f"env steps per {per}")
    parser.add_argument("--episodes", type=int, default=200, help="held-out episodes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_recipes"))
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for .json / .md")
    return parser
