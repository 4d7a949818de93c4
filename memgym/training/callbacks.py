"""One SB3 callback for a memgym run: periodic evaluation on ``eval.select_split`` (``val``),
``best/``, checkpoints, progress bar.

Evaluation uses the same harness as ``memgym eval`` (same episodes, same score) through
:class:`memgym.training.run.PeriodicEval`, on the selection split: the held-out split is
scored only by the final report, so ``best/`` is not chosen on the streams it is scored on.
Every file is written atomically: a run killed at any moment leaves no truncated checkpoint or
curve.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from stable_baselines3.common.callbacks import BaseCallback

from memgym.training.config import TrainConfig
from memgym.training.run import PeriodicEval, RunFolder


class TrainingCallback(BaseCallback):
    def __init__(self, config: TrainConfig, run: RunFolder,
                 agent_factory: Callable[[Any], Any]) -> None:
        super().__init__()
        self.config, self.run, self.agent_factory = config, run, agent_factory
        self.periodic = PeriodicEval(config, run)
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
                                     TextColumn(f"{self.periodic.label} {{task.fields[score]}}"),
                                     TimeElapsedColumn(), transient=False)
            self.progress.start()
            self.bar = self.progress.add_task(self.config.name, total=self.config.total_timesteps,
                                              completed=steps, fps="-", score=self.periodic.text())

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
                                 score=self.periodic.text())

    def _on_training_end(self) -> None:
        if self.progress is not None:
            self.progress.update(self.bar, completed=self.model.num_timesteps)
        self.stop_progress()

    def stop_progress(self) -> None:
        """End the progress bar (also when ``learn`` is interrupted and skips the hook)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    # -- work ----------------------------------------------------------------------------
    def save_checkpoint(self, model: Any) -> None:
        steps = model.num_timesteps
        final = self.run.checkpoint_path(steps)
        save_atomic(model, final)
        self.run.record_checkpoint(final, steps)

    def evaluate_and_keep_best(self, model: Any) -> dict[str, Any]:
        """One periodic evaluation (selection split); saves ``best/`` when it is the best."""
        summary, is_best = self.periodic(self.agent_factory(model), model.num_timesteps)
        if self.logger is not None:
            for tag, value in self.periodic.scalars(summary).items():
                self.logger.record(tag, value)
        if is_best:
            save_atomic(model, self.run.best / "model.zip")
        return summary


def save_atomic(model: Any, final: Any) -> None:
    """``model.save`` to a temporary name, then rename: never a half-written zip."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.stem}.tmp.zip")
    model.save(str(tmp))
    os.replace(tmp, final)
