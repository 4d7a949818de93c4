"""Running agents on held-out streams and summarising what they scored.

Episode ``i`` of an evaluation is episode seed ``seed + i`` of the chosen split, and the agent
is seeded with the same number, so two agents see identical streams and a report is a pure
function of (env id, split, episodes, seed, options, agents).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import gymnasium as gym
import numpy as np

import memgym
from memgym.agents.baselines import BASELINES, Agent

ALL_BASELINES: tuple[str, ...] = ("random", "keep", "fifo", "lru", "salience", "oracle")


def make_agent(spec: str | Agent) -> Agent:
    """A baseline by name, or a policy loaded from a path (see :mod:`memgym.agents.loaders`)."""
    if not isinstance(spec, str):
        return spec
    if spec in BASELINES:
        return BASELINES[spec]()
    from memgym.agents.loaders import load_policy_agent  # trainers are optional extras

    return load_policy_agent(spec)


def expand_agent_names(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        for part in name.split(","):
            part = part.strip()
            if part == "all":
                out.extend(a for a in ALL_BASELINES if a not in out)
            elif part and part not in out:
                out.append(part)
    return out


def run_episode(env: gym.Env, agent: Agent, *, split: str, episode_seed: int,
                options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Play one episode; returns its return, QA records, reward terms, op counts, memory."""
    obs, info = env.reset(seed=episode_seed,
                          options={"split": split, "episode_seed": episode_seed, **(options or {})})
    agent.reset(env, seed=episode_seed)
    total, terms = 0.0, Counter()
    while True:
        action = agent.act(obs, info, env)
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        terms.update(info.get("reward_terms", {}))
        if terminated or truncated:
            break
    core = env.unwrapped.core
    records = [asdict(r) for r in core.records]
    trace = core.memory_trace
    evidence = {c for q in core.episode.questions for c in q.evidence}
    return {
        "episode_seed": episode_seed,
        "return": total,
        "qa_score": float(np.mean([r["score"] for r in records])) if records else 0.0,
        "records": records,
        "terms": dict(terms),
        "ops": dict(core.op_counts),
        "invalid": core.invalid_count,
        "steps": core.step_count,
        "memory_mean": float(np.mean(trace)) if trace else 0.0,
        "memory_trace": list(trace),
        "diagnostics": {
            "extraction_recall": len(evidence & core.ever_stored) / len(evidence) if evidence else None,
            "removals": core.removals,
            "needed_removals": core.needed_removals,
        },
    }


def summarise(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and 95% interval of the QA score, per question kind, ops and memory use."""
    scores = np.array([e["qa_score"] for e in episodes])
    n = len(scores)
    std = float(scores.std(ddof=1)) if n > 1 else 0.0
    per_kind: dict[str, list[float]] = defaultdict(list)
    for e in episodes:
        for r in e["records"]:
            per_kind[r["kind"]].append(r["score"])
    ops: Counter[str] = Counter()
    terms: Counter[str] = Counter()
    records = [r for e in episodes for r in e["records"]]
    for e in episodes:
        ops.update(e["ops"])
        terms.update(e["terms"])
    return {
        "qa_score": float(scores.mean()) if n else 0.0,
        "qa_std": std,
        "qa_ci95": 1.96 * std / math.sqrt(n) if n > 1 else 0.0,
        "return": float(np.mean([e["return"] for e in episodes])) if n else 0.0,
        "per_kind": {k: float(np.mean(v)) for k, v in sorted(per_kind.items())},
        "questions_per_kind": {k: len(v) for k, v in sorted(per_kind.items())},
        "ops_per_episode": {k: v / n for k, v in sorted(ops.items())},
        "reward_terms": {k: v / n for k, v in sorted(terms.items()) if v},
        "invalid_per_episode": float(np.mean([e["invalid"] for e in episodes])) if n else 0.0,
        "memory_mean": float(np.mean([e["memory_mean"] for e in episodes])) if n else 0.0,
        "steps_per_episode": float(np.mean([e["steps"] for e in episodes])) if n else 0.0,
        "diagnostics": diagnostics(episodes, records),
        "episode_scores": [float(s) for s in scores],
    }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def diagnostics(episodes: list[dict[str, Any]], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Operation-level diagnostics (HaluMem-style) next to QA; ``None`` where the data has no
    labels to compute one (e.g. datasets without evidence ids).

    - extraction_recall: share of evidence chunks ever stored during the episode;
    - final_retention: share of a question's evidence still in memory when it is asked;
    - stale_fact_rate: share of questions (with known conflicts) answered while a stale or
      planted value was kept beside the evidence;
    - wrong_delete_rate: share of removals (delete / evict / overwrite) that threw away
      evidence of a question still to come.
    """
    removals = sum(e["diagnostics"]["removals"] for e in episodes)
    needed = sum(e["diagnostics"]["needed_removals"] for e in episodes)
    recall = [e["diagnostics"]["extraction_recall"] for e in episodes
              if e["diagnostics"]["extraction_recall"] is not None]
    return {
        "extraction_recall": _mean(recall),
        "final_retention": _mean([r["evidence_kept"] for r in records
                                  if r["evidence_kept"] is not None]),
        "stale_fact_rate": _mean([float(r["stale_kept"]) for r in records
                                  if r["evidence_kept"] is not None]),
        "wrong_delete_rate": needed / removals if removals else None,
    }


def evaluate_agents(
    agents: Sequence[str | Agent],
    env_id: str,
    *,
    split: str = "heldout",
    episodes: int = 20,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate each agent on the same ``episodes`` streams; returns the report dict.

    ``options`` are per-episode reset options (task parameters such as ``length``);
    ``progress(agent_spec, episodes_done)`` is called after each episode. A trained policy is
    reported under its run name.
    """
    if env_id not in gym.registry:
        known = ", ".join(sorted(memgym.REGISTRY))
        raise ValueError(f"unknown env id {env_id!r}; registered memgym ids: {known}")
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = gym.make(env_id, **(env_kwargs or {}))
    report: dict[str, Any] = {
        "env_id": env_id, "split": split, "episodes": episodes, "seed": seed,
        "options": dict(options or {}), "env_kwargs": dict(env_kwargs or {}),
        "memgym_version": memgym.__version__, "agents": {}, "details": {},
    }
    try:
        for spec in agents:
            agent = make_agent(spec)
            label = spec if isinstance(spec, str) else agent.name  # as the caller named it
            name = spec if isinstance(spec, str) and spec in BASELINES else agent.name
            results = []
            for i in range(episodes):
                results.append(run_episode(env, agent, split=split, episode_seed=seed + i,
                                           options=options))
                if progress is not None:
                    progress(label, i + 1)
            report["agents"][name] = summarise(results)
            report["details"][name] = [
                {k: v for k, v in r.items() if k != "records"} | {
                    "scores": [q["score"] for q in r["records"]]}
                for r in results
            ]
    finally:
        env.close()
    oracle = report["agents"].get("oracle", {}).get("qa_score")
    for summary in report["agents"].values():
        summary["oracle_ratio"] = summary["qa_score"] / oracle if oracle else None
    return report
