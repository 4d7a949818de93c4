"""The recipe ids: every id whose env is a recipe's own class, registered in one table.

``import memgym`` imports this module after the built-in tasks. Registering loads nothing
but the tasks' parameter tables: entry points are ``"module:function"`` strings, so a recipe's
env class (:mod:`memgym.recipes.lts`, ...) loads on ``gym.make``. Each id is documented
(Gymnasium's sections) in its recipe module; its stream comes from a task of
:mod:`memgym.tasks`. A recipe of one's own registers the same way, with
:func:`memgym.envs.registration.register_env` or ``register_recipe`` (README, "Registering a
new task").
"""

from __future__ import annotations

from typing import Any

from memgym.envs.registration import register_env, register_recipe, task_path
from memgym.tasks.colour_cubes import LEVEL_TASKS as CUBE_LEVELS
from memgym.tasks.colour_cubes import ColourCubesTask
from memgym.tasks.hop_chains import HopChainsTask
from memgym.tasks.mem_alpha_stream import MemAlphaTask
from memgym.tasks.memory_r1_stream import MemoryR1Task
from memgym.tasks.revisit import REREAD_ENV, REVISIT_ENV, REVISIT_LEVELS, REVISIT_TASK
from memgym.tasks.tmaze import LEVEL_TASKS as TMAZE_LEVELS
from memgym.tasks.tmaze import TMazeTask

KV_TASK = "memgym.tasks.kv_updates:KVUpdatesTask"

# -- ReMemR1 (memgym.recipes.rememr1): the Revisit streams with reread by query -------------
register_recipe(
    "ReMemR1", "memgym.recipes.rememr1:make_env",
    levels={lvl: {"task": t, "env": {**REREAD_ENV, "alpha": 0.8}}
            for lvl, t in REVISIT_LEVELS.items()},
    description="ReMemR1: reread by query, alpha-mixed outcome / recall-gain / reread-bonus reward.",
    task=REVISIT_TASK,
)
register_recipe(
    "ReMemR1-NoReread", "memgym.recipes.rememr1:make_env",
    levels={lvl: {"task": t, "env": {**REVISIT_ENV, "alpha": 0.8}}
            for lvl, t in REVISIT_LEVELS.items()},
    description="ReMemR1 ablation: the same streams and reward without the reread op.",
    task=REVISIT_TASK,
)

# -- MemReread (memgym.recipes.memreread): one reading, reread passes decided per question --
#: Registered (and trained) at 40 chunks; the benchmark also plays 4x and 16x (``length``).
MEMREREAD_TASK: dict[str, Any] = {"length": 40, "n_chains": 3, "max_hops": 3,
                                  "abstain_questions": 1}
MEMREREAD_ENV: dict[str, Any] = {"tiers": {"episodic": {"entries": 9, "tokens": None}},
                                 "pass_cost": 0.2, "max_passes": 4}
for _name, _env, _description in (
        ("MemReread", {**MEMREREAD_ENV, "reading": "stream"},
         "MemReread: one streaming reading, then per question answer or reread the stream."),
        ("MemReread-Recall", {**MEMREREAD_ENV, "reading": "recall", "max_passes": 0},
         "MemReread's baseline: ReMemR1-style BM25 recall of past chunks at every chunk.")):
    register_recipe(_name, "memgym.recipes.memreread:make_env",
                    levels={"": {"task": MEMREREAD_TASK, "env": _env}},
                    description=_description, task=task_path(HopChainsTask))

# -- Learned readers (memgym.recipes.selector): per question, pick what the answerer reads -----
#: The writing side: an ADD-only manager (nothing overwritten, so memory holds stale values
#: next to fresh ones: what Memory-R1's answer agent filters) into a 16-entry memory.
SELECTOR_ENV: dict[str, Any] = {
    "tiers": {"episodic": {"entries": 16, "tokens": None}}, "ops": ("noop", "add", "update", "delete"),
    "manager": "add_only", "n_candidates": 8, "budget": 4, "select_cost": 0.02,
}
SELECTOR_STREAMS: dict[str, tuple[str, dict[str, Any]]] = {
    "Dialogue": ("memgym.tasks.dialogue:DialogueTask",
                 {"length": 40, "n_sessions": 4, "n_persona_facts": 4, "n_changes": 1,
                  "n_events": 2, "distractor_rate": 0.15}),
    "MultiHop": ("memgym.tasks.multihop:MultiHopTask",
                 {"length": 40, "n_chains": 3, "distractor_rate": 0.3, "filler_rate": 0.2}),
}
#: The seed papers' reward choices over the Dialogue stream (docs/recipes/learned_reader.md).
SELECTOR_RECIPES: dict[str, tuple[dict[str, Any], str]] = {
    "Selector": ({}, "Learned reader: pick up to 4 of 8 retrieved entries per question; QA "
                     "reward minus a cost per entry."),
    "MemoryR1-AnswerAgent": ({"rewards": {"qa": 1.0}, "select_cost": 0.0},
                             "Memory-R1's answer agent: select among retrieved memories, "
                             "outcome (EM) reward only."),
    "MemSifter": ({"rewards": {"qa": 1.0, "rank_credit": 0.5}},
                  "MemSifter: outcome reward plus rank-discounted marginal credit of the "
                  "selection's prefixes."),
    "RMM": ({"rewards": {"qa": 1.0, "citation": 0.5}},
            "RMM: outcome reward plus +1 / -1 per selected entry the answer cites / does not."),
}
for _stream, (_task, _params) in SELECTOR_STREAMS.items():
    for _name, (_extra, _description) in SELECTOR_RECIPES.items():
        if _name != "Selector" and _stream != "Dialogue":
            continue  # the seed papers' recipes play conversations
        _id = f"memgym/{_name}-{_stream}-v0" if _name == "Selector" else f"memgym/{_name}-v0"
        register_env(_id, "memgym.recipes.selector:make_env", task=_task,
                     kwargs={"task": _task, "task_params": _params, **SELECTOR_ENV, **_extra},
                     description=_description)
        # The text twin (memgym.recipes.selector_text): a numbered list in, the chosen
        # numbers out (an LLM selector: memgym.llm.selector_turns). Listed as a recipe, not
        # "text": "text" ids are tool-call envs (memgym serve, the TRL tool env play them),
        # and this one takes a plain reply.
        register_env(_id.replace("-v0", "-Text-v0"), "memgym.recipes.selector_text:make_env",
                     task=_task,
                     kwargs={"task": _task, "task_params": _params, **SELECTOR_ENV, **_extra},
                     description=f"{_description} Text: the question and its 8 retrieved "
                                 "entries as a numbered list; reply with the numbers read.")
    # Both roles for one text policy (memgym.recipes.joint_text; trl.write_mode: joint).
    register_env(f"memgym/ManageSelect-{_stream}-Text-v0", "memgym.recipes.joint_text:make_env",
                 task=_task, kwargs={"task": _task, "task_params": _params,
                                     **{k: v for k, v in SELECTOR_ENV.items() if k != "manager"}},
                 description="Learned reader and manager, one text policy: tool calls on chunk "
                             "views, note numbers on question views.")

# -- BudgetMem (memgym.recipes.budgetmem): a per-question tier router ----------------------
BUDGETMEM_TASK: dict[str, Any] = {"length": 24, "n_keys": 3, "fact_rate": 0.4,
                                  "mention_rate": 0.2}
BUDGETMEM_ENV: dict[str, Any] = {
    "tiers": {"episodic": {"entries": 4, "tokens": None}},
    "ops": ("noop", "add", "update"),
}
register_recipe(
    "BudgetMem", "memgym.recipes.budgetmem:make_env",
    levels={"": {"task": BUDGETMEM_TASK, "env": {**BUDGETMEM_ENV, "lam": 1.0, "align": True}}},
    description="BudgetMem: learned per-question tier router, task + lambda * aligned cost reward.",
    task=REVISIT_TASK,
)
register_recipe(
    "BudgetMem-NoAlign", "memgym.recipes.budgetmem:make_env",
    levels={"": {"task": BUDGETMEM_TASK, "env": {**BUDGETMEM_ENV, "lam": 1.0, "align": False}}},
    description="BudgetMem ablation: the cost reward without the std(task)/std(cost) alignment.",
    task=REVISIT_TASK,
)

# -- Memex (memgym.recipes.memex): an indexed archive under a context budget ---------------
# Small on purpose: a small PPO policy must discover add -> evict -> (cue) reread -> add
# within a few minutes of CPU (a 20-chunk, 6-slot level reached 0.15 QA in 45k steps).
MEMEX_TASK: dict[str, Any] = {"length": 12, "n_keys": 2, "fact_rate": 0.17, "detail": 8,
                              "min_gap": 3}
MEMEX_ENV: dict[str, Any] = {
    "tiers": {"episodic": {"entries": 3, "tokens": None}},
    "ops_per_chunk": 2,
    "archive_view": 4,
    "budget_tokens": 32,
    "budget_penalty": 0.25,
    "redundancy_penalty": 0.05,
}
register_recipe(
    "Memex", "memgym.recipes.memex:make_env",
    levels={"": {"task": MEMEX_TASK, "env": {
        **MEMEX_ENV, "ops": ("noop", "add", "update", "delete", "evict", "reread")}}},
    description="Memex: indexed archive (evict with summary, reread by index), context budget.",
    task=REVISIT_TASK,
)
register_recipe(
    "Memex-NoArchive", "memgym.recipes.memex:make_env",
    levels={"": {"task": MEMEX_TASK, "env": {**MEMEX_ENV, "ops": ("noop", "add", "update", "delete")}}},
    description="Memex ablation: the same stream and context budget without the archive.",
    task=REVISIT_TASK,
)

# -- LTS (memgym.recipes.lts): admit / skip per chunk, reuse credit ------------------------
LTS_ENV_ID = "memgym/LTS-Admission-v0"
ADMISSION_COST = 0.01
register_env(
    LTS_ENV_ID, "memgym.recipes.lts:AdmissionEnv", task=KV_TASK, interface="structured",
    kwargs={
        "task": KV_TASK,
        "task_params": {"length": 40, "n_keys": 6, "distractor_rate": 0.4, "update_rate": 0.0,
                        "mid_stream_questions": 3},
        "tiers": {"memory": {"entries": 6, "tokens": None}},
        "ops": ("noop", "add", "update"),
        "rewards": {"qa": 0.0, "op_costs": {"add": ADMISSION_COST, "update": ADMISSION_COST}},
        "reuse_bonus": 1.0,
    },
    description="LTS: admit / skip per chunk at a fixed budget (FIFO eviction), reuse-credit reward.")

# -- TRIM-KV (memgym.recipes.trim_kv): which entry to evict, budget per episode ------------
TRIM_KV_ENV_ID = "memgym/TrimKV-Eviction-v0"
TRIM_KV_BUDGETS = (2, 4, 8, 16, 32)
register_env(
    TRIM_KV_ENV_ID, "memgym.recipes.trim_kv:EvictionEnv", task=KV_TASK, interface="structured",
    kwargs={
        "task": KV_TASK,
        "task_params": {"length": 48, "n_keys": 8, "n_entities": 4, "distractor_rate": 0.0,
                        "filler_rate": 0.5, "update_rate": 0.0, "mid_stream_questions": 4},
        "tiers": {"memory": {"entries": max(TRIM_KV_BUDGETS), "tokens": None}},
        "ops": ("noop", "add", "update"),
        "budgets": TRIM_KV_BUDGETS,
    },
    description="TRIM-KV: choose which entry to evict when memory is full; budget per episode.")

# -- Mem-alpha (memgym.recipes.mem_alpha): update-only core, compression reward ------------
#: Core: one always-shown entry (update-only); room for every event and fact otherwise, so
#: beta, not capacity, decides what is kept.
MEM_ALPHA_ENV: dict[str, Any] = {
    "task": task_path(MemAlphaTask),
    "task_params": {},
    "tiers": {"core": {"entries": 1, "tokens": 32, "always_shown": True},
              "episodic": {"entries": 6, "tokens": None},
              "semantic": {"entries": 6, "tokens": None}},
    "ops": ("noop", "add", "update", "delete"),
    "metric": "em",
    "beta": 0.05,
}
# -- Memory-R1 (memgym.recipes.memory_r1): ADD / UPDATE (overwrite or merge) / DELETE ------
#: One tier with room for exactly one entry per pair: an ADD per fact runs out of room.
MEMORY_R1_ENV: dict[str, Any] = {
    "task": task_path(MemoryR1Task),
    "task_params": {},
    "tiers": {"episodic": {"entries": 6, "tokens": None}},
    "ops": ("noop", "add", "update", "delete"),
    "metric": "em",
}
#: Both interfaces of each: (id name, entry point, env kwargs, description).
TWO_INTERFACE_RECIPES: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("MemAlpha", "memgym.recipes.mem_alpha:make_env", MEM_ALPHA_ENV,
     "Mem-alpha: core (update-only) / episodic / semantic memory; QA + tool success + beta x "
     "compression + content validity."),
    ("MemoryR1", "memgym.recipes.memory_r1:make_env", MEMORY_R1_ENV,
     "Memory-R1 fact stream: ADD / UPDATE (overwrite or merge) / DELETE / NOOP, EM reward."),
)
for _name, _entry, _env, _description in TWO_INTERFACE_RECIPES:
    for _interface, _tag in (("structured", ""), ("text", "-Text")):
        register_env(f"memgym/{_name}{_tag}-v0", _entry,
                     kwargs={**_env, "interface": _interface}, task=_env["task"],
                     interface=_interface, description=_description)

# -- memory rewriting (memgym.recipes.memory_rewriting): the memoryless variants -----------
#: (family, task, its levels, what the agent does without memory ops).
MEMORYLESS: tuple[tuple[str, type, dict[str, dict[str, Any]], str], ...] = (
    ("ColourCubes", ColourCubesTask, CUBE_LEVELS, "the agent answers each question"),
    ("TMaze", TMazeTask, TMAZE_LEVELS, "the agent answers each junction"),
)
for _family, _task_class, _levels, _what in MEMORYLESS:
    for _level, _task in _levels.items():
        _kwargs = {"task": task_path(_task_class), "task_params": dict(_task)}
        register_env(
            f"memgym/{_family}-{_level}-Memoryless-v0", "memgym.recipes.memory_rewriting:make_env",
            kwargs=_kwargs, task=_kwargs["task"], level=_level, interface="memoryless",
            description=f"{_family} without memory ops: {_what} (only recurrence helps).")
