"""Tasks of one's own: ``--import MODULE``, ``imports:`` in configs (kept by the run folder,
imported in subprocess workers) and installed packages' ``memgym.tasks`` entry points."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from memgym import plugins
from memgym.cli import app

from conftest import ROOT

runner = CliRunner()
_ids = itertools.count()

TASK_MODULE = '''
from memgym import Chunk, Episode, Question, register_task


class ThingTask:
    """Room numbers among chatter; each question asks one room."""

    name = "thing"

    def __init__(self, length: int = 8) -> None:
        self.length = length

    def episode(self, seed, split="train", **params):
        length = params.get("length", self.length)
        texts = [f"Chatter number {i}." for i in range(length)]
        texts[1] = f"Ann's room is R{seed % 9}."
        chunks = tuple(Chunk(i, text) for i, text in enumerate(texts))
        questions = (Question("What is Ann's room?", (f"R{seed % 9}",), (1,), id="q0"),)
        return Episode(chunks, questions, self.name, split, seed, {"length": length})


register_task("{name}", ThingTask, namespace="mine",
              levels={"": {"task": {"length": 8},
                           "env": {"tiers": {"episodic": {"entries": 2, "tokens": None}}}}},
              description="a task from outside memgym")
'''


@pytest.fixture
def task_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A task module in tmp_path (on sys.path and PYTHONPATH, so workers find it too):
    ``(module name, env id)``, both new to this process."""
    n = next(_ids)
    module, name = f"mymod{n}_{os.getpid()}", f"Thing{n}"
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / f"{module}.py").write_text(TASK_MODULE.replace("{name}", name))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), str(ROOT)]))
    return module, f"mine/{name}-v0"


def test_eval_sees_a_task_module_given_with_import(task_module: tuple[str, str]) -> None:
    module, env_id = task_module
    args = ["eval", "--env", env_id, "--agent", "fifo", "--episodes", "1"]
    missing = runner.invoke(app, args)
    assert missing.exit_code == 2, missing.output
    assert f"unknown env id {env_id!r}" in missing.output
    assert "--import MODULE" in missing.output and "Traceback" not in missing.output
    result = runner.invoke(app, ["eval", "--import", module, *args[1:]])
    assert result.exit_code == 0, result.output
    assert env_id in result.output and "fifo" in result.output
    listed = runner.invoke(app, ["list", "--import", module])
    assert listed.exit_code == 0 and env_id in listed.output


def test_import_errors_are_one_line_naming_the_module(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "broken_tasks_mod.py").write_text("x = 1\nraise RuntimeError('boom')\n")
    cases = [("no_such_tasks_mod", "--import no_such_tasks_mod: no module named "
                                   "'no_such_tasks_mod'; the module must be importable"),
             ("broken_tasks_mod", "--import broken_tasks_mod: importing it failed: "
                                  "RuntimeError: boom"),
             ("my_tasks.py", "--import my_tasks.py: give a module name (my_tasks), not a file")]
    for module, message in cases:
        result = runner.invoke(app, ["eval", "--import", module, "--agent", "fifo",
                                     "--episodes", "1"])
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output
        assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
        if module == "broken_tasks_mod":  # where in the user's module it failed
            assert result.output.rstrip().endswith("broken_tasks_mod.py:2)"), result.output


def test_module_in_the_current_folder_gets_a_pythonpath_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "here_tasks_mod.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    with pytest.raises(plugins.PluginError, match="in the current folder.*PYTHONPATH=."):
        plugins.import_module("here_tasks_mod")


def _install_entry_point(folder: Path, name: str, value: str) -> None:
    """A fake installed distribution declaring one ``memgym.tasks`` entry point."""
    info = folder / f"memgym_plugin_{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: memgym-plugin-{name}\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(f"[memgym.tasks]\n{name} = {value}\n")


def test_installed_entry_point_registers_its_tasks(task_module: tuple[str, str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    module, env_id = task_module
    site = tmp_path / "site"
    site.mkdir()
    _install_entry_point(site, "clinic", module)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    result = runner.invoke(app, ["eval", "--env", env_id, "--agent", "oracle", "--episodes", "1"])
    assert result.exit_code == 0, result.output
    assert plugins.load_entry_points() == [], "loaded once per process"


def test_broken_entry_point_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_entry_point(tmp_path, "broken", "no_such_plugin_module:register")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "_entry_points_loaded", False)
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 2, result.output
    assert ("entry point 'broken' = 'no_such_plugin_module:register' of package "
            "memgym-plugin-broken (group memgym.tasks) failed to load: ModuleNotFoundError"
            in result.output)
    assert "Traceback" not in result.output


def tiny_config(tmp_path: Path, env_id: str, imports: list[str], **extra) -> dict:
    return {
        "name": "mine", "env": {"id": env_id}, "imports": imports,
        "eval": {"episodes": 2, "freq": 64, "baselines": ["fifo"], "lengths": []},
        "algo": {"name": "MaskablePPO", "n_envs": 2, "vec_env": "subproc",
                 "hyperparams": {"n_steps": 32, "batch_size": 64, "n_epochs": 1},
                 "policy_kwargs": {"net_arch": [16]}},
        "total_timesteps": 64, "checkpoint_freq": 64, "output_dir": str(tmp_path / "runs"),
        "progress": False, **extra,
    }


def test_config_imports_reach_subprocess_workers_and_the_run_folder(
        task_module: tuple[str, str], tmp_path: Path) -> None:
    module, env_id = task_module
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tmp_path, env_id, [])))
    missing = runner.invoke(app, ["train", str(path)])
    assert missing.exit_code == 2, missing.output
    assert "env.id: unknown env id" in missing.output and "imports:" in missing.output
    bad = runner.invoke(app, ["train", str(path), "--set", "imports=[no_such_tasks_mod]"])
    assert bad.exit_code == 2, bad.output
    assert ("--set 'imports=[no_such_tasks_mod]': imports: no_such_tasks_mod: no module named"
            in bad.output)
    # subproc workers are fresh processes: they import the module from the config
    result = runner.invoke(app, ["train", str(path), "--import", module])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "mine"
    assert yaml.safe_load((run / "config.yaml").read_text())["imports"] == [module]
    # a new process: the run folder's imports make its env id known without --import
    done = subprocess.run([sys.executable, "-m", "memgym.cli", "eval", "--agent", f"{run},fifo",
                           "--env", env_id, "--episodes", "1"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "mine" in done.stdout and "fifo" in done.stdout


def test_rllib_env_creator_imports_the_config_modules(task_module: tuple[str, str]) -> None:
    pytest.importorskip("ray")
    from memgym.training.rllib import make_env

    module, env_id = task_module
    assert module not in sys.modules
    env = make_env(env_id, {"imports": [module], "split": "val"})
    obs, _ = env.reset(seed=0)
    assert "action_mask" in obs
    env.close()


def test_run_folder_imports_that_fail_name_the_run(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "gone"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("name: gone\nimports: [gone_tasks_mod]\n")
    result = runner.invoke(app, ["eval", "--agent", str(run), "--episodes", "1"])
    assert result.exit_code == 2, result.output
    assert f"error: {run}: imports: gone_tasks_mod: no module named" in result.output
