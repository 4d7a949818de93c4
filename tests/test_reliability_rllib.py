"""Crash-safe RLlib training: kill -9 ``memgym train`` mid-way, then ``--resume`` it.

The RLlib twin of ``test_reliability.py::test_kill_9_mid_training_then_resume``. The trial
itself (config, subprocess, checks) is ``benchmarks/crash_resume.py``'s, which repeats it for
both backends; here one RLlib trial runs with every file under ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytest.importorskip("ray.rllib")


def load_benchmark():
    """Import ``benchmarks/crash_resume.py`` (benchmarks are scripts, not a package)."""
    name = "memgym_benchmark_crash_resume"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "crash_resume.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.mark.slow  # ~1.5-3 min: two Ray start-ups, and Ray's agents take ~1 min to exit
def test_rllib_kill_9_mid_training_then_resume(tmp_path: Path) -> None:
    bench = load_benchmark()
    r = bench.crash_trial("rllib", tmp_path / "trial", seed=3, kill_after=2)
    interval, batch = bench.INTERVAL["rllib"], bench.BATCH["rllib"]
    assert r["returncode"] == -signal.SIGKILL
    assert r["helper_processes_at_kill"] >= 3, "Ray's GCS, raylet, env runner were running"
    assert r["orphans"] == 0 and r["resume_orphans"] == 0, "no Ray process outlives its run"
    # the killed run's folder: every JSON / JSONL / YAML file parses, every checkpoint loads
    killed = r["after_kill"]
    assert not killed["problems"], killed["problems"]
    assert killed["checkpoints"] >= 2 and killed["checkpoints_loaded"] == killed["checkpoints"]
    assert killed["files_parsed"] >= 5
    # at most one checkpoint interval (+ the batch being sampled) of work lost
    assert r["killed_at"] >= 2 * interval
    assert 0 <= r["lost_steps"] <= interval + batch, r
    # resumed from the last checkpoint: step counting continues from it, not from 0
    assert r["resume_returncode"] == 0, r.get("resume_error")
    assert r["killed_at"] < r["first_step_after_resume"] <= r["killed_at"] + batch
    after = r["after_resume"]
    assert after["latest"] >= r["killed_at"] + 2 * interval
    assert not after["problems"] and not after["temporaries"], after
    assert after["checkpoints_loaded"] == after["checkpoints"] > killed["checkpoints"]
    assert r["ok"]
    assert not bench.ray_links(tmp_path), "the short /tmp symlink is removed"
