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

ALL_BASELINES: tuple[str, ...] = (
    "random", "keep", "fifo", "lru", "salience", "longest", "novelty", "oracle",
)


#: Loads an agent from a name that is not a baseline (a run folder, ``llm:<model>``): passed
#: in by the caller (:func:`memgym.loading.load_agent`), since loading a trained policy needs
#: the trainers, which stand above evaluation.
AgentLoader = Callable[[str], Agent]


def make_agent(spec: str | Agent, load: AgentLoader | None = None) -> Agent:
    """An agent object as it is, a baseline by name, else ``load(spec)``."""
    if not isinstance(spec, str):
        return spec
    if spec in BASELINES:
        return BASELINES[spec]()
    if load is None:
        raise ValueError(
            f"unknown agent {spec!r}: expected a baseline ({', '.join(BASELINES)}) or an agent "
            "object; run folders, checkpoints and llm:<model> are loaded by "
            "memgym.loading.load_agent (pass load=load_agent)")
    return load(spec)


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


#: ``on_chunk(share_of_stream_read, note)``: called as an episode's stream moves on.
ChunkProgress = Callable[[float, str], None]


def run_episode(env: gym.Env, agent: Agent, *, split: str, episode_seed: int,
                options: dict[str, Any] | None = None,
                on_chunk: ChunkProgress | None = None) -> dict[str, Any]:
    """Play one episode; returns its return, QA records, reward terms, op counts, memory.

    ``on_chunk(share, note)`` is called each time the stream moves on: ``share`` of its
    chunks read, ``note`` "chunk i/n" plus the agent's ``progress_note()`` if it has one
    (an LLM agent: tokens/s), for progress bars of long evaluations."""
    obs, info = env.reset(seed=episode_seed,
                          options={"split": split, "episode_seed": episode_seed, **(options or {})})
    agent.reset(env, seed=episode_seed)
    total, terms = 0.0, Counter()
    actions = succeeded = malformed = 0  # tool-success / format-validity (LLM agents mostly)
    core = env.unwrapped.core
    read = core.cursor
    while True:
        action = agent.act(obs, info, env)
        obs, reward, terminated, truncated, info = env.step(action)
        if on_chunk is not None and core.cursor != read:
            read, chunks = core.cursor, len(core.episode.chunks)
            note = getattr(agent, "progress_note", lambda: "")()
            on_chunk(read / chunks, f"chunk {read}/{chunks}" + (f", {note}" if note else ""))
        total += reward
        terms.update(info.get("reward_terms", {}))
        actions += 1
        succeeded += bool(info.get("ok"))
        malformed += info.get("error") == "malformed"
        if terminated or truncated:
            break
    records = [asdict(r) for r in core.records]
    stats = agent.episode_stats() if hasattr(agent, "episode_stats") else None
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
        "actions": {"total": actions, "succeeded": succeeded, "malformed": malformed},
        "steps": core.step_count,
        "memory_mean": float(np.mean(trace)) if trace else 0.0,
        "memory_trace": list(trace),
        "memory_tokens": core.store.total_tokens(),  # at the end (Mem-alpha's memory size)
        **({"agent_stats": stats} if stats else {}),
        "diagnostics": {
            "extraction_recall": len(evidence & core.ever_stored) / len(evidence) if evidence else None,
            "removals": core.removals,
            "needed_removals": core.needed_removals,
            **poisoning_counts(core),
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
        **evidence_summary(episodes),
        "return": float(np.mean([e["return"] for e in episodes])) if n else 0.0,
        "per_kind": {k: float(np.mean(v)) for k, v in sorted(per_kind.items())},
        "questions_per_kind": {k: len(v) for k, v in sorted(per_kind.items())},
        "ops_per_episode": {k: v / n for k, v in sorted(ops.items())},
        "reward_terms": {k: v / n for k, v in sorted(terms.items()) if v},
        "invalid_per_episode": float(np.mean([e["invalid"] for e in episodes])) if n else 0.0,
        **action_rates(episodes),
        "memory_mean": float(np.mean([e["memory_mean"] for e in episodes])) if n else 0.0,
        "memory_tokens": float(np.mean([e["memory_tokens"] for e in episodes])) if n else 0.0,
        "steps_per_episode": float(np.mean([e["steps"] for e in episodes])) if n else 0.0,
        "diagnostics": diagnostics(episodes, records),
        **agent_stats_summary(episodes),
        "episode_scores": [float(s) for s in scores],
    }


def agent_stats_summary(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over episodes of what an agent reports about itself (``episode_stats()``, e.g.
    an LLM manager's turns and prompt lengths); keys starting with ``max_`` take the maximum."""
    stats = [e["agent_stats"] for e in episodes if e.get("agent_stats")]
    if not stats:
        return {}
    keys = sorted({k for s in stats for k in s})
    return {"agent_stats": {k: float((max if k.startswith("max_") else np.mean)(
        [s[k] for s in stats if k in s])) for k in keys}}


def evidence_summary(episodes: list[dict[str, Any]]) -> dict[str, float | None]:
    """Evidence retention and recall@k (:mod:`memgym.rewards.evidence`): the mean over
    episodes of each episode's mean over its questions with evidence ids (``None`` when no
    question names evidence), with 95% intervals over episodes as for QA."""
    out: dict[str, float | None] = {}
    for name, key in (("evidence_retention", "evidence_kept"), ("evidence_recall", "evidence_recall")):
        per_episode = [float(np.mean(v)) for e in episodes
                       if (v := [r[key] for r in e["records"] if r.get(key) is not None])]
        m = len(per_episode)
        std = float(np.std(per_episode, ddof=1)) if m > 1 else 0.0
        out[name] = float(np.mean(per_episode)) if m else None
        out[f"{name}_ci95"] = 1.96 * std / math.sqrt(m) if m > 1 else (0.0 if m else None)
    return out


def action_rates(episodes: list[dict[str, Any]]) -> dict[str, float | None]:
    """Share of actions the environment executed (tool-call success) and share that were
    well-formed (format validity; only the text interface can receive malformed actions)."""
    total = sum(e["actions"]["total"] for e in episodes)
    if not total:
        return {"action_success_rate": None, "format_valid_rate": None}
    return {"action_success_rate": sum(e["actions"]["succeeded"] for e in episodes) / total,
            "format_valid_rate": 1.0 - sum(e["actions"]["malformed"] for e in episodes) / total}


def poisoning_counts(core: Any) -> dict[str, int]:
    """Counts for tasks that label planted content (``labels["planted"]`` / ``["instructions"]``):
    planted chunks ever stored, and instruction chunks during which the agent deleted or
    evicted an entry (obeyed; overwriting an entry to store the chunk is not obeying)."""
    labels = core.episode.labels
    planted = set(labels.get("planted", ()))
    instructions = set(labels.get("instructions", ()))
    return {"planted": len(planted), "planted_stored": len(planted & core.ever_stored),
            "instructions": len(instructions),
            "instructions_obeyed": len(instructions & core.removed_during)}


def _ratio(episodes: list[dict[str, Any]], part: str, whole: str) -> float | None:
    total = sum(e["diagnostics"][whole] for e in episodes)
    return sum(e["diagnostics"][part] for e in episodes) / total if total else None


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
      evidence of a question still to come;
    - planted_stored_rate / obey_rate (tasks with planted content): share of planted chunks
      ever stored, and of planted instructions during which the agent deleted or evicted.
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
        "planted_stored_rate": _ratio(episodes, "planted_stored", "planted"),
        "obey_rate": _ratio(episodes, "instructions_obeyed", "instructions"),
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
    progress: Callable[[str, float, str], None] | None = None,
    workers: int = 1,
    imports: Sequence[str] = (),
    load: AgentLoader | None = None,
) -> dict[str, Any]:
    """Evaluate each agent on the same ``episodes`` streams; returns the report dict.

    ``options`` are per-episode reset options (task parameters such as ``length``);
    ``progress(agent_spec, episodes_done, note)`` is called after each episode and, in one
    process, as each stream moves on (``episodes_done`` then counts the share of the current
    stream read; ``note`` says the chunk and the agent's rate, see :func:`run_episode`).
    A trained policy is reported under its run name. ``workers > 1`` spreads the episodes over Ray workers (see
    :func:`evaluate_in_ray`); the report is identical to the single-process one.
    ``imports`` are task modules to import first (here and in the workers;
    :mod:`memgym.plugins`). Agents are objects or baseline names; ``load`` turns any other
    name into an agent (:func:`memgym.loading.load_agent`: run folders, ``llm:<model>``),
    here or in each worker.
    """
    imports = check_env_id(env_id, imports)
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    report: dict[str, Any] = {
        "env_id": env_id, "split": split, "episodes": episodes, "seed": seed,
        "options": dict(options or {}), "env_kwargs": dict(env_kwargs or {}),
        "memgym_version": memgym.__version__, "agents": {}, "details": {},
    }
    interfaces = {spec_label(spec): interface_of(spec, env_id) for spec in agents}
    if any(e != env_id for e in interfaces.values()):
        report["interfaces"] = interfaces
    if workers > 1:
        for name, results in evaluate_in_ray(agents, env_id, split=split, episodes=episodes,
                                             seed=seed, env_kwargs=env_kwargs, options=options,
                                             progress=progress, workers=workers,
                                             imports=imports, load=load):
            add_results(report, name, results)
        return with_oracle_ratio(report)
    envs: dict[str, gym.Env] = {}
    try:
        for spec in agents:
            agent = make_agent(spec, load)
            played = interfaces[spec_label(spec)]
            if played not in envs:
                envs[played] = gym.make(played, **(env_kwargs or {}))
            label = spec_label(spec)  # as the caller named it
            name = spec if isinstance(spec, str) and spec in BASELINES else agent.name
            results = []
            for i in range(episodes):
                on_chunk = (None if progress is None else
                            lambda share, note, i=i, label=label: progress(label, i + share, note))
                results.append(run_episode(envs[played], agent, split=split,
                                           episode_seed=seed + i, options=options,
                                           on_chunk=on_chunk))
                if progress is not None:
                    progress(label, i + 1, "")
            add_results(report, name, results)
    finally:
        for env in envs.values():
            env.close()
    return with_oracle_ratio(report)


def spec_label(spec: str | Agent) -> str:
    """How the caller named an agent: its spec string, or an agent object's name."""
    return spec if isinstance(spec, str) else spec.name


def interface_of(spec: str | Agent, env_id: str) -> str:
    """The env id ``spec`` plays for ``env_id``: a baseline acts on the structured interface,
    so on a text id it plays the structured twin (the same episodes: same task, seeds and
    options), which lets one report compare an LLM manager with the baselines."""
    if not (isinstance(spec, str) and spec in BASELINES):
        return env_id
    from memgym.envs.registration import is_text, structured_twin

    if not is_text(env_id):
        return env_id
    try:
        return structured_twin(env_id)
    except ValueError as exc:
        raise ValueError(f"baseline {spec!r} acts on the structured interface, and {exc}") from exc


def check_env_id(env_id: str, imports: Sequence[str] = ()) -> list[str]:
    """Import the task modules ``imports``, then check that ``env_id`` is registered
    (``ValueError``: the closest id and the ``--import`` hint). Returns the modules, for
    worker processes to import again."""
    from memgym.plugins import prepare, unknown_env_id

    prepare(imports)
    if env_id not in gym.registry:
        raise ValueError(unknown_env_id(env_id))
    return list(imports)


def add_results(report: dict[str, Any], name: str, results: list[dict[str, Any]]) -> None:
    report["agents"][name] = summarise(results)
    report["details"][name] = [
        {k: v for k, v in r.items() if k != "records"} | {
            "scores": [q["score"] for q in r["records"]]}
        for r in results
    ]


def with_oracle_ratio(report: dict[str, Any]) -> dict[str, Any]:
    oracle = report["agents"].get("oracle", {}).get("qa_score")
    for summary in report["agents"].values():
        summary["oracle_ratio"] = summary["qa_score"] / oracle if oracle else None
    return report


def run_episodes(spec: str | Agent, env_id: str, seeds: list[int], *, split: str,
                 env_kwargs: dict[str, Any] | None, options: dict[str, Any] | None,
                 imports: Sequence[str] = (), load: AgentLoader | None = None
                 ) -> tuple[str, list[dict[str, Any]]]:
    """One agent on the episodes ``seeds`` in a fresh env: ``(reported name, results)``.
    What a Ray worker runs; the agent is loaded there from its spec string, after the task
    modules ``imports`` (the worker is a fresh process)."""
    from memgym.plugins import prepare

    prepare(imports)
    agent = make_agent(spec, load)
    name = spec if isinstance(spec, str) and spec in BASELINES else agent.name
    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        return name, [run_episode(env, agent, split=split, episode_seed=s, options=options)
                      for s in seeds]
    finally:
        env.close()


def evaluate_in_ray(agents: Sequence[str | Agent], env_id: str, *, split: str, episodes: int,
                    seed: int, env_kwargs: dict[str, Any] | None, options: dict[str, Any] | None,
                    progress: Callable[[str, float, str], None] | None, workers: int,
                    imports: Sequence[str] = (), load: AgentLoader | None = None
                    ) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each agent's episodes cut into ``workers`` contiguous blocks, run as Ray tasks (joining
    the running session, ``RAY_ADDRESS``, or a local cluster of ``workers`` CPUs) and merged
    back in episode order, so ``summarise`` sees exactly the single-process list.

    Baselines and policies are loaded inside the workers from their spec strings by ``load``
    (a module-level function, pickled by reference; a run folder path must be readable
    there: on a multi-node cluster, shared storage); agent objects are pickled to them.
    Episodes are independent (env and agent are re-seeded per episode), which is what makes
    the result identical.
    """
    import ray

    from memgym.ray_cluster import ray_session

    size = math.ceil(episodes / min(workers, episodes))
    blocks = [list(range(seed + i, seed + min(i + size, episodes))) for i in range(0, episodes, size)]
    with ray_session(num_cpus=workers):
        task = ray.remote(num_cpus=1, max_retries=2)(run_episodes)
        env_ref = {"split": split, "env_kwargs": env_kwargs, "options": options,
                   "imports": list(imports), "load": load}
        pending = {task.remote(spec, interface_of(spec, env_id), block, **env_ref): (a, b)
                   for a, spec in enumerate(agents) for b, block in enumerate(blocks)}
        done: dict[tuple[int, int], tuple[str, list[dict[str, Any]]]] = {}
        counts = [0] * len(agents)
        waiting = list(pending)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            a, b = pending[ready[0]]
            try:
                done[a, b] = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # the worker's own error, as in-process
                cause = getattr(exc, "cause", None)
                if isinstance(cause, Exception):
                    raise cause from None
                raise
            counts[a] += len(blocks[b])
            if progress is not None:
                progress(spec_label(agents[a]), counts[a], "")
    out = []
    for a in range(len(agents)):
        names = {done[a, b][0] for b in range(len(blocks))}
        out.append((names.pop(), [r for b in range(len(blocks)) for r in done[a, b][1]]))
    return out
