"""Memory-R1's managers on LoCoMo (a locomo10.json-format file), beside the small policies.

Memory-R1 (Yan et al., 2025) evaluates its ADD / UPDATE / DELETE / NOOP manager on LoCoMo.
memgym's Memory-R1 recipe trains on generated fact streams (``memgym/MemoryR1-v0``); this
script asks what its managers do on real conversations, on the held-out split of the data
file (whole conversations; model selection only ever on ``val``):

A. **Memory-R1's layout on LoCoMo**: the recipe's own env class
   (:class:`memgym.recipes.memory_r1.MemoryR1Env`: 6 entries, noop / add / update / delete /
   merge, parser features) over the LoCoMo task. Its observation and action spaces are those
   of ``memgym/MemoryR1-v0`` (checked, not assumed), so a policy trained there plays here
   unchanged. Managers: the vanilla overwrite heuristic, ``salience``, ``add_only``
   (mem0-style ADD-only), the MaskablePPO manager trained on 26 generated streams (156 QA
   pairs, Memory-R1's data-efficient budget, as ``memory_r1_data.py``), the same layout and
   network trained on single sessions of LoCoMo's train conversations (in domain, evidence
   reward, ``best/`` on single sessions of val), and fifo / keep / longest / oracle for scale.
   Played on whole conversations (A) and on each session of them as its own episode (A2:
   ~20 turns into 6 entries, Memory-R1's own scale).
B. **The real-text layout** (``benchmarks/real_text.py``: 128 entries, MiniLM embedding
   features): the Memory-R1 heuristics beside ``configs/locomo_small.yaml`` (slot-pointer
   MaskablePPO trained on the file's train conversations, ``best/`` on val), fifo, keep,
   longest, novelty and oracle. The generated-stream PPO manager cannot play here: its
   network reads 6 slots of parser features (see the results' ``transfer`` note).

Per manager: QA of the env's reader (BM25 + extraction, LoCoMo's F1) with a 95% interval over
the held-out questions, evidence retention and recall@10, both per LoCoMo category; ops; how
many turns the fact parser reads. Writes ``benchmarks/results/recipes/memory_r1_locomo.{json,md}``.

    nice -n 10 python benchmarks/recipes/memory_r1_locomo.py \\
        --data ../shared/data/locomo-dev/locomo-dev.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import common  # this folder's shared helpers (the script's folder is on sys.path)
from memory_r1_data import POOL, QUESTIONS_PER_STREAM  # Memory-R1's 152-QA-pair budget

R1_CONFIG = common.ROOT / "configs" / "recipes" / "memory_r1_ppo.yaml"
LOCOMO_CONFIG = common.ROOT / "configs" / "locomo_small.yaml"
LOCOMO_TASK = "memgym.tasks.locomo:LoCoMoTask"
#: locomo_small's reward: evidence kept and found (the extractive reader's QA is no signal).
EVIDENCE_REWARDS = "{qa: 0.0, evidence: 1.0, evidence_recall: 0.5, shaping: 1.0, evidence_k: 10}"
BASELINE_OPS = ("noop", "add", "update", "delete")
CLAIM = ("Memory-R1 (LoCoMo, LLaMA-3.1-8B / Qwen-2.5-7B managers trained on 152 QA pairs): "
         "the RL-trained manager beats the heuristic (Mem0-style / vanilla) managers on LoCoMo.")
#: Memory-R1's heuristic managers by row label (baseline names; "heuristic" is the recipe's
#: :class:`memgym.recipes.memory_r1.OverwriteHeuristic`).
HEURISTIC_ROWS = {"heuristic (overwrite, vanilla)": "heuristic", "salience": "salience",
                  "add_only (mem0-style)": "add_only"}
SCALE_A = ("fifo", "keep", "longest", "oracle")
SCALE_B = ("fifo", "keep", "longest", "novelty", "oracle")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a locomo10.json-format file")
    parser.add_argument("--r1-steps", type=int, default=300_000,
                        help="MaskablePPO steps on the 26 generated streams")
    parser.add_argument("--r1-minutes", type=float, default=4.0)
    parser.add_argument("--r1-locomo-steps", type=int, default=400_000,
                        help="steps of Memory-R1's layout trained on LoCoMo (0: skip)")
    parser.add_argument("--r1-locomo-minutes", type=float, default=3.0)
    parser.add_argument("--val-sessions", type=int, default=20,
                        help="single-session val windows scoring the in-domain run")
    parser.add_argument("--locomo-steps", type=int, default=2_000_000,
                        help="steps of configs/locomo_small.yaml (0: skip)")
    parser.add_argument("--locomo-minutes", type=float, default=7.0)
    parser.add_argument("--eval-freq", type=int, default=40_000,
                        help="val evaluation period of the LoCoMo-trained runs")
    parser.add_argument("--entries", type=int, default=128, help="entries of table B")
    parser.add_argument("--home-episodes", type=int, default=200,
                        help="held-out MemoryR1-v0 streams scoring the PPO manager at home")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_recipes"))
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    parser.add_argument("--reuse", action="store_true",
                        help="load the runs already under --out instead of training (training "
                             "figures from the previous results JSON)")
    return parser.parse_args(argv)


# -- environments --------------------------------------------------------------------------------
def r1_layout_kwargs(data: str, *, features: str = "parser", entries: int | None = None
                     ) -> dict[str, Any]:
    """``memgym/MemoryR1-v0``'s kwargs with the LoCoMo task in place of the generated stream
    (LoCoMo's F1 metric; evidence recall at 10 as real_text.py reports it)."""
    from memgym.recipes.ids import MEMORY_R1_ENV

    kwargs = {k: v for k, v in MEMORY_R1_ENV.items() if k not in ("task", "task_params")}
    kwargs.update(task=LOCOMO_TASK, data_path=data, features=features, metric="f1",
                  rewards={"evidence_k": 10})
    if entries is not None:
        kwargs["tiers"] = {"episodic": {"entries": entries, "tokens": None}}
    return kwargs


def r1_env(kwargs: dict[str, Any]) -> Any:
    from memgym.recipes.memory_r1 import MemoryR1Env

    return MemoryR1Env(**kwargs)


def locomo_env(data: str, entries: int, ops: list[str]) -> Any:
    """``memgym/LoCoMo-v0`` as real_text.py plays it (embedding features)."""
    import gymnasium as gym

    return gym.make("memgym/LoCoMo-v0", data_path=data, ops=ops, features="embedding",
                    tiers={"episodic": {"entries": entries, "tokens": None}},
                    rewards={"evidence_k": 10})


def spaces_match(a: Any, b: Any) -> dict[str, Any]:
    """Whether a policy trained on env ``a`` can act on env ``b`` unchanged."""
    a, b = a.unwrapped, b.unwrapped
    return {"observation_space": bool(a.observation_space == b.observation_space),
            "action_space": bool(a.action_space == b.action_space),
            "action_names": bool(list(a.action_names) == list(b.action_names)),
            "features": [a.features, b.features], "slots": [a.n_slots, b.n_slots],
            "observation_shapes": [{k: list(s.shape) for k, s in e.observation_space.items()}
                                   for e in (a, b)]}


# -- playing and summarising ---------------------------------------------------------------------
def play(agent: Any, env: Any, split: str = "heldout", episodes: list[Any] | None = None
         ) -> list[dict[str, Any]]:
    """Every episode of ``split`` (whole conversations), or the given ``episodes`` (played as
    they are): run_episode's result plus the merges and the entries held at the end."""
    from memgym.agents.evaluate import make_agent, run_episode

    agent = make_agent(agent)
    base = env.unwrapped
    runs = ([(seed, None) for seed in range(len(base.task.splits[split]))] if episodes is None
            else [(i, {"episode": ep}) for i, ep in enumerate(episodes)])
    if episodes is not None:
        env = _AsIs(env)
    out = []
    for seed, options in runs:
        result = run_episode(env, agent, split=split, episode_seed=seed, options=options)
        result["merges"] = int(getattr(base, "merges", 0))
        result["entries_at_end"] = len(base.core.store.entries)
        result.pop("memory_trace", None)
        out.append(result)
    return out


def _AsIs(env: Any) -> Any:
    """``env`` resetting to ``options["episode"]`` as it is (run_episode also passes
    ``split`` / ``episode_seed``, which an episode given as is must not be combined with)."""
    import gymnasium as gym

    class AsIs(gym.Wrapper):
        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
                  ) -> Any:
            options = {k: v for k, v in (options or {}).items()
                       if k not in ("split", "episode_seed")}
            return self.env.reset(seed=seed, options=options)

    return AsIs(env)


class _Draws:
    """Stands in for the generator :func:`memgym.tasks.windows.cut_window` draws a window's
    size and start from, so that it cuts a chosen one (the training windows' own rule)."""

    def __init__(self, *values: int) -> None:
        self.values = list(values)

    def integers(self, low: int, high: int) -> int:
        value = self.values.pop(0)
        assert low <= value < high, (low, value, high)
        return value


def session_episodes(task: Any, split: str = "heldout") -> list[Any]:
    """Each session of each ``split`` conversation as its own episode, with the questions
    whose evidence lies inside it: streams of Memory-R1's scale (~20 turns, 6 entries)."""
    from memgym.tasks.windows import cut_window

    out = []
    for seed in range(len(task.splits[split])):
        whole = task.episode(seed, split)
        sessions = sorted({c.session for c in whole.chunks if c.session is not None})
        for start in range(len(sessions)):
            episode = cut_window(whole, (1, 1), _Draws(1, start))
            if episode.questions:
                out.append(episode)
    return out


def mean_ci(values: list[float]) -> tuple[float | None, float | None]:
    import numpy as np

    if not values:
        return None, None
    return float(np.mean(values)), (common.ci95(values) if len(values) > 1 else 0.0)


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """QA (± 95% over questions), evidence retention (± 95%) and recall@10, the same per
    LoCoMo category, ops, merges and memory at the end."""
    records = [r for e in results for r in e["records"]]
    qa, qa_ci = mean_ci([r["score"] for r in records])
    kept, kept_ci = mean_ci([r["evidence_kept"] for r in records if r["evidence_kept"] is not None])
    recall, _ = mean_ci([r["evidence_recall"] for r in records if r["evidence_recall"] is not None])
    per_kind: dict[str, Any] = {}
    for kind in sorted({r["kind"] for r in records}):
        rs = [r for r in records if r["kind"] == kind]
        per_kind[kind] = {
            "questions": len(rs), "qa": mean_ci([r["score"] for r in rs])[0],
            "evidence_retention": mean_ci([r["evidence_kept"] for r in rs
                                           if r["evidence_kept"] is not None])[0]}
    n = len(results)
    ops: dict[str, float] = {}
    for e in results:
        for op, count in e["ops"].items():
            ops[op] = ops.get(op, 0.0) + count / n
    merges = sum(e["merges"] for e in results) / n
    if "update" in ops:
        ops["update"] -= merges  # overwrites only; merges apart
    recall_stored = [e["diagnostics"]["extraction_recall"] for e in results
                     if e["diagnostics"]["extraction_recall"] is not None]
    return {"qa": qa, "qa_ci95": qa_ci, "evidence_retention": kept,
            "evidence_retention_ci95": kept_ci, "evidence_recall_at_10": recall,
            "evidence_ever_stored": mean_ci(recall_stored)[0], "per_kind": per_kind,
            "ops_per_episode": dict(sorted(ops.items())), "merges_per_episode": merges,
            "entries_at_end": sum(e["entries_at_end"] for e in results) / n,
            "memory_tokens": sum(e["memory_tokens"] for e in results) / n,
            "questions": len(records), "episodes": n}


def parser_reach(data: str, split: str = "heldout", home_episodes: int = 50) -> dict[str, Any]:
    """What the fact parser (Memory-R1's features and heuristics) reads: on ``split`` of the
    data file and, for contrast, on held-out ``memgym/MemoryR1-v0`` streams."""
    from memgym.facts import extract_fact
    from memgym.recipes.memory_r1 import _SlotAgent
    from memgym.tasks.locomo import LoCoMoTask
    from memgym.tasks.memory_r1_stream import MemoryR1Task

    def count(episodes: list[Any]) -> dict[str, Any]:
        turns = [c for ep in episodes for c in ep.chunks]
        evidence = [ep.chunks[i] for ep in episodes
                    for i in sorted({c for q in ep.questions for c in q.evidence})]
        # the text in view, as the agent and the parser see it: "[time] speaker: text"
        facts = sum(extract_fact(c.render()) is not None for c in turns)
        keyed = sum(_SlotAgent.view_key(c.render())[0] is not None for c in turns)
        ev_facts = sum(extract_fact(c.render()) is not None for c in evidence)
        return {"episodes": len(episodes), "turns": len(turns), "turns_with_a_parsed_fact": facts,
                "turns_the_heuristic_acts_on": keyed, "evidence_turns": len(evidence),
                "evidence_turns_with_a_parsed_fact": ev_facts,
                "share_of_turns_parsed": facts / len(turns) if turns else None,
                "share_of_evidence_parsed": ev_facts / len(evidence) if evidence else None}

    task = LoCoMoTask(data)
    home = MemoryR1Task()
    return {"locomo": count([task.episode(i, split) for i in range(len(task.splits[split]))]),
            "memory_r1_stream": count([home.episode(10_000 + i, "heldout")
                                       for i in range(home_episodes)])}


# -- training ------------------------------------------------------------------------------------
def train_or_reuse(config_path: Path, overrides: list[str], reuse: dict[str, Any] | None,
                   metric: str) -> tuple[Any, Any, dict[str, Any]]:
    """Train (or, with ``reuse``, load) a run; the agent (``best/``, chosen on val), its
    config and what training did (steps, seconds, the val curve of ``metric``)."""
    from memgym.loading import load_policy_agent
    from memgym.training import load_config
    from memgym.training.run import RunFolder

    config = load_config(config_path, overrides)
    run = RunFolder.for_config(config)
    if reuse is not None and run.config.is_file():
        info = dict(reuse.get(config.name, {}), reused=True)
    else:
        config, run, seconds = common.train_timed(config_path, overrides)
        curve = run.read_curve()
        info = {"run": config.name, "overrides": [o for o in overrides if "output_dir" not in o
                                                  and "data_path" not in o],
                "trained_steps": (run.latest_checkpoint() or (None, None))[1],
                "seconds": round(seconds, 1),
                "val_curve": [{"steps": p["steps"], metric: p.get(metric, p["qa_score"])}
                              for p in curve]}
    return load_policy_agent(str(run.path)), config, info


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gymnasium as gym
    import torch

    import memgym  # noqa: F401  (registers the environments)
    from memgym.recipes.memory_r1 import MemoryR1Oracle, OverwriteHeuristic
    from memory_r1 import policy_stats

    torch.set_num_threads(1)
    data = str(Path(args.data).resolve())
    out = str(Path(args.out).resolve())
    reuse = None
    if args.reuse:
        previous = args.results / "memory_r1_locomo.json"
        reuse = json.loads(previous.read_text())["training"] if previous.is_file() else {}
    common_overrides = [f"output_dir={out}", "progress=false", f"seed={args.seed}",
                        "eval.baselines=[]"]

    # (b) the MaskablePPO manager on 26 generated streams (156 QA pairs), best/ on val streams
    r1_agent, _, r1_info = train_or_reuse(R1_CONFIG, [
        *common_overrides, "name=memory_r1-locomo-pool", f"max_minutes={args.r1_minutes}",
        f"total_timesteps={args.r1_steps}", f"env.kwargs.episode_pool={POOL}"], reuse, "qa_score")
    training = {"memory_r1-locomo-pool": r1_info}
    home = {"PPO, 26 streams": policy_stats(r1_agent, args.home_episodes, 10_000),
            "heuristic (overwrite)": policy_stats(OverwriteHeuristic(), args.home_episodes, 10_000),
            "oracle (labels)": policy_stats(MemoryR1Oracle(), args.home_episodes, 10_000)}

    # A: Memory-R1's layout over LoCoMo (the PPO manager's own spaces)
    layout_a = r1_layout_kwargs(data)
    env_a = r1_env(layout_a)
    transfer = spaces_match(gym.make("memgym/MemoryR1-v0"), env_a)
    if not (transfer["observation_space"] and transfer["action_space"]
            and transfer["action_names"]):
        raise SystemExit(f"Memory-R1's layout over LoCoMo does not match MemoryR1-v0: {transfer}")
    agents_a: dict[str, Any] = {name: OverwriteHeuristic() if spec == "heuristic" else spec
                                for name, spec in HEURISTIC_ROWS.items()}
    agents_a[f"PPO on {POOL} generated streams ({POOL * QUESTIONS_PER_STREAM} QA pairs)"] = r1_agent
    if args.r1_locomo_steps:
        # the same layout and network trained on LoCoMo's train conversations (in domain)
        kw = [f"env.kwargs.{k}={v}" for k, v in (
            ("task", LOCOMO_TASK), ("data_path", data), ("features", "parser"),
            ("metric", "f1"), ("rewards", EVIDENCE_REWARDS))]
        agent, _, training["memory_r1-locomo-indomain"] = train_or_reuse(R1_CONFIG, [
            *common_overrides, "name=memory_r1-locomo-indomain", *kw,
            f"max_minutes={args.r1_locomo_minutes}", f"total_timesteps={args.r1_locomo_steps}",
            "env.options={window_sessions: [1, 1]}", "eval.options={window_sessions: [1, 1]}",
            "eval.select_split=val", "eval.select_metric=evidence_retention",
            f"eval.episodes={args.val_sessions}",
            f"eval.freq={args.eval_freq}", "algo.hyperparams.gamma=0.995"],
            reuse, "evidence_retention")
        agents_a["PPO, same layout, trained on LoCoMo train sessions (evidence reward)"] = agent
    for name in SCALE_A:
        agents_a[name] = name
    table_a = {name: summarise(play(agent, env_a)) for name, agent in agents_a.items()}
    sessions = session_episodes(env_a.task)
    table_a2 = {name: summarise(play(agent, env_a, episodes=sessions))
                for name, agent in agents_a.items()}

    # B: the real-text layout (128 entries, embedding features)
    layout_b = r1_layout_kwargs(data, features="embedding", entries=args.entries)
    env_b = r1_env(layout_b)
    table_b: dict[str, Any] = {}
    for name in HEURISTIC_ROWS:
        table_b[name] = summarise(play(agents_a[name], env_b))
    if args.locomo_steps:
        agent, config, training["locomo-small"] = train_or_reuse(LOCOMO_CONFIG, [
            *common_overrides, f"env.kwargs.data_path={data}",
            f"env.kwargs.tiers={{episodic: {{entries: {args.entries}, tokens: null}}}}",
            f"max_minutes={args.locomo_minutes}", f"total_timesteps={args.locomo_steps}",
            f"eval.freq={args.eval_freq}"], reuse, "evidence_retention")
        table_b["locomo-small (slot pointer, trained on LoCoMo train)"] = summarise(
            play(agent, locomo_env(data, args.entries, list(config.env.kwargs["ops"]))))
    for name in SCALE_B:
        table_b[name] = summarise(play(name, env_b))

    result = {"benchmark": "recipes/memory_r1_locomo", "claim": CLAIM, "data": Path(data).name,
              "split": "heldout", "selection_split": "val",
              "pool_streams": POOL, "pool_qa_pairs": POOL * QUESTIONS_PER_STREAM,
              "transfer": transfer,
              "transfer_real_text_layout": spaces_match(gym.make("memgym/MemoryR1-v0"), env_b),
              "parser_reach": parser_reach(data),
              "home": {"env_id": "memgym/MemoryR1-v0", "episodes": args.home_episodes,
                       "managers": home},
              "layouts": {"A": {k: v for k, v in layout_a.items() if k != "data_path"},
                          "B": {k: v for k, v in layout_b.items() if k != "data_path"}},
              "tables": {"A": table_a, "A2": table_a2, "B": table_b}, "training": training}
    common.write_results(args.results, "memory_r1_locomo", result, markdown(result))
    print(markdown(result))
    return result


# -- report --------------------------------------------------------------------------------------
def _f(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table_lines(rows: dict[str, Any]) -> list[str]:
    kinds = sorted({k for r in rows.values() for k in r["per_kind"]})
    lines = ["| manager | QA (F1) ± 95% | evidence retention ± 95% | recall@10 | "
             + " | ".join(f"{k} QA / ret." for k in kinds)
             + " | adds / ep | overwrites / ep | merges / ep | deletes / ep | entries at end |",
             "|---|---|---|---|" + "---|" * len(kinds) + "---|---|---|---|---|"]
    for name, r in rows.items():
        ops = r["ops_per_episode"]
        lines.append(
            f"| {name} | {_f(r['qa'])} ± {_f(r['qa_ci95'])} | {_f(r['evidence_retention'])} ± "
            f"{_f(r['evidence_retention_ci95'])} | {_f(r['evidence_recall_at_10'])} | "
            + " | ".join(f"{_f(r['per_kind'].get(k, {}).get('qa'), 2)} / "
                         f"{_f(r['per_kind'].get(k, {}).get('evidence_retention'), 2)}"
                         for k in kinds)
            + f" | {ops.get('add', 0):.1f} | {ops.get('update', 0):.1f} | "
              f"{r['merges_per_episode']:.1f} | {ops.get('delete', 0):.1f} | "
              f"{r['entries_at_end']:.1f} |")
    return lines


def _shapes(result: dict[str, Any], i: int) -> str:
    t = result.get("transfer_real_text_layout")
    if t is None:
        return "?"
    return f"{t['features'][i]} features, " + ", ".join(
        f"{k} {'x'.join(map(str, v))}" for k, v in t["observation_shapes"][i].items())


def markdown(result: dict[str, Any]) -> str:
    reach, tables = result["parser_reach"], result["tables"]
    loc, gen = reach["locomo"], reach["memory_r1_stream"]
    first = next(iter(tables["A"].values()))
    kinds = ", ".join(f"{k} {v['questions']}" for k, v in first["per_kind"].items())
    lines = [f"# Memory-R1's managers on LoCoMo ({result['data']}, held-out split)", "",
             f"Paper: {result['claim']}", "",
             f"Held-out: {loc['episodes']} conversation(s), {loc['turns']} turns, "
             f"{first['questions']} questions ({kinds}); whole conversations; selection on val "
             "only. Intervals are over questions.", "",
             "## What the fact parser reads", "",
             "| stream | turns | parsed facts | turns the overwrite heuristic acts on | "
             "evidence turns | evidence turns parsed |", "|---|---|---|---|---|---|"]
    for label, r in (("LoCoMo held-out", loc), ("MemoryR1-v0 held-out", gen)):
        lines.append(f"| {label} ({r['episodes']} ep.) | {r['turns']} | "
                     f"{r['turns_with_a_parsed_fact']} ({_f(r['share_of_turns_parsed'])}) | "
                     f"{r['turns_the_heuristic_acts_on']} | {r['evidence_turns']} | "
                     f"{r['evidence_turns_with_a_parsed_fact']} "
                     f"({_f(r['share_of_evidence_parsed'])}) |")
    t = result["transfer"]
    lines += ["", "## A. Memory-R1's layout over LoCoMo (MemoryR1Env, 6 entries, parser features)",
              "", f"Spaces equal to memgym/MemoryR1-v0: observation {t['observation_space']}, "
              f"action {t['action_space']}, action names {t['action_names']}.", "",
              *table_lines(tables["A"]), "",
              "## A2. The same, one session at a time (Memory-R1's scale)", "",
              f"Each session of the held-out conversation as its own episode "
              f"({next(iter(tables['A2'].values()))['episodes']} sessions with questions, "
              "~20 turns each), with the questions whose evidence lies in it; 6 entries.", "",
              *table_lines(tables["A2"]), "",
              f"## B. Real-text layout ({next(iter(tables['B'].values()))['episodes']} ep., "
              f"{result['layouts']['B']['tiers']['episodic']['entries']} entries, embedding "
              "features)", "",
              "The generated-stream PPO manager cannot act here: its MLP reads a fixed "
              f"observation ({_shapes(result, 0)}); this layout gives {_shapes(result, 1)}.",
              "", *table_lines(tables["B"]), "",
              f"## The PPO manager at home (memgym/MemoryR1-v0, {result['home']['episodes']} "
              "held-out streams)", "",
              "| manager | EM ± 95% | merge | update | lookup | abstain |", "|---|---|---|---|---|---|"]
    for name, r in result["home"]["managers"].items():
        k = r["per_kind"]
        lines.append(f"| {name} | {_f(r['qa'])} ± {_f(r['qa_ci95'])} | {_f(k.get('merge'), 2)} | "
                     f"{_f(k.get('update'), 2)} | {_f(k.get('lookup'), 2)} | "
                     f"{_f(k.get('abstain'), 2)} |")
    lines += ["", "## Training", "", "| run | steps | seconds | val curve (metric, steps: value) |",
              "|---|---|---|---|"]
    for name, info in result["training"].items():
        points = info.get("val_curve", [])
        metric = next((k for k in points[0] if k != "steps"), "") if points else ""
        curve = ", ".join(f"{p['steps'] // 1000}k: {_f(p[metric], 2)}" for p in points)
        lines.append(f"| {name} | {info.get('trained_steps')} | {info.get('seconds')} | "
                     f"{metric} {curve} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
