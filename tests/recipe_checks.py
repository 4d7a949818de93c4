"""Checks that several recipe test files run the same way (imported, not collected)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def check_random_and_out_of_range_actions(env_id: str, steps: int = 300, seed: int = 4) -> None:
    """Masked, unmasked and out-of-range actions: the store stays consistent, slots track its
    entries, and an invalid action changes nothing (envs with an ``entry_slot`` map)."""
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    for _ in range(steps):
        mask = info["action_mask"]
        if rng.random() < 0.7:
            action = int(rng.choice(np.flatnonzero(mask)))
        else:
            action = int(rng.integers(-2, env.action_space.n + 2))
        valid = 0 <= action < len(mask) and bool(mask[action])
        before = env.core.store.snapshot()["entries"].keys()
        obs, reward, terminated, _, info = env.step(action)
        env.core.store.check_invariants()
        assert np.isfinite(reward) and env.observation_space.contains(obs)
        assert sorted(env.entry_slot) == sorted(env.core.store.entries)
        if not valid:
            assert info["ok"] is False and env.core.store.entries.keys() == before
        if terminated:
            obs, info = env.reset()


def validated_recipe_config(name: str, overrides: list[str] | None = None) -> Any:
    """``configs/recipes/<name>.yaml`` loaded and validated by its own backend (every sb3
    recipe config resolves to ``memgym.training.sb3.validate``)."""
    from memgym.training import backend_module, load_config

    config = load_config(ROOT / "configs" / "recipes" / f"{name}.yaml", overrides or [])
    backend_module(config.backend).validate(config)
    return config


def load_benchmark_script(name: str) -> Any:
    """``benchmarks/recipes/<name>.py`` imported as a module (its folder's ``common`` found)."""
    import importlib.util

    folder = ROOT / "benchmarks" / "recipes"
    sys.path.insert(0, str(folder))  # the script imports its folder's `common`
    try:
        spec = importlib.util.spec_from_file_location(f"{name}_bench", folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def run_benchmark_script(name: str, args: list[str], results: Path, *, timeout: int = 900,
                         stem: str | None = None) -> dict[str, Any]:
    """Run ``benchmarks/recipes/<name>.py`` as a script from ``results`` and return the JSON it
    wrote there (``<stem or name>.json``); on failure the script's stderr tail is shown."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "recipes" / f"{name}.py"),
                           *args], cwd=results, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads((results / f"{stem or name}.json").read_text())


CHATTER = ["haha yes", "That's so cool!", "How are you doing?", "Talk soon!"]
HOBBIES = ["pottery", "chess", "tennis", "rowing", "knitting", "archery", "baking"]


def locomo_conversation(i: int, n_sessions: int = 4) -> dict:
    """A LoCoMo-format sample: per session one parsable fact turn and one free-text turn
    (each a question's evidence) among chatter."""
    a, b = ("Ann", "Bob") if i % 2 == 0 else ("Cleo", "Dev")
    conv: dict = {"speaker_a": a, "speaker_b": b}
    qa = []
    for s in range(1, n_sessions + 1):
        hobby = HOBBIES[(i + s) % len(HOBBIES)]
        conv[f"session_{s}_date_time"] = f"1:56 pm on {s * 3} May, 2023"
        turns = [{"speaker": a if t % 2 == 0 else b, "dia_id": f"D{s}:{t + 1}",
                  "text": CHATTER[(s + t) % len(CHATTER)]} for t in range(5)]
        turns[1]["text"] = f"{a} Lee's hobby is {hobby}."
        turns[3]["text"] = f"Last week I finally went to the lake number {s}, it was amazing."
        conv[f"session_{s}"] = turns
        qa += [{"question": f"What is {a} Lee's hobby?", "answer": hobby,
                "evidence": [f"D{s}:2"], "category": 4},
               {"question": f"Which lake did {a} go to in session {s}?", "answer": f"lake {s}",
                "evidence": [f"D{s}:4"], "category": 2}]
    return {"sample_id": f"conv-{i}", "conversation": conv, "qa": qa}
