"""Typed ``algo.hyperparams``: one model per backend, from the algorithm's own signature."""

from __future__ import annotations

import pytest

from memgym.training.config import ConfigError
from memgym.training.hyperparams import (LinearDecay, given, signature_model,
                                         validate_hyperparams)


def algorithm(env: object, learning_rate: float = 3e-4, n_steps: int = 2048,
              target_kl: float | None = None, seed: int | None = None, **kwargs: object) -> None:
    """A stand-in with the shape of an SB3 constructor."""


MODEL = signature_model("Algo", [algorithm], skip={"env", "seed"}, scheduled=["learning_rate"])


def test_the_model_has_the_signature_names_types_and_defaults() -> None:
    assert set(MODEL.model_fields) == {"learning_rate", "n_steps", "target_kl"}
    params = validate_hyperparams(MODEL, {}, "Algo")
    assert (params.learning_rate, params.n_steps, params.target_kl) == (3e-4, 2048, None)
    assert given(params) == {}, "nothing set: the library keeps its own defaults"


def test_values_are_typed_and_lin_schedules_parsed() -> None:
    params = validate_hyperparams(MODEL, {"n_steps": 256.0, "learning_rate": "lin_0.001"}, "Algo")
    assert given(params) == {"n_steps": 256, "learning_rate": LinearDecay(start=0.001)}
    assert isinstance(given(params)["n_steps"], int)


@pytest.mark.parametrize("data, message", [
    ({"n_step": 5}, "algo.hyperparams.n_step: not an argument of Algo (did you mean 'n_steps'?)"),
    ({"n_steps": "many"}, "algo.hyperparams.n_steps: Input should be a valid integer"),
    ({"learning_rate": "fast"}, "algo.hyperparams.learning_rate: a number or lin_<number> "
                                "(got 'fast')"),
    ({"target_kl": [1]}, "algo.hyperparams.target_kl:"),
    ({"seed": 1}, "algo.hyperparams.seed: set by memgym"),
])
def test_bad_values_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_hyperparams(MODEL, data, "Algo", managed=["seed"])
    assert message in str(info.value)


def test_sb3_models_come_from_each_algorithms_constructor() -> None:
    pytest.importorskip("sb3_contrib")
    from memgym.training.sb3 import hyperparams_model

    ppo, recurrent = hyperparams_model("MaskablePPO"), hyperparams_model("RecurrentPPO")
    assert ppo.model_fields["n_steps"].default == 2048
    assert recurrent.model_fields["n_steps"].default == 128, "RecurrentPPO's own default"
    assert "seed" not in ppo.model_fields and "policy_kwargs" not in ppo.model_fields
