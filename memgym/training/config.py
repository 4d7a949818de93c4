"""The training config file: one YAML schema for every backend, validated with pydantic.

Shaped the way RL Baselines3 Zoo users expect (env id + kwargs, algorithm + hyperparameters
incl. ``lin_<value>`` schedules, ``n_envs``, ``policy_kwargs``), plus an evaluation block:
periodic evaluation and ``best/`` on ``eval.select_split`` (``val``), the final report on
``eval.split`` (``heldout``). Errors name the file, the key path and, for a misspelt key,
the closest valid name. ``--set a.b=value`` overrides are applied before validation.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo,
                      field_validator)

from memgym.episode import SPLITS

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"

#: Keys of an evaluation summary (``memgym.agents.evaluate.summarise``) that may choose
#: ``best/``; higher is better. The evidence ones are None for tasks without evidence labels.
SELECT_METRICS: tuple[str, ...] = ("qa_score", "return", "evidence_retention", "evidence_recall")


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message says where and why."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvSpec(Strict):
    id: str
    """Registered environment id, e.g. ``memgym/KVUpdates-Medium-v0``."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Environment arguments (tiers, ops, rewards, reader, ...) over the registered ones."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Reset options for every training episode (task parameters such as ``length``)."""
    option_choices: dict[str, list[Any]] = Field(default_factory=dict)
    """Reset options drawn per training episode, uniformly from each list (e.g.
    ``{length: [16, 32, 64]}``: train on every length the policy will be tested on);
    ``dummy`` / ``subproc`` vec envs of the sb3 backend."""
    split: str = "train"

    @field_validator("option_choices")
    @classmethod
    def _choices(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [key for key, values in value.items() if not values]
        if empty:
            raise ValueError(f"{', '.join(empty)}: each needs at least one value")
        return value

    @field_validator("split")
    @classmethod
    def _split(cls, value: str) -> str:
        if value not in SPLITS:
            raise ValueError(f"must be one of {', '.join(SPLITS)}")
        return value


class EvalSpec(Strict):
    id: str | None = None
    """Environment id for evaluation (default: the training env id)."""
    kwargs: dict[str, Any] | None = None
    """Environment arguments for evaluation (default: the training env's)."""
    split: str = "heldout"
    """Split of the final report, and only of it: nothing else scores these streams."""
    select_split: str = "val"
    """Split of the periodic evaluations that draw the curve and choose ``best/``."""
    select_metric: str = "qa_score"
    """Summary key that chooses ``best/`` (one of ``SELECT_METRICS``)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Reset options for evaluation episodes (e.g. a longer ``length``)."""
    episodes: int = Field(30, ge=1)
    freq: int = Field(10_000, ge=1)
    """Evaluate (on ``select_split``) every this many environment steps during training."""
    seed: int = Field(0, ge=0)
    baselines: list[str] = Field(default_factory=lambda: ["random", "fifo", "lru", "oracle"])
    """Baselines evaluated on the same streams in the final report."""
    lengths: list[int] = Field(default_factory=list)
    """Extra stream lengths for the final report (length generalisation)."""

    @field_validator("split")
    @classmethod
    def _split(cls, value: str) -> str:
        return EnvSpec._split(value)

    @field_validator("select_split")
    @classmethod
    def _select_split(cls, value: str, info: ValidationInfo) -> str:
        value = EnvSpec._split(value)
        # A best/ picked on the streams the final report then scores is an optimistic number.
        if value == "heldout" and info.data.get("split") == "heldout":
            raise ValueError("selecting best/ on the held-out split that the final report "
                             "scores is optimistic; use val")
        return value

    @field_validator("select_metric")
    @classmethod
    def _select_metric(cls, value: str) -> str:
        if value not in SELECT_METRICS:
            close = difflib.get_close_matches(value, SELECT_METRICS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"must be one of {', '.join(SELECT_METRICS)}{hint}")
        return value


class AlgoSpec(Strict):
    name: str = "MaskablePPO"
    """``PPO``, ``MaskablePPO`` or ``RecurrentPPO`` (sb3); ``PPO`` (rllib)."""
    policy: str | None = None
    """Policy class name (default: the algorithm's multi-input policy)."""
    n_envs: int = Field(8, ge=1)
    vec_env: Literal["dummy", "subproc", "vector_entry_point"] = "dummy"
    """``dummy`` / ``subproc``: SB3's VecEnvs over single envs; ``vector_entry_point``:
    memgym's batched numpy env (``memgym.envs.vector``; ops noop/add/update/delete/evict)."""
    hyperparams: dict[str, Any] = Field(default_factory=dict)
    """Constructor arguments of the algorithm (checked against its signature)."""
    policy_kwargs: dict[str, Any] = Field(default_factory=dict)


class TrainConfig(Strict):
    name: str
    """Run name: the run folder is ``<output_dir>/<name>``."""
    description: str = ""
    imports: list[str] = Field(default_factory=list)
    """Task modules to import before the env ids are looked up (a task of one's own; see
    :mod:`memgym.plugins`). Imported again in subprocess / Ray workers and when the run is
    loaded, so they must be importable there (installed, or on ``PYTHONPATH``)."""
    backend: Literal["sb3", "rllib", "trl", "grpo"] = "sb3"
    """``grpo``: the small-policy GRPO trainer of :mod:`memgym.training.grpo_small`."""
    env: EnvSpec
    eval: EvalSpec = Field(default_factory=EvalSpec)
    algo: AlgoSpec = Field(default_factory=AlgoSpec)
    total_timesteps: int = Field(ge=1)
    seed: int = Field(0, ge=0)
    checkpoint_freq: int = Field(20_000, ge=1)
    """Save a checkpoint every this many environment steps (and at the end)."""
    output_dir: str = "runs"
    rllib: dict[str, Any] = Field(default_factory=dict)
    """Ray / RLlib settings (``backend: rllib``), validated by ``memgym.training.rllib``."""
    trl: dict[str, Any] = Field(default_factory=dict)
    """TRL / LLM settings (``backend: trl``), validated by ``memgym.training.trl``."""
    max_minutes: float | None = Field(None, gt=0)
    """Stop training after this much wall-clock time (checkpoint + final report still run)."""
    torch_threads: int = Field(1, ge=1)
    progress: bool = True

    @property
    def eval_id(self) -> str:
        return self.eval.id or self.env.id

    @property
    def eval_kwargs(self) -> dict[str, Any]:
        return self.env.kwargs if self.eval.kwargs is None else self.eval.kwargs


def _suggest(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    close = difflib.get_close_matches(key, list(model.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = TrainConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if model else None
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


def blame(source: str, key: str, overrides: list[str] | None) -> str:
    """Who set ``key`` (``"env.kwargs"``): the last ``--set`` override on that key path (or
    above / below it), else the config file ``source``."""
    parts = key.split(".")
    for item in reversed(overrides or []):
        target = item.partition("=")[0].strip().split(".")
        n = min(len(target), len(parts))
        if n and target[:n] == parts[:n]:
            return f"--set {item!r}"
    return source


def format_errors(exc: ValidationError, source: str, overrides: list[str] | None = None) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc) or "(top level)"
        source_of = blame(source, path, overrides) if loc else source
        if err["type"] == "extra_forbidden":
            lines.append(f"{source_of}: {path}: unknown key"
                         f"{_suggest(str(loc[-1]), _model_at(loc))}")
        elif err["type"] == "missing":
            lines.append(f"{source_of}: {path}: required key is missing")
        else:
            lines.append(f"{source_of}: {path}: {err['msg']} (got {err.get('input')!r:.60})")
    return "\n".join(lines)


def apply_overrides(data: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML) to a nested dict, in place."""
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: value is not valid YAML ({exc})") from exc
        try:
            set_path(data, key.strip(), value)
        except ConfigError as exc:
            raise ConfigError(f"--set {item!r}: {exc}") from exc
    return data


def set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``key`` ``"a.b.c"``, creating missing mappings."""
    node = data
    *parents, last = key.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{part!r} is not a mapping")
        node = child
    node[last] = value


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {exc.problem}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return data


def load_config(path: str | Path, overrides: list[str] | None = None,
                imports: list[str] | None = None) -> TrainConfig:
    """Read, override and validate a config file; raises :class:`ConfigError`. ``imports``
    (``--import``) are added to the config's ``imports:``."""
    data = add_imports(apply_overrides(read_yaml(path), overrides), imports)
    return validate_config(data, str(path), overrides)


def add_imports(data: dict[str, Any], imports: list[str] | None) -> dict[str, Any]:
    """``data["imports"]`` extended by ``imports`` (without repeats), in place."""
    if imports:
        known = data.get("imports") or []
        if not isinstance(known, list):
            raise ConfigError(f"imports: a list of module names, got {known!r:.60}")
        data["imports"] = list(dict.fromkeys([*known, *imports]))
    return data


def validate_config(data: dict[str, Any], source: str = "config",
                    overrides: list[str] | None = None) -> TrainConfig:
    """Validate ``data`` (read from ``source``, then ``overrides`` applied: errors name the
    override that set a key, else the file) and import its task modules."""
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source, overrides)) from exc
    check_env_ids(config, source, overrides)
    return config


def check_env_ids(config: TrainConfig, source: str, overrides: list[str] | None = None) -> None:
    """Import ``imports:`` (and installed plugins), then check that both env ids exist."""
    import gymnasium as gym

    from memgym.plugins import PluginError, prepare, unknown_env_id

    try:
        prepare(config.imports, label=f"{blame(source, 'imports', overrides)}: imports:")
    except PluginError as exc:
        raise ConfigError(str(exc)) from exc
    for key, env_id in (("env.id", config.env.id), ("eval.id", config.eval_id)):
        if env_id not in gym.registry:
            where = blame(source, key, overrides)
            message = unknown_env_id(env_id, "list its module under imports: in the config")
            raise ConfigError(f"{where}: {key}: {message}")


def check_env_kwargs(config: TrainConfig) -> None:
    """Build ``env.id`` with ``env.kwargs`` (and the evaluation env, where it differs) once,
    so a bad environment argument (an unknown name, ``episode_pool: 0``, a malformed tier, a
    missing data file) fails as a :class:`ConfigError` naming the key before a run folder is
    made, whatever the backend and vector mode."""
    import gymnasium as gym

    envs = [("env.kwargs", config.env.id, config.env.kwargs)]
    if (config.eval_id, config.eval_kwargs) != (config.env.id, config.env.kwargs):
        key = "eval.kwargs" if config.eval.kwargs is not None else "env.kwargs"
        envs.append((key, config.eval_id, config.eval_kwargs))
    for key, env_id, kwargs in envs:
        try:
            gym.make(env_id, **kwargs).close()
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key}: {env_id} rejects them: {exc}") from exc
        except OSError as exc:  # a data file that is missing or unreadable
            raise ConfigError(f"{key}: {exc}") from exc


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def refuse_option_choices(config: TrainConfig, backend: str) -> None:
    """Backends without per-episode option draws say so instead of ignoring them."""
    if config.env.option_choices:
        raise ConfigError(f"env.option_choices: not supported by the {backend} backend "
                          "(the sb3 backend draws them); set env.options instead")


def linear_start(key: str, value: Any) -> float | None:
    """``algo.hyperparams.KEY``: the start of a ``lin_<value>`` schedule (rl-zoo's notation:
    linear decay to 0 over the run), or None for a plain value; one parser for every
    backend (SB3 builds a ``LinearSchedule`` from it, RLlib a ``[[0, start], [T, 0]]`` list)."""
    if not isinstance(value, str):
        return None
    try:
        if value.startswith("lin_"):
            return float(value[4:])
    except ValueError:
        pass
    raise ConfigError(f"algo.hyperparams.{key}: {value!r} (a number or lin_<number>)")


def validate_block(model: type[BaseModel], data: Any, prefix: str) -> Any:
    """Validate a backend's free-form block (``trl:``, ``rllib:``) against its pydantic model;
    every error names its key path under ``prefix`` (with the closest valid name for an
    unknown key, nested models included). Raises :class:`ConfigError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            path = f"{prefix}." + ".".join(str(p) for p in err["loc"])
            if err["type"] != "extra_forbidden":
                lines.append(f"{path}: {err['msg']} (got {err.get('input')!r:.60})")
                continue
            owner: type[BaseModel] = model  # the (nested) model the unknown key is in
            for part in err["loc"][:-1]:
                field = owner.model_fields.get(str(part))
                annotation = field.annotation if field else None
                args = getattr(annotation, "__args__", ()) or (annotation,)
                owner = next((a for a in args if isinstance(a, type)
                              and issubclass(a, BaseModel)), owner)
            close = difflib.get_close_matches(str(err["loc"][-1]), list(owner.model_fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"{path}: unknown key{hint}")
        raise ConfigError("\n".join(lines)) from exc
