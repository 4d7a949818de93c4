"""TRL backend: GRPO fine-tuning of an LLM memory manager from a config file.

``backend: trl`` trains a local causal LM (``trl.model``: ``smollm2``, ``tiny`` or a path) with
TRL's ``GRPOTrainer`` on the text twin of ``env.id``. Each dataset row names one episode
(env id, split, episode seed, task options); the trainer plays it through
:class:`memgym.llm.tool_env.MemoryToolEnv` (``environment_factory``), one instance per
completion, so the ``num_generations`` completions of a group see the same stream. The reward
is ``get_reward()`` of the environment (QA, tool success, compression, weighted by
``trl.rewards``) plus the ``format`` term (:func:`memgym.llm.format_term.make_format_reward`).
By default (``trl.force_tool_calls``, ``trl.demonstration``) the chat template opens a tool
call every turn and a three-call worked example precedes the stream: SmolLM2-135M emits
almost no parsable tool call without them, which leaves GRPO no signal.

The run folder has the SB3 backend's layout (``memgym/training/run.py``): ``config.yaml``,
``checkpoints/checkpoint-<step>/`` (TRL's, with ``latest.json``), ``best/`` (best model on
``eval.select_split`` by ``eval.select_metric``, when ``eval.freq`` evaluations ran during
training), ``final/`` (the model at the end:
full weights, or a LoRA adapter plus ``memgym_model.json`` naming its base), ``tb/``,
``train_log.jsonl`` (every logged metric, incl. ``memgym/qa`` ...), ``completions.jsonl``
(with ``trl.log_completions``), ``eval/curve.json``, ``eval/report.{json,md,png}`` and
``summary.json`` (scores + training step times).
``total_timesteps``, ``checkpoint_freq`` and ``eval.freq`` count GRPO optimizer steps here.
Baselines in the final report act on the structured twin of the environment, on the same
episodes (same ids, splits, seeds and options).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import time
from pathlib import Path
from typing import Any

from memgym.training.config import ConfigError, TrainConfig, refuse_option_choices
from memgym.training.run import PeriodicEval, RunFolder
from memgym.training.run import final_report as run_final_report
from memgym.training.trl_config import (  # noqa: F401  (the schema is part of this backend)
    MANAGED, LoRASpec, RewardWeights, TRLSpec, batch_size, forced_tool_calls, max_steps, trl_spec)
from memgym.training.trl_io import (MODE_OF_LAYOUT, base_spec, built_env, check_env,
                                   env_write_mode, peak_rss_mb, save_model)
from memgym.training.trl_sft import sft_warm_start

def validate(config: TrainConfig) -> None:
    """Fail on anything GRPO would reject, before any file is written (imports trl only to
    check ``trl.grpo`` keys)."""
    from memgym.llm.tool_env import structured_twin, text_twin

    refuse_option_choices(config, "trl")
    spec = trl_spec(config)
    if config.algo.hyperparams:  # typed in the trl: block (TRLSpec), not here
        key = next(iter(config.algo.hyperparams))
        raise ConfigError(f"algo.hyperparams.{key}: not read by the trl backend; its "
                          "hyperparameters are the trl: block (e.g. trl.learning_rate, "
                          "trl.grpo: {...} for GRPOConfig)")
    for key, env_id in (("env.id", config.env.id), ("eval.id", config.eval_id)):
        try:
            text_twin(env_id)
            if key == "eval.id" and config.eval.baselines:
                structured_twin(env_id)
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from exc
    if spec.model not in ("smollm2", "tiny") and not Path(spec.model).expanduser().exists():
        raise ConfigError(f"trl.model: {spec.model!r} is not 'smollm2', 'tiny' or an existing "
                          "local model folder")
    total = batch_size(spec) * spec.gradient_accumulation_steps
    if total % spec.num_generations:
        raise ConfigError(f"trl.per_device_train_batch_size x gradient_accumulation_steps ({total}) "
                          f"must be a multiple of trl.num_generations ({spec.num_generations})")
    if spec.use_vllm:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("trl.use_vllm: vLLM needs a CUDA GPU; set it to false on CPU")
    if spec.grpo:
        from trl import GRPOConfig

        fields = {f.name for f in dataclasses.fields(GRPOConfig)}
        for key in spec.grpo:
            if key in MANAGED:
                raise ConfigError(f"trl.grpo.{key}: set by memgym; use {MANAGED[key]}")
            if key not in fields:
                close = difflib.get_close_matches(key, sorted(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"trl.grpo.{key}: not a GRPOConfig argument{hint}")
    try:
        env = built_env(config)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"env.kwargs: {exc}") from exc
    needed = env_write_mode(env)
    tools = list(getattr(env, "tools", []))
    mode = spec.write_mode if spec.rollout == "chunked" else None
    if needed is not None and mode != needed:
        raise ConfigError(f"env.id {config.env.id}: this env needs trl.rollout: chunked and "
                          f"trl.write_mode: {needed}")
    if needed is None and mode in MODE_OF_LAYOUT.values():
        raise ConfigError(f"trl.write_mode: {mode} needs a "
                          + ("selector env (memgym/Selector-*, MemoryR1-AnswerAgent, "
                             "MemSifter, RMM)" if mode == "select" else
                             "manager + selector env (memgym/ManageSelect-*)")
                          + f"; env.id {config.env.id} is a memory env")
    if spec.rollout == "chunked" and spec.write_mode == "rewrite":
        if "add_memory" not in tools or not {"update_memory", "delete_memory"} & set(tools):
            raise ConfigError("trl.write_mode: rewrite needs the op add and the op update or "
                              f"delete; the env enables {', '.join(tools)}")


# -- data ----------------------------------------------------------------------------------
def build_rows(config: TrainConfig, spec: TRLSpec) -> list[dict[str, Any]]:
    """One row per training episode: the prompt TRL renders plus what ``reset`` needs."""
    from memgym.llm.tool_env import initial_messages, text_twin

    env_id = text_twin(config.env.id)
    options = json.dumps(config.env.options, sort_keys=True)
    return [{"prompt": initial_messages(""), "env_id": env_id, "split": config.env.split,
             "episode_seed": spec.episode_seed + i, "options": options}
            for i in range(spec.episodes)]


# -- saving and loading models -----------------------------------------------------------
def _has_model(folder: Path) -> bool:
    return (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file()


def model_folder(run: RunFolder, checkpoint: Path | None = None) -> Path | None:
    """The model to load: a given checkpoint, else ``best/``, ``final/``, the newest checkpoint."""
    if checkpoint is not None:
        return Path(checkpoint)
    for folder in (run.best, run.path / "final"):
        if _has_model(folder):
            return folder
    latest = run.latest_checkpoint()
    return latest[0] if latest is not None else None


def load_agent(run: RunFolder, config: TrainConfig, checkpoint: Path | None = None) -> Any:
    folder = model_folder(run, checkpoint)
    if folder is None or not _has_model(folder):
        raise ConfigError(f"{run.path}: no trained model to load yet")
    return model_agent(folder, config)


def model_agent(model: str | Path, config: TrainConfig, name: str | None = None,
                temperature: float = 0.0) -> Any:
    """The agent of a model spec or folder, prompted as the run's training prompts it."""
    from memgym.llm.models import load_model

    spec = trl_spec(config)
    loaded, tokenizer = load_model(model, force_tool_calls=forced_tool_calls(spec))
    import torch

    if torch.cuda.is_available():  # evaluation generates on the GPU when there is one
        loaded = loaded.to("cuda")
    agent = make_agent(loaded, tokenizer, config, spec, temperature=temperature)
    agent.name = name or agent.name
    return agent


def make_agent(model: Any, tokenizer: Any, config: TrainConfig, spec: TRLSpec,
               temperature: float = 0.0) -> Any:
    """The evaluation agent for a (possibly training) model, prompted as in training
    (greedy; ``temperature`` > 0 samples, as GRPO's rollouts do)."""
    if spec.rollout == "chunked" and spec.write_mode in ("select", "joint"):
        from memgym.llm.agent_specs import reader_agent
        from memgym.llm.chunked_agent import ModelCompleter

        return reader_agent(spec.write_mode, ModelCompleter(
            model, tokenizer, tools=False, max_new_tokens=spec.eval_max_new_tokens,
            temperature=temperature), config.name)
    if spec.rollout == "chunked":
        from memgym.llm.chunked_agent import ChunkedLLMAgent, ModelCompleter
        from memgym.llm.models import TOOL_CALL_PREFILL

        tools = spec.write_mode == "tools"
        complete = ModelCompleter(model, tokenizer, tools=tools and spec.tool_schemas,
                                  max_new_tokens=spec.eval_max_new_tokens, temperature=temperature)
        prefill = TOOL_CALL_PREFILL if forced_tool_calls(spec) else ""
        return ChunkedLLMAgent(complete, name=config.name, write_mode=spec.write_mode,
                               prefill=prefill, describe_tools=tools and not spec.tool_schemas)
    from memgym.llm.agent import LLMAgent

    return LLMAgent(model, tokenizer, name=config.name, max_new_tokens=spec.eval_max_new_tokens,
                    force_tool_calls=spec.force_tool_calls, demonstration=spec.demonstration,
                    temperature=temperature)


# -- training ------------------------------------------------------------------------------
def _callback_class() -> type:
    from transformers import TrainerCallback

    class MemgymCallback(TrainerCallback):
        """Logs to train_log.jsonl, records checkpoints, evaluation on ``eval.select_split``
        (``best/``), time limit."""

        def __init__(self, config: TrainConfig, run: RunFolder, spec: TRLSpec,
                     tokenizer: Any, base: str) -> None:
            self.config, self.run, self.spec, self.tokenizer = config, run, spec, tokenizer
            self.base = base
            self.periodic = PeriodicEval(config, run)
            self.start = time.perf_counter()
            self.step_times: list[float] = []
            self._last = self.start

        def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None,
                        **_: Any) -> None:
            now = time.perf_counter()
            self.step_times.append(now - self._last)
            self._last = now
            step = state.global_step
            if step % self.config.eval.freq == 0 and model is not None:
                self.evaluate(model, step)
                self._last = time.perf_counter()
            limit = self.config.max_minutes
            if limit is not None and now - self.start > 60 * limit:
                control.should_training_stop = True
                control.should_save = True

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            if logs:
                line = json.dumps({"step": state.global_step, **logs}, default=float)
                with open(self.run.path / "train_log.jsonl", "a", encoding="utf-8") as f:
                    f.write(line + "\n")

        def on_save(self, args: Any, state: Any, control: Any, model: Any = None,
                    **_: Any) -> None:
            from memgym.llm.models import write_manifest

            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                adapter = (folder / "adapter_config.json").is_file()
                write_manifest(folder, base_spec(self.base, folder), adapter=adapter)
                self.run.record_checkpoint(folder, state.global_step)

        def evaluate(self, model: Any, step: int) -> dict[str, Any]:
            from memgym.llm.tool_env import text_twin

            from memgym.llm.chunked import mode_env_kwargs

            agent = make_agent(model, self.tokenizer, self.config, self.spec)
            mode = self.spec.write_mode if self.spec.rollout == "chunked" else "tools"
            summary, is_best = self.periodic(
                agent, step, env_id=text_twin(self.config.eval_id),
                env_kwargs=mode_env_kwargs(self.config.eval_kwargs, mode))
            if is_best:
                save_model(model, self.tokenizer, self.run.best, self.base)
            return summary

    return MemgymCallback


def grpo_args(config: TrainConfig, run: RunFolder, spec: TRLSpec) -> Any:
    import torch
    from trl import GRPOConfig

    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    checkpointing = ("activation_checkpointing" if "activation_checkpointing" in names
                     else "gradient_checkpointing")  # renamed in transformers 5.x
    return GRPOConfig(
        output_dir=str(run.checkpoints), max_steps=max_steps(config, spec), seed=config.seed,
        use_cpu=not torch.cuda.is_available(),
        num_generations=spec.num_generations, max_completion_length=spec.max_completion_length,
        max_tool_calling_iterations=spec.max_tool_calling_iterations,
        learning_rate=spec.learning_rate, per_device_train_batch_size=batch_size(spec),
        gradient_accumulation_steps=spec.gradient_accumulation_steps,
        temperature=spec.temperature, beta=spec.beta, use_vllm=spec.use_vllm,
        logging_steps=spec.logging_steps,
        save_strategy="steps", save_steps=config.checkpoint_freq,
        save_total_limit=spec.save_total_limit, report_to="none",
        disable_tqdm=not config.progress,
        reward_weights=([1.0, spec.rewards.format] if spec.rollout == "chunked"
                        else [spec.rewards.format]),
        chat_template_kwargs=({} if spec.rollout == "chunked"
                              else {"demonstration": _demonstration(config, spec)}),
        **{"bf16": False, checkpointing: spec.gradient_checkpointing, **spec.grpo})


def _demonstration(config: TrainConfig, spec: TRLSpec) -> list[dict[str, Any]]:
    from memgym.llm.tool_env import demonstration

    return demonstration(config.env.id, config.env.kwargs, spec.demonstration)


def _tensorboard(run: RunFolder, spec: TRLSpec) -> list[Any]:
    if not spec.tensorboard:
        return []
    try:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback
    except ImportError:  # tensorboard is an optional extra
        return []
    return [TensorBoardCallback(SummaryWriter(str(run.tensorboard / "grpo")))]


def build_trainer(config: TrainConfig, run: RunFolder, spec: TRLSpec,
                  base: str | None = None) -> tuple[Any, Any]:
    """The GRPOTrainer for a run (starting from ``base``: ``trl.model`` by default, the
    warm-started model with ``trl.sft``) and the memgym callback it reports to."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from datasets import Dataset
    from trl import GRPOTrainer

    from memgym.llm.format_term import make_format_reward
    from memgym.llm.models import load_model
    from memgym.llm.tool_env import MemoryToolEnv, text_twin

    tools = check_env(config)
    base = base or spec.model
    model, tokenizer = load_model(base, force_tool_calls=forced_tool_calls(spec))
    model.train()
    factory = functools.partial(
        MemoryToolEnv.restricted_to(tools), env_id=text_twin(config.env.id),
        env_kwargs=config.env.kwargs, weights=spec.rewards.model_dump(), split=config.env.split)
    peft_config = None
    if spec.lora is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(r=spec.lora.r, lora_alpha=spec.lora.alpha,
                                 lora_dropout=spec.lora.dropout,
                                 target_modules=spec.lora.target_modules, task_type="CAUSAL_LM")
    callback = _callback_class()(config, run, spec, tokenizer, base)
    if spec.rollout == "chunked":
        from memgym.training.trl_chunked import build_chunked_trainer

        callbacks = [callback, *_tensorboard(run, spec)]
        trainer = build_chunked_trainer(config, run, spec, model, tokenizer, tools,
                                        grpo_args(config, run, spec), peft_config, callbacks,
                                        build_rows(config, spec))
        return trainer, callback
    callbacks = [callback, *_tensorboard(run, spec)]
    log_path = str(run.path / "completions.jsonl") if spec.log_completions else None
    reward = make_format_reward(spec.force_tool_calls, log_path)
    trainer = GRPOTrainer(model=model, reward_funcs=[reward],
                          args=grpo_args(config, run, spec),
                          train_dataset=Dataset.from_list(build_rows(config, spec)),
                          processing_class=tokenizer, environment_factory=factory,
                          peft_config=peft_config, callbacks=callbacks)
    return trainer, callback


def train(config: TrainConfig, run: RunFolder, *, resume: bool = False) -> dict[str, Any]:
    """Train (or continue) the run with GRPO; returns the final report."""
    import torch

    torch.set_num_threads(config.torch_threads)
    validate(config)
    spec = trl_spec(config)
    base, warm = spec.model, None
    if spec.sft is not None:
        base, warm = sft_warm_start(config, run, spec)
    trainer, callback = build_trainer(config, run, spec, base)
    latest = run.latest_checkpoint() if resume else None
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(latest[0]) if latest is not None else None)
    seconds = time.perf_counter() - started
    final = run.path / "final"
    save_model(trainer.model, trainer.processing_class, final, base)
    steps = int(trainer.state.global_step)
    training = {"steps": steps, "seconds": round(seconds, 1),
                "step_seconds": [round(s, 2) for s in callback.step_times],
                "peak_rss_mb": peak_rss_mb()}
    if warm is not None:
        training["sft"] = warm
    if getattr(trainer, "turn_stats", None):
        turns = trainer.turn_stats
        training["turns"] = {"max_prompt_tokens": max(t["max_prompt_tokens"] for t in turns),
                             "max_completion_tokens": max(t["max_completion_tokens"] for t in turns),
                             "turns_per_step": sum(t["turns"] for t in turns) / len(turns),
                             "log": "rollouts.jsonl"}
    del trainer
    agent = load_agent(run, config)
    return final_report(config, run, agent, training)


def final_report(config: TrainConfig, run: RunFolder, policy: Any,
                 training: dict[str, Any] | None = None) -> dict[str, Any]:
    """As :func:`memgym.training.run.final_report`, with the LLM on the text env and the
    baselines on its structured twin (same episodes)."""
    return run_final_report(config, run, policy, training=training,
                            evaluate=functools.partial(evaluate_policy, config, policy))


def evaluate_policy(config: TrainConfig, policy: Any, options: dict[str, Any] | None = None,
                    *, baselines: bool = True) -> dict[str, Any]:
    """The LLM ``policy`` on the run's ``eval.split`` streams (text env; ``options`` default to
    ``eval.options``) and, with ``baselines``, ``eval.baselines`` on the structured twin."""
    from memgym.agents.evaluate import evaluate_agents
    from memgym.llm.tool_env import structured_twin, text_twin

    spec = trl_spec(config)
    kwargs = config.eval_kwargs
    if spec.rollout == "chunked":
        from memgym.llm.chunked import mode_env_kwargs

        kwargs = mode_env_kwargs(kwargs, spec.write_mode)
    common = {"split": config.eval.split, "episodes": config.eval.episodes,
              "seed": config.eval.seed,
              "options": config.eval.options if options is None else options}
    report = evaluate_agents([policy], text_twin(config.eval_id), env_kwargs=kwargs, **common)
    if baselines and config.eval.baselines:
        struct_id = structured_twin(config.eval_id)
        base = evaluate_agents(list(config.eval.baselines), struct_id,
                               env_kwargs=config.eval_kwargs, **common)
        report["baseline_env_id"] = struct_id
        report["agents"].update(base["agents"])
        report["details"].update(base["details"])
        oracle = report["agents"].get("oracle", {}).get("qa_score")
        for summary in report["agents"].values():
            summary["oracle_ratio"] = summary["qa_score"] / oracle if oracle else None
    return report
