"""One SB3 callback for a memgym run: held-out evaluation, checkpoints, progress bar.

Evaluation uses the same harness as ``memgym eval`` (same episodes, same score), so the
learning curve and the final report are directly comparable. Every file is written
atomically: a run killed at any moment leaves no truncated checkpoint or curve.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from stable_baselines3.common.callbacks import BaseCallback

from memgym.training.config import TrainConfig
from memgym.training.run import RunFolder


class TrainingCallback(BaseCallback):
    def __init__(self, config: TrainConfig, run: RunFolder,
                 agent_factory: Callable[[Any], Any]) -> None:
        super().__init__()
        self.config, self.run, self.agent_factory = config, run, agent_factory
        curve = run.read_curve()
        self.best = max((p["qa_score"] for p in curve), default=-1.0)
        self.last_score = curve[-1]["qa_score"] if curve else None
        self.seconds_before = curve[-1].get("seconds", 0.0) if curve else 0.0
        self.progress: Progress | None = None

    # -- SB3 hooks -----------------------------------------------------------------------
    def _on_training_start(self) -> None:
        steps = self.model.num_timesteps
        self.next_eval = (steps // self.config.eval.freq + 1) * self.config.eval.freq
        self.next_checkpoint = (steps // self.config.checkpoint_freq + 1) * self.config.checkpoint_freq
        self.start_steps, self.start_time = steps, time.perf_counter()
        if self.config.progress:
            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                     TextColumn("{task.completed:,}/{task.total:,} steps"),
                                     TextColumn("{task.fields[fps]:>6} fps"),
                                     TextColumn("held-out QA {task.fields[score]}"),
                                     TimeElapsedColumn(), transient=False)
            self.progress.start()
            self.bar = self.progress.add_task(self.config.name, total=self.config.total_timesteps,
                                              completed=steps, fps="-", score=self._score_text())

    def _on_step(self) -> bool:
        steps = self.model.num_timesteps
        limit = self.config.max_minutes
        if limit is not None and time.perf_counter() - self.start_time > 60 * limit:
            return False  # SB3 stops learn(); train() still checkpoints and reports
        if steps >= self.next_checkpoint:
            self.save_checkpoint(self.model)
            self.next_checkpoint += self.config.checkpoint_freq
        if steps >= self.next_eval:
            self.evaluate_and_keep_best(self.model)
            self.next_eval += self.config.eval.freq
        return True

    def _on_rollout_end(self) -> None:
        if self.progress is not None:
            elapsed = max(time.perf_counter() - self.start_time, 1e-9)
            fps = int((self.model.num_timesteps - self.start_steps) / elapsed)
            self.progress.update(self.bar, completed=self.model.num_timesteps, fps=fps,
                                 score=self._score_text())

    def _on_training_end(self) -> None:
        if self.progress is not None:
            self.progress.update(self.bar, completed=self.model.num_timesteps)
            self.progress.stop()

    # -- work ----------------------------------------------------------------------------
    def _score_text(self) -> str:
        return "-" if self.last_score is None else f"{self.last_score:.3f}"

    def save_checkpoint(self, model: Any) -> None:
        steps = model.num_timesteps
        final = self.run.checkpoint_path(steps)
        save_atomic(model, final)
        self.run.record_checkpoint(final, steps)

    def evaluate_and_keep_best(self, model: Any) -> float:
        from memgym.agents.evaluate import evaluate_agents

        config = self.config
        report = evaluate_agents([self.agent_factory(model)], config.eval_id,
                                 split=config.eval.split, episodes=config.eval.episodes,
                                 seed=config.eval.seed, env_kwargs=config.eval_kwargs,
                                 options=config.eval.options)
        summary = next(iter(report["agents"].values()))
        score = summary["qa_score"]
        seconds = self.seconds_before + time.perf_counter() - getattr(
            self, "start_time", time.perf_counter())
        self.run.append_curve({"steps": int(model.num_timesteps), "qa_score": score,
                               "qa_ci95": summary["qa_ci95"], "return": summary["return"],
                               "seconds": round(seconds, 1)})
        if self.logger is not None:
            self.logger.record("eval/heldout_qa_score", score)
            self.logger.record("eval/heldout_return", summary["return"])
        self.last_score = score
        if score > self.best:
            self.best = score
            save_atomic(model, self.run.best / "model.zip")
        return score


def save_atomic(model: Any, final: Any) -> None:
    """``model.save`` to a temporary name, then rename: never a half-written zip."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.tmp.zip")
    model.save(str(tmp))
    os.replace(tmp, final)
