"""The run folder every backend writes, and the parts of a run that do not depend on one.

    runs/<name>/
      config.yaml          the resolved config (what was actually run)
      checkpoints/         step_<n>.zip (periodic, atomic) ; latest.json names the newest
      best/model.zip       best policy so far on eval.select_split (val), by eval.select_metric
      tb/                  tensorboard logs
      eval/curve.json      the periodic evaluations on eval.select_split (learning curve)
      eval/report.json     final comparison with the baselines on eval.split (heldout; + .md,
                           .png), learning_curve.png
      eval/length_<L>/     the same report at other stream lengths
      summary.json         headline numbers

Honest measurement: model selection (the curve, ``best/``) never sees ``eval.split``; the
final report is the one place that scores it, once, on the model selection chose.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from memgym.report import atomic_write_text
from memgym.training.config import ConfigError, TrainConfig, dump_config, load_config


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config = self.path / "config.yaml"
        self.checkpoints = self.path / "checkpoints"
        self.best = self.path / "best"
        self.tensorboard = self.path / "tb"
        self.eval = self.path / "eval"
        self.curve = self.eval / "curve.json"
        self.summary = self.path / "summary.json"

    @classmethod
    def for_config(cls, config: TrainConfig) -> RunFolder:
        return cls(Path(config.output_dir) / config.name)

    def create(self, config: TrainConfig, *, overwrite: bool = False) -> None:
        """Make the folder for a new run; ``overwrite`` deletes an earlier run there first
        (keeping its curve or best model would mix two runs)."""
        if self.config.exists():
            if not overwrite:
                raise ConfigError(
                    f"{self.path} already holds a run: resume it with `memgym train --resume "
                    f"{self.path}`, or choose another name (--set name=...)")
            shutil.rmtree(self.path)
        for folder in (self.checkpoints, self.best, self.tensorboard, self.eval):
            folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config, dump_config(config))

    def remove_temporaries(self) -> list[Path]:
        """Delete half-written files a killed run left (atomic writes use ``.*.tmp*`` names)."""
        leftovers = [p for p in self.path.rglob(".*.tmp*") if p.is_file()]
        for path in leftovers:
            path.unlink()
        return leftovers

    def load_config(self) -> TrainConfig:
        if not self.config.is_file():
            raise ConfigError(f"{self.path}: not a run folder (no config.yaml)")
        return load_config(self.config)

    # -- checkpoints ---------------------------------------------------------------------
    def checkpoint_path(self, steps: int, suffix: str = ".zip") -> Path:
        return self.checkpoints / f"step_{steps:09d}{suffix}"

    def record_checkpoint(self, path: Path, steps: int) -> None:
        atomic_write_json(self.checkpoints / "latest.json", {"path": path.name, "steps": steps})

    def latest_checkpoint(self) -> tuple[Path, int] | None:
        latest = self.checkpoints / "latest.json"
        if not latest.is_file():
            return None
        info = json.loads(latest.read_text())
        path = self.checkpoints / info["path"]
        return (path, int(info["steps"])) if path.exists() else None

    def best_model(self, suffix: str = ".zip") -> Path | None:
        path = self.best / f"model{suffix}"
        return path if path.exists() else None

    # -- learning curve ------------------------------------------------------------------
    def read_curve(self) -> list[dict[str, Any]]:
        return json.loads(self.curve.read_text()) if self.curve.is_file() else []

    def append_curve(self, point: dict[str, Any]) -> list[dict[str, Any]]:
        curve = [p for p in self.read_curve() if p["steps"] < point["steps"]] + [point]
        atomic_write_json(self.curve, curve)
        return curve


class PeriodicEval:
    """The periodic evaluation every backend runs: the agent on ``eval.select_split`` (same
    episodes, seed, kwargs and options as the final report), one curve point per call, and
    whether it is the best so far by ``eval.select_metric``. The backend saves ``best/``.

    State is read back from the curve, so ``--resume`` keeps the best value and the clock."""

    def __init__(self, config: TrainConfig, run: RunFolder) -> None:
        self.config, self.run = config, run
        self.split, self.metric = config.eval.select_split, config.eval.select_metric
        curve = run.read_curve()
        self.best: float | None = max((self.rank(point_value(p, self.metric)) for p in curve),
                                      default=None)
        self.last = point_value(curve[-1], self.metric) if curve else None
        self.seconds_before: float = curve[-1].get("seconds", 0.0) if curve else 0.0
        self.start = time.perf_counter()

    @property
    def label(self) -> str:
        """Progress-bar name of the value, e.g. ``val QA``."""
        return f"{self.split} {'QA' if self.metric == 'qa_score' else self.metric}"

    def text(self) -> str:
        return "-" if self.last is None else f"{self.last:.3f}"

    @staticmethod
    def rank(value: float | None) -> float:
        return -math.inf if value is None else float(value)  # no evidence labels: never best

    def __call__(self, agent: Any, steps: int, *, env_id: str | None = None,
                 env_kwargs: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
        """Evaluate ``agent`` (on ``env_id`` with ``env_kwargs``, default ``eval_id`` and
        ``eval_kwargs``); returns its summary and whether it beats every earlier point (the
        first point always does)."""
        from memgym.agents.evaluate import evaluate_agents

        config = self.config
        report = evaluate_agents([agent], env_id or config.eval_id, split=self.split,
                                 episodes=config.eval.episodes, seed=config.eval.seed,
                                 env_kwargs=config.eval_kwargs if env_kwargs is None else env_kwargs,
                                 options=config.eval.options)
        summary = next(iter(report["agents"].values()))
        value = summary.get(self.metric)
        seconds = self.seconds_before + time.perf_counter() - self.start
        self.run.append_curve({"steps": int(steps), "split": self.split,
                               "qa_score": summary["qa_score"], "qa_ci95": summary["qa_ci95"],
                               "return": summary["return"], self.metric: value,
                               "metric": self.metric, "seconds": round(seconds, 1)})
        self.last = value
        is_best = self.best is None or self.rank(value) > self.best
        if is_best:
            self.best = self.rank(value)
        return summary, is_best

    def scalars(self, summary: dict[str, Any]) -> dict[str, float]:
        """TensorBoard scalars of a summary, tagged by split (``eval/val_qa_score``, ...)."""
        keys = dict.fromkeys(("qa_score", "return", self.metric))
        return {f"eval/{self.split}_{k}": summary[k] for k in keys if summary.get(k) is not None}


def point_value(point: dict[str, Any], metric: str) -> float | None:
    """A curve point's value of ``metric``; curves written before ``eval.select_metric``
    existed hold only ``qa_score``."""
    return point[metric] if metric in point else point["qa_score"]


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def atomic_replace(tmp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)


def plot_learning_curve(curve: list[dict[str, Any]], baselines: dict[str, float], path: Path,
                        title: str, split: str = "heldout") -> None:
    """The curve's QA (on its selection split) beside the baselines' final-report QA (on
    ``split``); the legend names each split, so val and held-out numbers are not confused."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if curve:
        splits = sorted({p.get("split", "heldout") for p in curve})  # old curves: heldout
        ax.plot([p["steps"] for p in curve], [p["qa_score"] for p in curve], marker="o",
                label=f"policy ({', '.join(splits)})")
    for i, (name, score) in enumerate(sorted(baselines.items(), key=lambda kv: -kv[1])):
        ax.axhline(score, linestyle="--", color=f"C{i + 1}", label=f"{name} ({split})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("QA score")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def final_report(config: TrainConfig, run: RunFolder, policy: Any, *,
                 training: dict[str, Any] | None = None,
                 evaluate: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
                 ) -> dict[str, Any]:
    """Evaluate the trained ``policy`` agent beside the baselines on ``eval.split`` (the only
    place that split is scored); write reports and plots.

    ``evaluate(options)`` returns the report for some task options (default: the policy and
    the baselines on ``eval.id``); ``training`` (steps, times, ...) goes into the summary."""
    from memgym.agents.evaluate import evaluate_agents
    from memgym.report import write_report

    if evaluate is None:
        agents = [policy, *config.eval.baselines]
        common = {"split": config.eval.split, "episodes": config.eval.episodes,
                  "seed": config.eval.seed, "env_kwargs": config.eval_kwargs}

        def evaluate(options: dict[str, Any]) -> dict[str, Any]:
            return evaluate_agents(agents, config.eval_id, options=options, **common)

    report = evaluate(config.eval.options)
    write_report(report, run.eval)
    summary: dict[str, Any] = {"name": config.name, "env_id": report["env_id"],
                               "scores": {k: v["qa_score"] for k, v in report["agents"].items()}}
    if "baseline_env_id" in report:
        summary["baseline_env_id"] = report["baseline_env_id"]
    oracle = summary["scores"].get("oracle")
    score = summary["scores"][policy.name]
    if oracle:
        summary["oracle_ratio"] = score / oracle
    lengths = {}
    for length in config.eval.lengths:
        long = evaluate({**config.eval.options, "length": length})
        write_report(long, run.eval / f"length_{length}")
        lengths[str(length)] = {k: v["qa_score"] for k, v in long["agents"].items()}
    if lengths:
        summary["lengths"] = lengths
    if training is not None:
        summary["training"] = training
    baselines = {k: v for k, v in summary["scores"].items() if k != policy.name}
    plot_learning_curve(run.read_curve(), baselines, run.eval / "learning_curve.png",
                        f"{config.name} on {report['env_id']}", split=config.eval.split)
    atomic_write_json(run.summary, summary)
    return report
