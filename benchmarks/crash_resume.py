"""Crash-safe training: ``kill -9`` a ``memgym train`` run mid-way, then ``--resume`` it.

One trial, for either backend (SB3 or RLlib), on a config shrunk to seconds:

1. ``memgym train CONFIG`` in a subprocess (its own process group; Ray local, 2 CPUs, a small
   object store, every Ray / run file under the trial folder);
2. once ``kill_after`` checkpoints exist, wait a random 0-``jitter`` s (so the kill lands
   anywhere: sampling, learning, writing a checkpoint or the curve) and ``SIGKILL`` it;
3. check the run folder: every JSON / JSONL / YAML file parses, every checkpoint loads,
   ``latest.json`` names the newest complete checkpoint; count processes the run left behind
   (Ray's raylet / GCS / workers must die with their driver);
4. ``memgym train --resume RUN --set total_timesteps=<killed at + 2 intervals>``: it must exit
   0, continue from the last checkpoint (RLlib: its first logged step count follows the
   checkpoint's) and leave an intact run folder with no temporaries.

Work lost = steps the killed run had logged (RLlib ``progress.jsonl``) minus the checkpoint
it resumed from; it must stay within one checkpoint interval plus the batch in flight.

    nice -n 10 python benchmarks/crash_resume.py [--trials 5] [--backends sb3 rllib]

Writes ``benchmarks/results/crash_resume.json`` and ``.md``; ``tests/test_reliability_rllib.py``
runs one RLlib trial.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

RESULTS = Path(__file__).parent / "results"
EASY = "memgym/KVUpdates-Easy-v0"
#: Steps between checkpoints and per rollout / train batch, per backend.
INTERVAL = {"sb3": 256, "rllib": 256}
BATCH = {"sb3": 64, "rllib": 128}


def tiny_config(backend: str, out: Path) -> dict[str, Any]:
    """A run that would go on for minutes, checkpointing every few seconds; no evaluation
    until the end (the resumed run's final report uses 2 episodes)."""
    common = {"name": f"crash-{backend}", "env": {"id": EASY, "kwargs": {"rewards": {"shaping": 1.0}}},
              "eval": {"episodes": 2, "freq": 10**9, "baselines": ["fifo"], "lengths": []},
              "total_timesteps": 200_000, "checkpoint_freq": INTERVAL[backend],
              "output_dir": str(out / "runs"), "progress": False}
    if backend == "sb3":
        algo = {"name": "MaskablePPO", "n_envs": 2,
                "hyperparams": {"n_steps": BATCH["sb3"] // 2, "batch_size": 64, "n_epochs": 2},
                "policy_kwargs": {"net_arch": [32]}}
        return {**common, "algo": algo}
    # configs/rllib_kv_medium.yaml shrunk: 1 env runner x 2 envs, 128-step batches
    algo = {"name": "PPO", "n_envs": 2,
            "hyperparams": {"train_batch_size_per_learner": BATCH["rllib"], "minibatch_size": 64,
                            "num_epochs": 1, "lr": 3e-4},
            "policy_kwargs": {"fcnet_hiddens": [32], "head_fcnet_hiddens": []}}
    return {**common, "backend": "rllib", "algo": algo,
            "rllib": {"num_env_runners": 1, "num_cpus": 2, "env_runner_restart_delay_s": 0.5}}


def subprocess_env(root: Path) -> dict[str, str]:
    """Ray kept local and small, every file it writes under ``root``."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update({"RAY_TMPDIR": str(root / "ray"), "TMPDIR": str(root), "PYTHONUNBUFFERED": "1",
                "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0",
                "RAY_DEFAULT_OBJECT_STORE_MAX_MEMORY_BYTES": str(100 * 2**20),
                "MPLCONFIGDIR": str(root / "mpl"), "HF_HUB_OFFLINE": "1",
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    return env


def memgym_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "memgym.cli", *args]


# -- what a killed run leaves ---------------------------------------------------------------
def ray_links(root: Path) -> list[Path]:
    """Short ``/tmp/ray*`` symlinks into ``root`` (Ray's socket paths must be short)."""
    out = []
    for path in Path("/tmp").glob("ray*"):
        try:
            if path.is_symlink() and path.resolve().is_relative_to(root.resolve()):
                out.append(path)
        except OSError:
            continue
    return out


def processes_left(group: int, markers: list[str]) -> list[int]:
    """Pids (other than this one) in process group ``group`` (the killed run's session) or whose
    command line names one of ``markers`` (Ray workers retitle themselves ``ray::...``, so the
    group is what finds them)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            in_group = os.getpgid(int(proc.name)) == group
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ProcessLookupError):
            continue
        if state != "Z" and (in_group or any(m in cmdline for m in markers)):
            pids.append(int(proc.name))
    return pids


def reap_leftovers(group: int, root: Path, links: list[Path], wait_s: float = 90.0
                   ) -> dict[str, Any]:
    """Wait up to ``wait_s`` for the run's helper processes (Ray's GCS, raylet, agents,
    workers) to exit on their own; kill any still there (this trial started them). Reports
    which outlived the driver by 2 s, when the last one went, and how many had to be killed."""
    markers = [str(root.resolve())] + [str(link) for link in links]
    start = time.perf_counter()
    left = processes_left(group, markers)
    lingering: list[str] = []
    while left and time.perf_counter() - start < wait_s:
        time.sleep(0.25)
        left = processes_left(group, markers)
        if not lingering and time.perf_counter() - start >= 2.0:
            lingering = sorted(filter(None, map(process_name, left)))
    gone_after = round(time.perf_counter() - start, 1)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for link in links:
        link.unlink(missing_ok=True)
    return {"orphans": len(left), "lingering": lingering,
            "all_gone_after_s": None if left else gone_after}


def process_name(pid: int) -> str | None:
    try:
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return Path(argv[0].decode(errors="replace")).name


def check_intact(run_path: Path, backend: str) -> dict[str, Any]:
    """Every JSON / JSONL / YAML file parses and every checkpoint loads; returns counts."""
    from memgym.training import backend_module
    from memgym.training.run import RunFolder

    run = RunFolder(run_path)
    problems: list[str] = []
    files = 0
    for path in sorted(run_path.rglob("*")):
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(run_path).parts):
            continue
        try:
            if path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".jsonl":
                [json.loads(line) for line in path.read_text().splitlines() if line]
            elif path.suffix in (".yaml", ".yml"):
                yaml.safe_load(path.read_text())
            else:
                continue
            files += 1
        except (ValueError, yaml.YAMLError) as exc:
            problems.append(f"{path.relative_to(run_path)}: {exc}")
    config = run.load_config()
    module = backend_module(backend)
    pattern = "step_*.zip" if backend == "sb3" else "step_*"
    checkpoints = sorted(run.checkpoints.glob(pattern))
    loaded = 0
    for path in checkpoints:
        try:
            module.load_agent(run, config, checkpoint=path)
            loaded += 1
        except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
            problems.append(f"{path.name}: {type(exc).__name__}: {str(exc)[:120]}")
    latest = run.latest_checkpoint()
    newest = max((int(p.name.split("_")[1].split(".")[0]) for p in checkpoints), default=None)
    if latest is None or latest[1] != newest:
        problems.append(f"latest.json names {latest}, newest complete checkpoint {newest}")
    hidden = sorted(str(p.relative_to(run_path)) for p in run_path.rglob(".*")
                    if ".tmp" in p.name or ".old" in p.name)
    return {"files_parsed": files, "checkpoints_loaded": loaded, "checkpoints": len(checkpoints),
        "latest": latest[1] if latest else None, "temporaries": hidden, "problems": problems}


def logged_steps(run_path: Path) -> list[int]:
    path = run_path / "ray" / "progress.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line)["steps"] for line in path.read_text().splitlines() if line]


# -- one trial -------------------------------------------------------------------------------
def crash_trial(backend: str, root: Path, *, seed: int = 0, kill_after: int = 2,
                jitter: float = 2.0, timeout: float = 300.0) -> dict[str, Any]:
    """Kill -9 a training run after ``kill_after`` checkpoints (+ random delay), resume it;
    returns what was measured (``ok`` is whether every check passed)."""
    from memgym.training.run import RunFolder

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    config = tiny_config(backend, root)
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    run = RunFolder(Path(config["output_dir"]) / config["name"])
    env = subprocess_env(root)
    result: dict[str, Any] = {"backend": backend, "seed": seed}
    start = time.perf_counter()
    proc = subprocess.Popen(memgym_cli("train", str(config_path)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    links: list[Path] = []
    try:
        target = kill_after * INTERVAL[backend]
        while True:
            latest = run.latest_checkpoint()
            if latest and latest[1] >= target:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"training exited early: {proc.stderr.read().decode()[-2000:]}")
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"no checkpoint at {target} steps within {timeout} s")
            links = links or ray_links(root)
            time.sleep(0.05)
        delay = float(rng.uniform(0, jitter))
        time.sleep(delay)
        links = links or ray_links(root)
        # the driver's helpers (Ray); they must not outlive it
        helpers = len(processes_left(proc.pid, [str(root.resolve())])) - 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    result.update(killed_after_s=round(time.perf_counter() - start, 1), delay_s=round(delay, 2),
                  returncode=proc.returncode, helper_processes_at_kill=helpers)
    result.update(reap_leftovers(proc.pid, root, links))
    before_resume = logged_steps(run.path)
    killed = check_intact(run.path, backend)
    result["after_kill"] = killed
    killed_at = killed["latest"]
    result["killed_at"] = killed_at
    if backend == "rllib" and before_resume:
        result["steps_logged_at_kill"] = max(before_resume)
        result["lost_steps"] = max(before_resume) - killed_at
    total = killed_at + 2 * INTERVAL[backend]
    resumed = subprocess.Popen(
        memgym_cli("train", "--resume", str(run.path), "--set", f"total_timesteps={total}"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    output = resumed.communicate(timeout=timeout)[0]
    result["resume_returncode"] = resumed.returncode
    if resumed.returncode != 0:
        result["resume_error"] = output[-2000:]
    leftovers = reap_leftovers(resumed.pid, root, ray_links(root), 30)
    result.update({f"resume_{k}": v for k, v in leftovers.items()})
    after = check_intact(run.path, backend)
    result["after_resume"] = after
    if backend == "rllib":
        new = logged_steps(run.path)[len(before_resume):]
        result["first_step_after_resume"] = new[0] if new else None
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["ok"] = trial_ok(result, total)
    return result


def trial_ok(r: dict[str, Any], total: int) -> bool:
    backend = r["backend"]
    checks = [r["returncode"] == -signal.SIGKILL, r["orphans"] == 0, r["resume_orphans"] == 0,
              not r["after_kill"]["problems"], r["resume_returncode"] == 0,
              not r["after_resume"]["problems"], not r["after_resume"]["temporaries"],
              r["after_resume"]["latest"] is not None and r["after_resume"]["latest"] >= total]
    if backend == "rllib":
        first = r.get("first_step_after_resume")
        checks += [first is not None and r["killed_at"] < first <= r["killed_at"] + BATCH[backend],
                   r.get("lost_steps", 0) <= INTERVAL[backend] + BATCH[backend]]
    return all(checks)


# -- the benchmark ----------------------------------------------------------------------------
def fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def fmt_row(r: dict[str, Any]) -> str:
    lost = r.get("lost_steps")
    problems = r["after_kill"]["problems"] + r["after_resume"]["problems"]
    return (f"| {r['backend']} | {r['seed']} | {r['killed_after_s']} | {r['killed_at']} | "
            f"{'-' if lost is None else lost} | {r['after_kill']['files_parsed']} | "
            f"{r['after_kill']['checkpoints_loaded']}/{r['after_kill']['checkpoints']} | "
            f"{', '.join(r['lingering']) or '-'} | {fmt(r['all_gone_after_s'])} | "
            f"{r['orphans']} | {r['resume_returncode']} | {r['after_resume']['latest']} | "
            f"{len(r['after_resume']['temporaries'])} | {len(problems)} | "
            f"{'yes' if r['ok'] else 'NO'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["sb3", "rllib"])
    parser.add_argument("--keep", action="store_true", help="keep the trial folders")
    args = parser.parse_args()
    trials = []
    for backend in args.backends:
        for seed in range(args.trials):
            root = Path(tempfile.mkdtemp(prefix=f"crash-{backend}-"))
            try:
                r = crash_trial(backend, root, seed=seed, kill_after=2 + seed % 3)
            except Exception as exc:  # noqa: BLE001 - a failed trial is a result
                r = {"backend": backend, "seed": seed, "ok": False,
                     "error": f"{type(exc).__name__}: {exc}"[:2000]}
            finally:
                if not args.keep:
                    shutil.rmtree(root, ignore_errors=True)
            print(json.dumps({k: v for k, v in r.items() if k not in ("after_kill", "after_resume")}),
                  flush=True)
            trials.append(r)
    summary = {b: {"trials": sum(r["backend"] == b for r in trials),
                   "ok": sum(r["backend"] == b and r["ok"] for r in trials)} for b in args.backends}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "crash_resume.json").write_text(
        json.dumps({"summary": summary, "interval": INTERVAL, "trials": trials}, indent=2) + "\n")
    lines = ["# Crash / resume trials (kill -9 mid-training, then `memgym train --resume`)", "",
             "| backend | trials | all checks passed |", "|---|---|---|"]
    lines += [f"| {b} | {s['trials']} | {s['ok']} |" for b, s in summary.items()]
    lines += ["", f"Checkpoint interval: {INTERVAL} steps; batch: {BATCH} steps.", "",
              "| backend | seed | killed after s | resumed from | lost steps | files parsed | "
              "checkpoints loaded | alive 2 s after kill | all gone after s | killed by us | "
              "resume rc | final steps | temporaries | problems | ok |", "|" + "---|" * 15]
    lines += [fmt_row(r) for r in trials if "after_kill" in r]
    lines += [f"- {r['backend']} seed {r['seed']}: {r['error']}" for r in trials if "error" in r]
    (RESULTS / "crash_resume.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
