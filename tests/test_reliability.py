"""Crash-safe training (kill -9, resume) and tampered checkpoints that fail cleanly."""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import yaml
from typer.testing import CliRunner

from memgym.cli import app
from memgym.training import resume_run, train_from_config
from memgym.training.config import validate_config
from memgym.training.run import RunFolder

from test_training_sb3 import tiny

runner = CliRunner()


def assert_run_files_intact(run: RunFolder) -> None:
    for path in run.path.rglob("*.zip"):
        if not path.name.startswith("."):
            with zipfile.ZipFile(path) as archive:
                assert archive.testzip() is None, path
    for path in run.path.rglob("*.json"):
        if not path.name.startswith("."):
            json.loads(path.read_text())
    yaml.safe_load(run.config.read_text())


def test_kill_9_mid_training_then_resume(tmp_path: Path) -> None:
    config = tiny(tmp_path, total_timesteps=200_000, checkpoint_freq=256,
                  **{"eval.freq": 10**9, "eval.lengths": [], "algo.hyperparams.n_steps": 32,
                     "algo.hyperparams.batch_size": 64})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    run = RunFolder(tmp_path / "runs" / "tiny")
    proc = subprocess.Popen([sys.executable, "-m", "memgym.cli", "train", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            latest = run.latest_checkpoint()
            if latest and latest[1] >= 768:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        else:
            raise AssertionError("no checkpoint within 120 s")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert_run_files_intact(run)
    killed_at = run.latest_checkpoint()[1]
    resume_run(run.path, [f"total_timesteps={killed_at + 256}", "eval.episodes=2"])
    assert run.latest_checkpoint()[1] == killed_at + 256, "continued from the last checkpoint"
    assert not list(run.path.rglob(".*.tmp*"))
    assert_run_files_intact(run)


class _Exploit:
    """Unpickling this would create a file: the loader must never unpickle it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def rewrite_zip(path: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path) as archive:
        items = {name: archive.read(name) for name in archive.namelist()}
    items.update(replace)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in items.items():
            archive.writestr(name, data)


def test_tampered_checkpoints_fail_cleanly_and_never_unpickle(tmp_path: Path) -> None:
    import base64

    import cloudpickle

    config = validate_config(tiny(tmp_path, **{"eval.lengths": []}))
    train_from_config(config)
    run = RunFolder.for_config(config)
    best = run.best / "model.zip"
    marker = tmp_path / "pwned.txt"

    def evaluate() -> str:
        result = runner.invoke(app, ["eval", "--agent", str(run.path), "--env",
                                     config.env.id, "--episodes", "1"])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        return " ".join(result.output.split())

    # 1. a pickled payload in a field memgym rebuilds itself: replaced, never unpickled
    with zipfile.ZipFile(best) as archive:
        data = json.loads(archive.read("data"))
    payload = base64.b64encode(cloudpickle.dumps(_Exploit(marker))).decode()
    data["policy_class"] = {":type:": "<class 'x'>", ":serialized:": payload}
    rewrite_zip(best, {"data": json.dumps(data).encode()})
    result = runner.invoke(app, ["eval", "--agent", str(run.path), "--env", config.env.id,
                                 "--episodes", "1"])
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    # 2. an unexpected pickled field: refused
    data["surprise"] = {":type:": "<class 'x'>", ":serialized:": payload}
    rewrite_zip(best, {"data": json.dumps(data).encode()})
    assert "refusing to unpickle unexpected checkpoint fields ['surprise']" in evaluate()
    assert not marker.exists()
    # 3. a pickle in place of the weights: torch's weights_only loader rejects it
    del data["surprise"]
    buffer = io.BytesIO()
    pickle.dump(_Exploit(marker), buffer)
    rewrite_zip(best, {"data": json.dumps(data).encode(), "policy.pth": buffer.getvalue()})
    assert "cannot load checkpoint" in evaluate()
    assert not marker.exists()
    # 4. not a zip at all
    best.write_bytes(b"garbage")
    assert "not a readable SB3 checkpoint" in evaluate()
