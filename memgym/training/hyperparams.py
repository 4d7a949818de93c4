"""``algo.hyperparams`` as a typed model per backend, validated once.

The config file's ``algo.hyperparams`` is a free mapping (its keys depend on the backend).
Each backend turns it into a pydantic model here, once, before any file is written:

- SB3 (PPO / MaskablePPO / RecurrentPPO) and RLlib (``PPOConfig.training``): a model made
  from the algorithm's own signature (names, types, defaults), so a new SB3 / RLlib argument
  needs no change here and no default is copied by hand; arguments memgym sets itself are
  left out;
- the small-policy GRPO trainer: :class:`memgym.training.grpo_small.GRPOParams`.

Values are checked against the signature's types (``n_steps: "many"`` fails, naming the key);
``lin_<value>`` (rl-zoo's linear schedule) parses into :class:`LinearDecay` for the scheduled
keys, which each backend then turns into its own schedule object.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, create_model
from pydantic_core import PydanticCustomError

from memgym.training.config import ConfigError, linear_start, validate_block


class LinearDecay(BaseModel):
    """``lin_<start>``: from ``start`` at the beginning of training linearly down to 0."""

    model_config = ConfigDict(frozen=True)
    start: float


def _resolved(func: Callable[..., Any], name: str, annotation: Any) -> Any:
    """One parameter's annotation as a type (Any when it names something only type checkers
    import, as SB3's ``"VecEnv"``: that argument is then checked by the algorithm itself)."""
    if annotation is inspect.Parameter.empty:
        return Any
    holder = type("Hint", (), {"__annotations__": {name: annotation},
                               "__module__": func.__module__})
    try:
        return typing.get_type_hints(holder)[name]
    except Exception:  # noqa: BLE001  (NameError / TypeError from an unresolvable hint)
        return Any


def signature_model(model_name: str, funcs: Iterable[Callable[..., Any]], *,
                    skip: Iterable[str] = (), scheduled: Iterable[str] = ()) -> type[BaseModel]:
    """A strict pydantic model of the keyword arguments of ``funcs`` (the first one that
    names an argument wins), minus ``skip``; ``scheduled`` arguments also take ``lin_<v>``."""
    skip, scheduled = set(skip), set(scheduled)
    fields: dict[str, Any] = {}
    for func in funcs:
        for name, param in inspect.signature(func).parameters.items():
            if name in fields or name in skip or name == "self" or param.kind in (
                    param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = _resolved(func, name, param.annotation)
            default = None if param.default is inspect.Parameter.empty else param.default
            if name in scheduled:
                annotation = Annotated[Union[LinearDecay, annotation],
                                       BeforeValidator(_linear(name))]
            fields[name] = (annotation, default)
    return create_model(model_name, __config__=ConfigDict(extra="forbid",
                                                          arbitrary_types_allowed=True),
                        **fields)


def _linear(key: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        try:
            start = linear_start(key, value)
        except ConfigError as exc:  # validate_block adds the key path and the input
            raise PydanticCustomError("schedule", "a number or lin_<number>") from exc
        return value if start is None else LinearDecay(start=start)

    return parse


def validate_hyperparams(model: type[BaseModel], data: dict[str, Any], owner: str, *,
                         managed: Iterable[str] = (), hints: dict[str, str] | None = None
                         ) -> BaseModel:
    """``algo.hyperparams`` checked against ``model`` (the arguments of ``owner``); errors
    name ``algo.hyperparams.KEY``. An unknown key gets the closest valid name (or ``hints``:
    another library's name -> this one's), a ``managed`` key (one memgym sets from top-level
    keys, e.g. ``seed``) says so. Raises :class:`ConfigError`."""
    for key in data:
        if key in managed:
            raise ConfigError(f"algo.hyperparams.{key}: set by memgym; use the top-level key")
        if key not in model.model_fields:
            if hints and key in hints:
                hint = f" (did you mean {hints[key]!r}? {owner}'s name for {key})"
            else:
                close = difflib.get_close_matches(key, sorted(model.model_fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"algo.hyperparams.{key}: not an argument of {owner}{hint}")
    return validate_block(model, data, "algo.hyperparams")


def given(params: BaseModel) -> dict[str, Any]:
    """The arguments the config file set (the rest stay the library's defaults), typed."""
    return {name: getattr(params, name) for name in params.model_fields_set}
