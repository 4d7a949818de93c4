"""Honest measurement: the curve and ``best/`` come from ``eval.select_split`` (val), and the
held-out split is scored once, by the final report, in every backend."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

import memgym.agents.evaluate as evaluate_module
from memgym.training import ConfigError, load_config, train_from_config
from memgym.training.config import SELECT_METRICS, validate_config
from memgym.training.run import PeriodicEval, RunFolder

from conftest import ROOT
from test_training_sb3 import tiny


@pytest.fixture
def eval_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every ``evaluate_agents`` call as (split, made from inside ``final_report``)."""
    calls: list[tuple[str, bool]] = []
    real = evaluate_module.evaluate_agents

    def recording(*args: Any, **kwargs: Any) -> dict[str, Any]:
        final = any(frame.function == "final_report" for frame in inspect.stack())
        calls.append((kwargs.get("split", "heldout"), final))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate_agents", recording)
    return calls


def assert_heldout_only_in_the_final_report(calls: list[tuple[str, bool]]) -> None:
    periodic = [split for split, final in calls if not final]
    report = [split for split, final in calls if final]
    assert periodic and set(periodic) == {"val"}, calls
    assert report and set(report) == {"heldout"}, calls


# -- config -----------------------------------------------------------------------------------
def test_defaults_select_on_val_by_qa(tmp_path: Path) -> None:
    config = validate_config(tiny(tmp_path))
    assert (config.eval.split, config.eval.select_split, config.eval.select_metric) == (
        "heldout", "val", "qa_score")
    assert config.eval.select_metric in SELECT_METRICS


def test_selecting_on_the_heldout_split_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"eval.select_split: .*held-out split .*optimistic"):
        validate_config(tiny(tmp_path, **{"eval.select_split": "heldout"}))
    with pytest.raises(ConfigError, match=r"eval.select_split: .*must be one of"):
        validate_config(tiny(tmp_path, **{"eval.select_split": "test"}))
    # a report on val with selection on train never touches heldout: allowed
    validate_config(tiny(tmp_path, **{"eval.split": "val", "eval.select_split": "train"}))


def test_an_unknown_select_metric_is_rejected_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"eval.select_metric: .*did you mean 'qa_score'"):
        validate_config(tiny(tmp_path, **{"eval.select_metric": "qa_scor"}))


# -- the shared helper --------------------------------------------------------------------------
def fake_summaries(monkeypatch: pytest.MonkeyPatch, values: list[float | None],
                   calls: list[tuple[str, str]], key: str = "evidence_recall") -> None:
    """``evaluate_agents`` returning one summary per call with ``key`` from ``values`` (None:
    a task without evidence labels); ``calls`` gets (split, env id) of each."""
    it = iter(values)

    def fake(agents: list[Any], env_id: str, **kwargs: Any) -> dict[str, Any]:
        calls.append((kwargs["split"], env_id))
        summary = {"qa_score": 0.5, "qa_ci95": 0.0, "return": -3.0, "evidence_recall": None}
        return {"agents": {"policy": {**summary, key: next(it)}}}

    monkeypatch.setattr(evaluate_module, "evaluate_agents", fake)


def test_periodic_eval_keeps_the_best_by_the_selected_metric(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = validate_config(tiny(tmp_path, **{"eval.select_metric": "evidence_recall"}))
    run = RunFolder.for_config(config)
    run.create(config)
    calls: list[tuple[str, str]] = []
    fake_summaries(monkeypatch, [None, 0.2, None, 0.1, 0.5, 0.4], calls)
    periodic = PeriodicEval(config, run)
    assert (periodic.label, periodic.text()) == ("val evidence_recall", "-")
    best = [periodic(object(), steps)[1] for steps in (1, 2, 3, 4, 5)]
    assert best == [True, True, False, False, True]  # None ranks below every number
    curve = run.read_curve()
    assert [p["evidence_recall"] for p in curve] == [None, 0.2, None, 0.1, 0.5]
    assert {p["split"] for p in curve} == {"val"} and {p["metric"] for p in curve} == {
        "evidence_recall"}
    resumed = PeriodicEval(config, run)  # --resume reads the best value back from the curve
    assert (resumed.best, resumed.text()) == (0.5, "0.500")
    summary, is_best = resumed(object(), 6)
    assert not is_best
    assert resumed.scalars(summary) == {"eval/val_qa_score": 0.5, "eval/val_return": -3.0,
                                        "eval/val_evidence_recall": 0.4}
    assert {split for split, _ in calls} == {"val"}


def test_a_curve_without_the_metric_falls_back_to_qa(tmp_path: Path) -> None:
    config = validate_config(tiny(tmp_path, **{"eval.select_metric": "evidence_retention"}))
    run = RunFolder.for_config(config)
    run.create(config)
    for steps, qa in ((128, 0.3), (256, 0.7), (384, 0.6)):  # written before select_metric
        run.append_curve({"steps": steps, "qa_score": qa, "qa_ci95": 0.0, "return": 0.0,
                          "seconds": 1.0})
    assert PeriodicEval(config, run).best == 0.7


# -- every backend ------------------------------------------------------------------------------
def test_sb3_selects_on_val_and_scores_heldout_once(
        tmp_path: Path, eval_calls: list[tuple[str, bool]]) -> None:
    config = validate_config(tiny(tmp_path, **{"eval.lengths": []}))
    report = train_from_config(config)
    assert_heldout_only_in_the_final_report(eval_calls)
    assert report["split"] == "heldout"
    curve = RunFolder.for_config(config).read_curve()
    assert [p["steps"] for p in curve] == [128, 256]
    assert {(p["split"], p["metric"]) for p in curve} == {("val", "qa_score")}


def test_grpo_selects_on_val_and_scores_heldout_once(
        tmp_path: Path, eval_calls: list[tuple[str, bool]]) -> None:
    config = load_config(ROOT / "configs" / "recipes" / "memory_r1_grpo.yaml", [
        f"output_dir={tmp_path}", "name=grpo-select", "total_timesteps=200", "eval.freq=100",
        "eval.episodes=1", "eval.baselines=[]", "eval.lengths=[]", "progress=false",
        "algo.hyperparams.group_size=2", "algo.hyperparams.groups_per_update=2"])
    train_from_config(config)
    assert_heldout_only_in_the_final_report(eval_calls)
    run = RunFolder.for_config(config)
    assert {p["split"] for p in run.read_curve()} == {"val"}
    assert run.best_model(".safetensors") is not None


def test_trl_callback_selects_on_val_of_the_text_env(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    import memgym.training.trl as trl_backend

    config = load_config(ROOT / "configs" / "grpo_tiny_kv.yaml", [f"output_dir={tmp_path}"])
    run = RunFolder.for_config(config)
    run.create(config)
    calls: list[tuple[str, str]] = []
    fake_summaries(monkeypatch, [0.3, 0.1], calls, key="qa_score")
    saved: list[Path] = []
    monkeypatch.setattr(trl_backend, "make_agent", lambda *args, **kwargs: object())
    monkeypatch.setattr(trl_backend, "save_model", lambda model, tok, folder, base: saved.append(
        folder))
    callback = trl_backend._callback_class()(config, run, trl_backend.trl_spec(config), None,
                                             "tiny")
    callback.evaluate(object(), 1)
    callback.evaluate(object(), 2)
    assert calls == [("val", "memgym/KVUpdates-Easy-Text-v0")] * 2
    assert saved == [run.best]  # step 1 only: the second is worse
    assert {p["split"] for p in run.read_curve()} == {"val"}
