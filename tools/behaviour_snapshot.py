"""A fingerprint of memgym's behaviour on every registered id, to show a refactor changed none.

For each ``memgym/`` id that needs no data file it records:

- the Gymnasium spec (entry point, kwargs, vector entry point) and the ``REGISTRY`` row;
- a digest of two held-out episodes played by seeded random masked actions: every
  observation array, reward, ``terminated`` / ``truncated`` and ``info`` (structured ids; text
  ids reply with a fixed tool call / memory rewrite each turn);
- on ids with a batched entry point, the same digest of the batched env (3 envs, 40 steps);
- the evaluation report of ``fifo``, ``salience`` and ``oracle`` (structured ids, 2 episodes),
  minus its ``version`` field.

Run it on two commits and compare the JSON files::

    python tools/behaviour_snapshot.py --out /tmp/before.json   # on the old commit
    python tools/behaviour_snapshot.py --out /tmp/after.json --compare /tmp/before.json

An id that raises is recorded with its error type and message, so "fails the same way" also
counts as unchanged. It is a maintainer's tool, not a test: a full run takes a few minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

SEEDS = (0, 1)
#: Text ids cycle through these replies (turn t: ``TEXT_REPLIES[t % 3]``; ``{tail}`` is the
#: prompt's last 60 characters), so add, delete, noop and a bad id are all exercised.
TEXT_REPLIES = ('{{"op": "add", "text": {tail}}}', '{{"op": "noop"}}',
                '{{"op": "delete", "id": 0}}')


def _digest(parts: list[Any]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(_bytes(part))
    return h.hexdigest()[:16]


def _bytes(value: Any) -> bytes:
    if isinstance(value, np.ndarray):
        return value.dtype.str.encode() + str(value.shape).encode() + value.tobytes()
    if isinstance(value, dict):
        return b"{" + b"".join(str(k).encode() + b":" + _bytes(value[k])
                               for k in sorted(value, key=str)) + b"}"
    if isinstance(value, (list, tuple)):
        return b"[" + b",".join(_bytes(v) for v in value) + b"]"
    if isinstance(value, (float, np.floating)):
        return repr(float(value)).encode()
    return repr(value).encode()


def _mask(obs: Any, info: dict[str, Any], env: Any) -> np.ndarray | None:
    if isinstance(info, dict) and "action_mask" in info:
        return np.asarray(info["action_mask"], dtype=bool)
    masks = getattr(env.unwrapped, "action_masks", None)
    return np.asarray(masks(), dtype=bool) if callable(masks) else None


def play_single(env_id: str) -> str:
    import gymnasium as gym

    env = gym.make(env_id, split="heldout")
    parts: list[Any] = []
    text = isinstance(env.action_space, gym.spaces.Text)
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        obs, info = env.reset(seed=seed)
        parts += [obs, info]
        for turn in range(2000):
            if text:
                action: Any = TEXT_REPLIES[turn % 3].format(tail=json.dumps(str(obs)[-60:]))
            else:
                mask = _mask(obs, info, env)
                if mask is None or not mask.any():
                    action = env.action_space.sample()
                else:
                    action = int(rng.choice(np.flatnonzero(mask)))
            obs, reward, terminated, truncated, info = env.step(action)
            parts += [action, obs, reward, terminated, truncated, info]
            if terminated or truncated:
                break
    env.close()
    return _digest(parts)


def play_vector(env_id: str) -> str:
    import gymnasium as gym

    venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point",
                        split="heldout")
    rng = np.random.default_rng(0)
    obs, info = venv.reset(seed=0)
    parts: list[Any] = [obs, info]
    for _ in range(40):
        masks = np.asarray(info["action_mask"], dtype=bool)
        actions = np.array([int(rng.choice(np.flatnonzero(m))) if m.any() else 0
                            for m in masks])
        obs, reward, terminated, truncated, info = venv.step(actions)
        parts += [actions, obs, reward, terminated, truncated, info]
    venv.close()
    return _digest(parts)


def _guard(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001  (a failure is part of the behaviour recorded)
        return f"error: {type(exc).__name__}: {str(exc)[:200]}"


def report_digest(env_id: str) -> str:
    from memgym.agents.evaluate import evaluate_agents

    report = evaluate_agents(["fifo", "salience", "oracle"], env_id, split="heldout",
                             episodes=len(SEEDS), seed=0)
    report.pop("version", None)
    return hashlib.sha256(json.dumps(report, sort_keys=True, default=str).encode()
                          ).hexdigest()[:16]


def _is_text(env_id: str) -> bool:
    import gymnasium as gym

    env = gym.make(env_id, split="heldout")
    env.close()
    return isinstance(env.action_space, gym.spaces.Text)


def snapshot(only: str | None = None) -> dict[str, Any]:
    import gymnasium as gym

    import memgym  # noqa: F401  (registers the ids)
    from memgym.envs.registration import REGISTRY

    out: dict[str, Any] = {}
    ids = sorted(i for i in gym.registry if i.startswith("memgym/"))
    for env_id in ids:
        if only and only not in env_id:
            continue
        spec = gym.registry[env_id]
        row = REGISTRY.get(env_id)
        entry: dict[str, Any] = {
            "spec": _digest([str(spec.entry_point), spec.kwargs, str(spec.vector_entry_point)]),
            "registry": _digest([repr(row)]) if row is not None else None,
        }
        made = _guard(_is_text, env_id)
        if isinstance(made, str):
            entry["make"] = made  # needs a data file, or fails: recorded as it is
        else:
            entry["single"] = _guard(play_single, env_id)
            if spec.vector_entry_point is not None:
                entry["vector"] = _guard(play_vector, env_id)
            if not made:  # structured: the baselines' report too
                entry["report"] = _guard(report_digest, env_id)
        out[env_id] = entry
        print(env_id, entry, file=sys.stderr, flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path, help="an earlier snapshot to compare with")
    parser.add_argument("--only", help="ids containing this string")
    args = parser.parse_args()
    snap = snapshot(args.only)
    args.out.write_text(json.dumps(snap, indent=1, sort_keys=True))
    print(f"{len(snap)} ids -> {args.out}")
    if args.compare:
        before = json.loads(args.compare.read_text())
        ids = sorted(set(snap) if args.only else set(before) | set(snap))
        diffs = [(i, k) for i in ids
                 for k in sorted(set(before.get(i, {})) | set(snap.get(i, {})))
                 if before.get(i, {}).get(k) != snap.get(i, {}).get(k)]
        for env_id, key in diffs:
            print(f"DIFFERS {env_id} {key}: {before.get(env_id, {}).get(key)} -> "
                  f"{snap.get(env_id, {}).get(key)}")
        print(f"{len(diffs)} differences over {len(snap)} ids")
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
