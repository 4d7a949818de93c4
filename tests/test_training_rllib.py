"""RLlib training from config files, Ray-parallel evaluation, fault tolerance.

One small local Ray cluster (2 CPUs) is shared by the module; every Ray file goes under
pytest's tmp folders (session files through a short /tmp symlink, see rllib_agent.py).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("ray.rllib")

from memgym.loading import load_agent as load_named_agent
from memgym.agents.evaluate import evaluate_agents  # noqa: E402
from memgym.cli import app  # noqa: E402
from memgym.training import ConfigError, load_config, resume_run, train_from_config  # noqa: E402
from memgym.training.config import set_path, validate_config  # noqa: E402
from memgym.training.run import RunFolder  # noqa: E402

runner = CliRunner()
EASY = "memgym/KVUpdates-Easy-v0"
CRASHING = "memgym-test/CrashingKV-v0"


def tiny(tmp_path: Path, **changes) -> dict:
    config = {
        "name": "tiny-rllib",
        "backend": "rllib",
        "env": {"id": EASY, "kwargs": {"rewards": {"shaping": 1.0}}},
        "eval": {"episodes": 3, "freq": 128, "baselines": ["fifo", "oracle"], "lengths": [60]},
        "algo": {"name": "PPO", "n_envs": 2,
                 "hyperparams": {"train_batch_size_per_learner": 128, "minibatch_size": 64,
                                 "num_epochs": 1, "lr": "lin_3e-4"},
                 "policy_kwargs": {"fcnet_hiddens": [32], "head_fcnet_hiddens": []}},
        "rllib": {"num_env_runners": 1},
        "total_timesteps": 256,
        "checkpoint_freq": 128,
        "output_dir": str(tmp_path / "runs"),
        "progress": False,
    }
    for key, value in changes.items():
        set_path(config, key, value)
    return config


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    """One local cluster for the module (train() and --workers join it instead of starting
    their own); its session files live in a tmp folder."""
    from memgym.training.rllib_agent import ray_session

    os.environ.pop("RAY_ADDRESS", None)
    with ray_session(num_cpus=2, temp_dir=tmp_path_factory.mktemp("ray")):
        yield


@pytest.fixture(scope="module")
def trained(ray_cluster, tmp_path_factory: pytest.TempPathFactory):
    """A tiny run trained once: (config, run folder, report). Tests that change it copy it."""
    config = validate_config(tiny(tmp_path_factory.mktemp("trained")))
    report = train_from_config(config)
    return config, RunFolder.for_config(config), report


def without_ratio(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "oracle_ratio"}


def copy_run(run: RunFolder, dest: Path) -> RunFolder:
    shutil.copytree(run.path, dest / run.path.name)
    return RunFolder(dest / run.path.name)


# -- runs first: no Ray session yet ---------------------------------------------------------
def test_cli_train_starts_and_stops_its_own_cluster(tmp_path: Path) -> None:
    import ray

    if ray.is_initialized():
        pytest.skip("a Ray session is already running in this process")
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny(tmp_path, **{
        "eval.lengths": [], "total_timesteps": 128, "rllib.num_cpus": 2})))
    result = runner.invoke(app, ["train", str(path), "--set", "name=cli-rllib"])
    assert result.exit_code == 0, result.output
    assert "cli-rllib" in result.output and "oracle" in result.output
    assert not ray.is_initialized(), "the cluster it started is stopped"
    assert list(tmp_path.glob("session_*")), "Ray's files went to RAY_TMPDIR (tmp_path)"
    assert not [p for p in Path("/tmp").glob("ray*") if p.is_symlink() and
                p.resolve() == tmp_path.resolve()], "the short symlink is removed"
    assert (tmp_path / "runs" / "cli-rllib" / "ray" / "progress.jsonl").is_file()
    assert not (Path.home() / "ray_results").exists() or not any(
        p.stat().st_mtime > path.stat().st_mtime for p in (Path.home() / "ray_results").iterdir())


# -- one shared cluster from here on -------------------------------------------------------
def test_tiny_config_writes_a_complete_run_folder(trained) -> None:
    config, run, report = trained
    assert yaml.safe_load(run.config.read_text())["backend"] == "rllib"
    path, steps = run.latest_checkpoint()
    assert steps >= 256 and path.is_dir()
    checkpoints = sorted(p.name for p in run.checkpoints.glob("step_*"))
    assert len(checkpoints) >= 2 and checkpoints[-1] == path.name
    assert (path / "learner_group" / "learner" / "rl_module" / "default_policy").is_dir()
    assert run.best_model(suffix="").is_dir()
    curve = run.read_curve()
    assert len(curve) >= 2 and curve[-1]["steps"] == steps
    assert [p["steps"] for p in curve] == sorted({p["steps"] for p in curve})
    assert {p["split"] for p in curve} == {"val"} and report["split"] == "heldout"  # honest
    for name in ("report.json", "report.md", "report.png", "learning_curve.png"):
        assert (run.eval / name).is_file(), name
    assert (run.eval / "length_60" / "report.json").is_file()
    summary = json.loads(run.summary.read_text())
    assert set(summary["scores"]) == {"tiny-rllib", "fifo", "oracle"}
    assert set(report["agents"]) == {"tiny-rllib", "fifo", "oracle"}
    progress = [json.loads(line) for line in (run.path / "ray" / "progress.jsonl").open()]
    assert progress[-1]["steps"] == steps
    assert not [p for p in run.path.rglob("*") if ".tmp" in p.name or ".old" in p.name]


def test_saved_module_reloads_and_scores_the_same(trained) -> None:
    config, run, report = trained
    again = evaluate_agents([str(run.path)], config.eval_id, split="heldout", episodes=3,
                            seed=0, env_kwargs=config.eval_kwargs, load=load_named_agent)
    assert without_ratio(again["agents"]["tiny-rllib"]) == without_ratio(report["agents"]["tiny-rllib"])
    # an Algorithm checkpoint folder loads too
    from memgym.training.rllib import load_agent

    agent = load_agent(run, config, checkpoint=run.latest_checkpoint()[0])
    ckpt = evaluate_agents([agent], config.eval_id, episodes=1)
    assert 0.0 <= ckpt["agents"]["tiny-rllib"]["qa_score"] <= 1.0


def test_crash_while_saving_leaves_the_previous_checkpoint(trained, tmp_path: Path) -> None:
    from memgym.training.rllib import load_agent, save_checkpoint

    config, run, _ = trained
    run = copy_run(run, tmp_path)
    before = run.latest_checkpoint()

    class CrashingAlgo:
        def save_to_path(self, path: str) -> None:
            Path(path).mkdir(parents=True)
            (Path(path) / "algorithm_state.pkl").write_bytes(b"half a pick")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(CrashingAlgo(), run, before[1] + 128)
    assert run.latest_checkpoint() == before
    assert not list(run.checkpoints.glob(".*"))
    agent = load_agent(run, config, checkpoint=before[0])
    assert agent.name == "tiny-rllib"


@pytest.mark.parametrize("change, message", [
    ({"rllib.num_env_runner": 2}, "rllib.num_env_runner: unknown key (did you mean 'num_env_runners'?)"),
    ({"rllib.num_cpus": 0}, "rllib.num_cpus: Input should be greater than or equal to 1"),
    ({"algo.hyperparams.learning_rate": 0.1}, "algo.hyperparams.learning_rate: not an argument "
                                              "of PPOConfig.training (did you mean 'lr'?"),
    ({"algo.hyperparams.num_epoch": 2}, "(did you mean 'num_epochs'?)"),
    ({"algo.hyperparams.lr": "fast"}, "algo.hyperparams.lr: a number or lin_<number> (got 'fast')"),
    ({"algo.hyperparams.num_epochs": "two"}, "algo.hyperparams.num_epochs: Input should be a valid integer"),
    ({"algo.hyperparams.minibatch_size": 4096}, "minibatch_size` (4096) must be <="),
    ({"algo.policy_kwargs.fcnet_hidden": [8]}, "did you mean 'fcnet_hiddens'?"),
    ({"algo.name": "RecurrentPPO"}, "set algo.policy_kwargs.use_lstm: true"),
])
def test_config_errors_are_clear(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny(tmp_path, **change)))
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs" / "tiny-rllib").exists(), "nothing written for a bad config"


def test_shipped_config_validates() -> None:
    from memgym.training.rllib import validate

    config = load_config(Path(__file__).resolve().parents[1] / "configs" / "rllib_kv_medium.yaml")
    sb3 = load_config(Path(__file__).resolve().parents[1] / "configs" / "kv_updates_medium.yaml")
    spec = validate(config)
    assert spec.num_env_runners == 2 and config.env == sb3.env
    with pytest.raises(ConfigError, match="rllib.adress: unknown key"):
        validate(config.model_copy(update={"rllib": {"adress": "auto"}}))


def test_short_temp_dir_for_long_paths(tmp_path: Path) -> None:
    from memgym.training.rllib_agent import short_temp_dir

    long = tmp_path / ("x" * 80)
    path, link = short_temp_dir(long)
    try:
        assert len(path) <= 40 and Path(path).resolve() == long.resolve()
    finally:
        link.unlink()
    assert short_temp_dir("/tmp/r") == ("/tmp/r", None)


def test_workers_eval_report_is_identical(trained, tmp_path: Path) -> None:
    config, run, _ = trained
    args = ["eval", "--agent", f"{run.path},random,fifo,oracle", "--env", EASY,
            "--episodes", "5", "--seed", "3"]
    one = runner.invoke(app, [*args, "--out", str(tmp_path / "one")])
    assert one.exit_code == 0, one.output
    two = runner.invoke(app, [*args, "--workers", "2", "--out", str(tmp_path / "two")])
    assert two.exit_code == 0, two.output
    assert (tmp_path / "one" / "report.json").read_bytes() == \
        (tmp_path / "two" / "report.json").read_bytes()
    with pytest.raises(ValueError, match="unknown agent 'nope'"):
        evaluate_agents(["fifo", "nope"], EASY, episodes=2, workers=2)


def test_resume_continues_the_step_count_and_the_curve(trained, tmp_path: Path) -> None:
    config, run, _ = trained
    run = copy_run(run, tmp_path)
    steps_before = run.latest_checkpoint()[1]
    curve_before = run.read_curve()
    resume_run(run.path, ["total_timesteps=512"])
    path, steps = run.latest_checkpoint()
    assert steps >= 512 > steps_before
    curve = run.read_curve()
    assert curve[:len(curve_before)] == curve_before and curve[-1]["steps"] == steps
    assert load_config(run.config).total_timesteps == 512
    progress = [json.loads(line) for line in (run.path / "ray" / "progress.jsonl").open()]
    after = [p["steps"] for p in progress if p["steps"] > steps_before]
    assert after and after[0] <= steps_before + 256, "counting went on from the checkpoint"


def test_recurrent_and_unmasked_modules_train_and_reload(ray_cluster, tmp_path: Path) -> None:
    config = validate_config(tiny(tmp_path, **{
        "name": "lstm", "eval.lengths": [], "eval.baselines": ["fifo"],
        "algo.policy_kwargs": {"fcnet_hiddens": [16], "use_lstm": True, "lstm_cell_size": 16,
                               "max_seq_len": 8},
        "rllib.action_masking": False, "total_timesteps": 128}))
    report = train_from_config(config)
    again = evaluate_agents([str(RunFolder.for_config(config).path)], config.eval_id,
                            episodes=3, env_kwargs=config.eval_kwargs, load=load_named_agent)
    assert without_ratio(again["agents"]["lstm"]) == without_ratio(report["agents"]["lstm"])


class CrashOnStep(gym.Wrapper):
    """Test-only: raise on this env's ``n``-th step, once per test (a marker file records it)."""

    def __init__(self, env: gym.Env, n: int, marker: str) -> None:
        super().__init__(env)
        self.n, self.marker, self.steps = n, Path(marker), 0

    def step(self, action):
        self.steps += 1
        if self.steps == self.n and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            raise RuntimeError("injected env crash")
        return self.env.step(action)


def crashing_env(env_config, marker: str, n: int = 20):
    """RLlib env creator: the KV env, crashing in env runner 1 only."""
    from memgym.training.rllib import make_env

    env = make_env(EASY, env_config)
    if getattr(env_config, "worker_index", 0) == 1:
        env = CrashOnStep(env, n, marker)
    return env


@pytest.mark.slow  # 10-20 s: 2 env runners, one crashes and is restarted
def test_env_runner_crash_is_survived(ray_cluster, tmp_path: Path) -> None:
    import functools

    import ray.cloudpickle
    from ray.tune.registry import register_env

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests
    marker = tmp_path / "crashed"
    register_env(CRASHING, functools.partial(crashing_env, marker=str(marker)))
    if CRASHING not in gym.registry:
        gym.register(CRASHING, entry_point=lambda **kw: gym.make(EASY, **kw))
    config = validate_config(tiny(tmp_path, **{
        "name": "crash", "env.id": CRASHING, "eval.id": EASY, "eval.lengths": [],
        "eval.baselines": ["fifo"], "eval.freq": 10_000, "rllib.num_env_runners": 2,
        "rllib.env_runner_restart_delay_s": 0.5, "total_timesteps": 1024}))
    train_from_config(config)
    assert marker.exists(), "the env crashed"
    run = RunFolder.for_config(config)
    assert run.latest_checkpoint()[1] >= 1024
    progress = [json.loads(line) for line in (run.path / "ray" / "progress.jsonl").open()]
    assert len(progress) >= 8 and progress[-1]["steps"] >= 1024
    assert progress[-1]["env_runner_restarts"] >= 1, progress
