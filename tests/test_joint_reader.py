"""JointReaderEnv (manager + selector as RLlib agents) and the joint / independent trainers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

pytest.importorskip("ray.rllib")

from memgym.recipes.joint_reader import SELECTOR_TERMS, JointReaderEnv  # noqa: E402
from memgym.recipes.selector import SelectorEnv  # noqa: E402
from memgym.training.joint import selector_env_kwargs  # noqa: E402

KW = selector_env_kwargs(rewards={"evidence": 1.0})  # coverage: the manager's local term


def random_episode(env: JointReaderEnv, seed: int, alpha_check: bool = True):
    """Random valid actions; checks the turn-taking invariants on every step. Returns the
    per-agent sums of the emitted rewards, the roles that acted and the number of steps."""
    rng = np.random.default_rng(seed)
    obs, infos = env.reset(seed=seed)
    totals = dict.fromkeys(env.possible_agents, 0.0)
    roles = []
    while True:
        assert list(obs) == [env.game.role]  # only the agent whose turn it is
        (role, o), = obs.items()
        assert env.observation_spaces[role].contains(o)
        np.testing.assert_array_equal(o["action_mask"], env.mask(role).astype(np.float32))
        view = env.game.core.view.kind
        assert (role == "selector") == (view == "question")
        roles.append(role)
        action = int(rng.choice(np.flatnonzero(o["action_mask"])))
        obs, rewards, terms, truncs, infos = env.step({role: action})
        assert truncs == {"__all__": False}
        # a reward goes only with an observation, or to everyone at the end
        assert set(rewards) <= set(obs) | (set(env.possible_agents) if terms["__all__"]
                                           else set())
        for r, v in rewards.items():
            totals[r] += v
        if terms["__all__"]:
            assert obs == {} and all(terms[r] for r in env.possible_agents)
            return totals, roles


def test_roles_alternate_masks_and_spaces():
    env = JointReaderEnv(KW)
    assert env.possible_agents == ["manager", "selector"]
    assert env.action_spaces["selector"].n == 9
    totals, roles = random_episode(env, 0)
    assert roles[0] == "manager" and "selector" in roles
    # the manager acts once per chunk
    assert roles.count("manager") == len(env.game.core.episode.chunks)
    with pytest.raises(RuntimeError):
        env.step({"manager": 0})
    env.reset(seed=1)
    with pytest.raises(ValueError, match="turn"):
        env.step({"selector": 8})


@pytest.mark.parametrize("alpha", [0.3, 1.0])
def test_rewards_reach_each_agent_and_mix(alpha):
    env = JointReaderEnv(KW, alpha=alpha)
    for seed in (0, 1):
        totals, _ = random_episode(env, seed)
        final = env.final_info
        for role in env.possible_agents:
            ret = env.returns[role]
            # everything earned (also on the other's turns) was paid to that agent
            assert totals[role] == pytest.approx(ret["mixed"])
            assert ret["mixed"] == pytest.approx(alpha * ret["local"]
                                                 + (1 - alpha) * ret["global"])
            # global = the qa terms = the episode's mean QA score (qa weight 1)
            assert ret["global"] == pytest.approx(final["qa_score"])
        # the manager's local reward holds its coverage term, none of the selector's
        assert env.returns["manager"]["local"] == pytest.approx(
            sum(v for k, v in final["manager_terms"].items() if k != "qa"))
        assert not any(final["manager_terms"].get(k) for k in SELECTOR_TERMS if k != "invalid")


def test_frozen_manager_matches_selector_env():
    """Same seeds, same actions: the selector's experience is SelectorEnv's (reward = the
    alpha = 0.5 mix of local + global, i.e. half of SelectorEnv's when no other term is on)."""
    joint = JointReaderEnv(KW, manager="add_only", alpha=0.5)
    single = SelectorEnv(**{**KW, "manager": "add_only"})
    assert joint.possible_agents == ["selector"]
    for seed in (0, 3):
        rng = np.random.default_rng(seed)
        obs, _ = joint.reset(seed=seed)
        sobs, _ = single.reset(seed=seed)
        steps = 0
        while True:
            o = obs["selector"]
            np.testing.assert_allclose(o["observations"],
                                       spaces.flatten(single.observation_space, sobs))
            np.testing.assert_array_equal(o["action_mask"], single.action_masks())
            action = int(rng.choice(np.flatnonzero(o["action_mask"])))
            obs, rewards, terms, _, infos = joint.step({"selector": action})
            sobs, sreward, sdone, _, sinfo = single.step(action)
            steps += 1
            assert 2 * rewards["selector"] == pytest.approx(sreward, abs=1e-9)
            assert terms["__all__"] == sdone
            if sdone:
                break
        for key in ("qa_score", "entries_passed", "selection_recall"):
            assert infos["selector"][key] == pytest.approx(sinfo[key])
        assert steps > 3


def test_both_frozen_play_and_bad_names():
    env = JointReaderEnv(KW, manager="add_only", selector="select_top_k")
    assert env.possible_agents == []
    final = env.play(seed=0)
    assert final["entries_passed"] <= 3 and 0 <= final["qa_score"] <= 1
    with pytest.raises(ValueError, match="selector"):
        JointReaderEnv(KW, selector="fifo")
    with pytest.raises(ValueError, match="alpha"):
        JointReaderEnv(KW, alpha=2.0)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory):
    from memgym.training.rllib_agent import ray_session

    with ray_session(num_cpus=1, temp_dir=tmp_path_factory.mktemp("ray")):
        yield


TINY = {"train_batch_size_per_learner": 128, "minibatch_size": 64, "num_epochs": 1}
SMALL = {"fcnet_hiddens": [16], "head_fcnet_hiddens": []}


def test_tiny_joint_and_independent_runs(ray_cluster, tmp_path: Path):
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    from memgym.training.joint import evaluate, summary, train_independent, train_joint

    joint = train_joint(KW, 256, tmp_path, ppo=TINY, model=SMALL)
    assert joint["env_steps"] >= 256 and set(joint["agent_steps"]) == {"manager", "selector"}
    rows = evaluate(KW, joint["modules"]["manager"], joint["modules"]["selector"], [0, 1],
                    split="val")
    assert [r["seed"] for r in rows] == [0, 1]
    assert all(0 <= r["qa_score"] <= 1 and r["entries_passed"] <= 4 for r in rows)
    assert summary(rows)["episodes"] == 2
    # a trained module against a baseline partner
    assert len(evaluate(KW, "add_only", joint["modules"]["selector"], [0], split="val")) == 1

    ind = train_independent(KW, 256, tmp_path, ppo=TINY, model=SMALL)
    assert [p["agent_steps"].keys() for p in ind["phases"]][0] == {"manager"}
    # phase 2 kept the phase-1 manager frozen: same weights after training the selector
    before = RLModule.from_checkpoint(str(ind["modules"]["manager"])).state_dict()
    after = RLModule.from_checkpoint(
        str(tmp_path / "independent_selector" / "manager")).state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(torch.as_tensor(before[k]), torch.as_tensor(after[k]))
               for k in before)


def test_rank_consistency_and_credit_weights():
    from memgym.recipes.joint_reader import rank_consistency

    assert rank_consistency([1, 2, 3], [0.1, 0.5, 0.9]) == pytest.approx(1.0)
    assert rank_consistency([3, 2, 1], [0.1, 0.5, 0.9]) == 0.0  # anti-consistent: clipped
    assert rank_consistency([1, 1, 1], [0.1, 0.5, 0.9]) == 0.0  # a constant ranks nothing
    # average ranks (.5 .5 2 3) and (.5 .5 2.5 2.5): correlation 4 / sqrt(4.5 * 4)
    assert rank_consistency([1, 1, 2, 3], [0, 0, 1, 1]) == pytest.approx(4 / 18 ** 0.5)
    env = JointReaderEnv(KW, alpha=0.4, credit_group=4)
    for seed in range(6):  # w = 1 for the first 3 episodes, then the group's consistency
        before = {r: list(env.history[r]) for r in env.possible_agents}
        random_episode(env, seed)
        credit = env.final_info["credit"]
        for role in env.possible_agents:
            ret = env.returns[role]
            assert ret["mixed"] == pytest.approx(0.4 * ret["local"]
                                                 + 0.6 * credit[role] * ret["global"])
            want = 1.0 if len(before[role]) < 3 else rank_consistency(
                [h[0] for h in before[role]], [h[1] for h in before[role]])
            assert credit[role] == pytest.approx(want)
    assert len(env.history["manager"]) == 4
