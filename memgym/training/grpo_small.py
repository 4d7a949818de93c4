"""Group-relative policy optimisation (GRPO) for small policies, CleanRL style (``backend: grpo``).

SB3 and RLlib have no GRPO for small policies, so this is a short trainer, readable top to
bottom. Each update plays ``groups_per_update`` groups of ``group_size`` episodes, every episode
of a group on the SAME stream (``reset(options={"episode_seed": s})``); each step gets its
episode's advantage ``(R - mean(group R)) / (std(group R) + eps)`` (no critic); then
``n_epochs`` of minibatch steps on PPO's clipped policy-gradient loss, minus an entropy bonus,
plus an optional KL penalty (k3 estimator) to the policy training started from.

The policy is SB3's ``MultiInputPolicy`` actor: an MLP (``policy_kwargs.net_arch``, tanh) over
the flattened observation, invalid actions masked out of the logits. Checkpoints are
safetensors files in the :mod:`memgym.training.run` layout (``checkpoints/step_<n>.safetensors``,
``best/model.safetensors``, chosen on ``eval.select_split`` by ``eval.select_metric``); Adam
moments are not saved, so a resumed run restarts them.
``algo.n_envs`` is unused: a group's ``group_size`` envs step in lockstep.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from memgym.training.config import ConfigError, TrainConfig, refuse_option_choices
from memgym.training.hyperparams import validate_hyperparams
from memgym.training.run import PeriodicEval, RunFolder, final_report

SUFFIX = ".safetensors"
STATS = ("loss", "policy_loss", "kl", "entropy", "clip_fraction")


class GRPOParams(BaseModel):
    """``algo.hyperparams`` of the grpo backend (typed; validated once per run)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_size: int = Field(8, ge=2)
    """Episodes per group; all play the same episode seed (>= 2: advantages are relative to
    the group)."""
    groups_per_update: int = Field(4, ge=1)
    """Groups (distinct episode seeds) per policy update."""
    learning_rate: float = Field(3e-4, gt=0)
    """Adam step size."""
    n_epochs: int = Field(4, ge=1)
    """Passes over each update's steps."""
    batch_size: int = Field(256, ge=1)
    """Steps per minibatch."""
    clip_range: float = Field(0.2, gt=0)
    """Ratio clipping against the policy that sampled the steps."""
    ent_coef: float = 0.0
    """Entropy bonus weight."""
    kl_coef: float = 0.0
    """Weight of the KL penalty to the reference (initial) policy; 0 disables it."""
    adv_eps: float = 1e-6
    """Added to the group's return std (a group of equal returns gets zero advantage)."""
    max_grad_norm: float = 0.5
    """Gradient norm clipping."""


def grpo_params(config: TrainConfig) -> GRPOParams:
    return validate_hyperparams(GRPOParams, config.algo.hyperparams, "the grpo backend")


def net_arch(config: TrainConfig) -> list[int]:
    kwargs = dict(config.algo.policy_kwargs)
    unknown = set(kwargs) - {"net_arch"}
    if unknown:
        raise ConfigError(f"algo.policy_kwargs: {sorted(unknown)} not supported by the grpo "
                          "backend (only net_arch)")
    arch = kwargs.get("net_arch", [64, 64])
    if not isinstance(arch, list) or not all(isinstance(h, int) and h > 0 for h in arch):
        raise ConfigError(f"algo.policy_kwargs.net_arch: a list of positive ints, got {arch!r}")
    return arch


def validate(config: TrainConfig) -> GRPOParams:
    """Fail on anything the trainer would reject; returns the typed hyperparameters."""
    if config.algo.name != "GRPO":
        raise ConfigError(f"algo.name: {config.algo.name!r}; the grpo backend trains 'GRPO'")
    refuse_option_choices(config, "grpo")
    params = grpo_params(config)
    net_arch(config)
    return params


class MaskedMLPPolicy(nn.Module):
    """MLP over the flattened observation -> one logit per action; masked actions get -inf."""

    def __init__(self, obs_dim: int, n_actions: int, arch: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in arch:
            layers += [nn.Linear(obs_dim, width), nn.Tanh()]
            obs_dim = width
        layers.append(nn.Linear(obs_dim, n_actions))
        self.net = nn.Sequential(*layers)

    def dist(self, obs: torch.Tensor, mask: torch.Tensor) -> torch.distributions.Categorical:
        logits = self.net(obs).masked_fill(~mask, torch.finfo(torch.float32).min)
        return torch.distributions.Categorical(logits=logits)


def flat_obs(space: spaces.Space, obs: Any) -> np.ndarray:
    return spaces.flatten(space, obs).astype(np.float32)


class GRPOAgent:
    """A trained policy as a memgym agent (greedy over valid actions by default)."""

    def __init__(self, policy: MaskedMLPPolicy, name: str = "policy",
                 deterministic: bool = True) -> None:
        self.policy, self.name, self.deterministic = policy, name, deterministic

    def reset(self, env: Any, seed: int | None = None) -> None:
        self.generator = torch.Generator().manual_seed(seed or 0)

    @torch.no_grad()
    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        x = torch.from_numpy(flat_obs(env.observation_space, obs))[None]
        mask = torch.from_numpy(env.unwrapped.action_masks())[None]
        dist = self.policy.dist(x, mask)
        if self.deterministic:
            return int(dist.probs.argmax())
        return int(torch.multinomial(dist.probs, 1, generator=self.generator))


def make_env(config: TrainConfig) -> gym.Env:
    import memgym  # noqa: F401  (registers the ids)

    return gym.make(config.env.id, **{**config.env.kwargs, "split": config.env.split})


def build_policy(env: gym.Env, arch: list[int]) -> MaskedMLPPolicy:
    if not isinstance(env.action_space, spaces.Discrete):
        raise ConfigError("env.id: the grpo backend needs a Discrete action space")
    obs_dim = spaces.flatdim(env.observation_space)
    return MaskedMLPPolicy(obs_dim, int(env.action_space.n), arch)


def play_group(envs: list[gym.Env], policy: MaskedMLPPolicy, episode_seed: int,
               options: dict[str, Any]) -> tuple[list[dict[str, Any]], list[float]]:
    """One sampled episode of the same stream in each env (the group, played in lockstep so
    one forward pass serves every env): per-episode step tensors and returns."""
    space = envs[0].observation_space
    obs = [env.reset(options={**options, "episode_seed": episode_seed})[0] for env in envs]
    steps: list[list[tuple[torch.Tensor, ...]]] = [[] for _ in envs]
    returns = [0.0] * len(envs)
    active = list(range(len(envs)))
    while active:
        x = torch.from_numpy(np.stack([flat_obs(space, obs[i]) for i in active]))
        mask = torch.from_numpy(np.stack([envs[i].unwrapped.action_masks() for i in active]))
        with torch.no_grad():
            dist = policy.dist(x, mask)
            actions = dist.sample()
            logps = dist.log_prob(actions)
        still = []
        for row, i in enumerate(active):
            steps[i].append((x[row], mask[row], actions[row], logps[row]))
            obs[i], reward, terminated, truncated, _ = envs[i].step(int(actions[row]))
            returns[i] += float(reward)
            if not (terminated or truncated):
                still.append(i)
        active = still
    episodes = [{key: torch.stack([step[k] for step in rows]) for k, key in
                 enumerate(("obs", "mask", "action", "logp"))} for rows in steps]
    return episodes, returns


def group_advantages(returns: list[float], eps: float) -> np.ndarray:
    """``(R - mean) / (std + eps)`` within one group (population std, as in GRPO)."""
    r = np.asarray(returns, dtype=np.float64)
    return (r - r.mean()) / (r.std() + eps)


def grpo_update(policy: MaskedMLPPolicy, reference: MaskedMLPPolicy | None,
                optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor],
                p: GRPOParams, generator: torch.Generator) -> dict[str, float]:
    """``n_epochs`` of minibatch steps on the clipped loss; returns the last epoch's means."""
    stats: dict[str, list[float]] = {}
    for epoch in range(p.n_epochs):
        for idx in torch.randperm(len(batch["action"]), generator=generator).split(p.batch_size):
            dist = policy.dist(batch["obs"][idx], batch["mask"][idx])
            logp = dist.log_prob(batch["action"][idx])
            ratio = torch.exp(logp - batch["logp"][idx])
            adv = batch["adv"][idx]
            clipped = torch.clamp(ratio, 1 - p.clip_range, 1 + p.clip_range)
            policy_loss = -torch.min(ratio * adv, clipped * adv).mean()
            entropy = dist.entropy().mean()
            kl = torch.zeros(())
            if reference is not None:
                with torch.no_grad():
                    ref_logp = reference.dist(batch["obs"][idx], batch["mask"][idx]).log_prob(
                        batch["action"][idx])
                log_ratio = ref_logp - logp
                kl = (torch.exp(log_ratio) - log_ratio - 1).mean()  # k3: unbiased, >= 0
            loss = policy_loss - p.ent_coef * entropy + p.kl_coef * kl
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), p.max_grad_norm)
            optimizer.step()
            if epoch == p.n_epochs - 1:
                clip_fraction = ((ratio - 1).abs() > p.clip_range).float().mean()
                for key, value in zip(STATS, (loss, policy_loss, kl, entropy, clip_fraction)):
                    stats.setdefault(key, []).append(float(value.detach()))
    return {k: float(np.mean(v)) for k, v in stats.items()}


# -- checkpoints ---------------------------------------------------------------------------
def save_policy(policy: MaskedMLPPolicy, path: Path, steps: int) -> None:
    """Atomic safetensors write (weights only, no pickle)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{SUFFIX}")
    save_file({k: v.contiguous() for k, v in policy.state_dict().items()}, str(tmp),
              metadata={"steps": str(steps)})
    os.replace(tmp, path)


def load_policy(path: Path, config: TrainConfig) -> MaskedMLPPolicy:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    env = make_env(config)
    policy = build_policy(env, net_arch(config))
    env.close()
    try:
        policy.load_state_dict(load_file(str(path)))
    except (OSError, RuntimeError, SafetensorError) as exc:
        raise ConfigError(f"{path}: cannot load GRPO checkpoint ({exc})") from exc
    return policy.eval()


def load_agent(run: RunFolder, config: TrainConfig, checkpoint: Path | None = None) -> GRPOAgent:
    path = checkpoint or run.best_model(SUFFIX) or (run.latest_checkpoint() or (None,))[0]
    if path is None:
        raise ConfigError(f"{run.path}: no checkpoint to load yet")
    return GRPOAgent(load_policy(Path(path), config), name=config.name)


# -- the training loop ---------------------------------------------------------------------
def train(config: TrainConfig, run: RunFolder, *, resume: bool = False) -> dict[str, Any]:
    """Train (or continue) the run; returns the final report. Logs go to ``tb/`` and
    ``train_log.jsonl`` (one line of losses and returns per update)."""
    from torch.utils.tensorboard import SummaryWriter

    torch.set_num_threads(config.torch_threads)
    p, arch = validate(config), net_arch(config)
    torch.manual_seed(config.seed)
    envs = [make_env(config) for _ in range(p.group_size)]
    for i, env in enumerate(envs):  # seeds each env's own sampling (episodes come from options)
        env.reset(seed=config.seed + i)
    env = envs[0]
    policy = build_policy(env, arch)
    steps = 0
    latest = run.latest_checkpoint() if resume else None
    if latest is not None:
        policy = load_policy(latest[0], config).train()
        steps = latest[1]
    reference = None
    if p.kl_coef > 0:
        reference = build_policy(env, arch)
        reference.load_state_dict(policy.state_dict())
    optimizer = torch.optim.Adam(policy.parameters(), lr=p.learning_rate)
    seeds = np.random.default_rng([config.seed, steps])  # episode seeds of the groups
    generator = torch.Generator().manual_seed(config.seed)
    periodic = PeriodicEval(config, run)
    next_eval = (steps // config.eval.freq + 1) * config.eval.freq
    next_ckpt = (steps // config.checkpoint_freq + 1) * config.checkpoint_freq
    writer = SummaryWriter(str(run.tensorboard / "grpo"))
    start = time.perf_counter()
    try:
        while steps < config.total_timesteps:
            if config.max_minutes and time.perf_counter() - start > 60 * config.max_minutes:
                break
            parts, advs, returns = [], [], []
            for _ in range(p.groups_per_update):
                episodes, group_returns = play_group(envs, policy, int(seeds.integers(2**31 - 1)),
                                                     config.env.options)
                for episode, adv in zip(episodes, group_advantages(group_returns, p.adv_eps)):
                    parts.append(episode)
                    advs.append(torch.full((len(episode["action"]),), float(adv)))
                returns += group_returns
            batch = {k: torch.cat([e[k] for e in parts]) for k in parts[0]}
            batch["adv"] = torch.cat(advs).float()
            stats = grpo_update(policy, reference, optimizer, batch, p, generator)
            steps += len(batch["action"])
            stats.update(mean_return=float(np.mean(returns)), steps=steps)
            for key, value in stats.items():
                writer.add_scalar(f"grpo/{key}", value, steps)
            with open(run.path / "train_log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(stats) + "\n")
            if steps >= next_ckpt:
                save_checkpoint(run, policy, steps)
                next_ckpt += config.checkpoint_freq
            if steps >= next_eval:
                summary, is_best = periodic(GRPOAgent(policy, config.name), steps)
                for tag, value in periodic.scalars(summary).items():
                    writer.add_scalar(tag, value, steps)
                if is_best:
                    save_policy(policy, run.best / f"model{SUFFIX}", steps)
                next_eval += config.eval.freq
    except KeyboardInterrupt:  # Ctrl-C: keep the updates since the last checkpoint
        save_checkpoint(run, policy, steps)
        raise
    finally:
        writer.close()
        for env in envs:
            env.close()
    save_checkpoint(run, policy, steps)
    if run.best_model(SUFFIX) is None:
        periodic(GRPOAgent(policy, config.name), steps)
        save_policy(policy, run.best / f"model{SUFFIX}", steps)
    return final_report(config, run, load_agent(run, config))


def save_checkpoint(run: RunFolder, policy: MaskedMLPPolicy, steps: int) -> None:
    path = run.checkpoint_path(steps, SUFFIX)
    save_policy(policy, path, steps)
    run.record_checkpoint(path, steps)
