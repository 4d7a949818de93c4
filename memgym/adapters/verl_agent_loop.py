"""memgym's per-chunk rollouts as a verl agent loop (``@register("memgym_chunked")``).

Imports verl (0.9.x: ``verl.experimental.agent_loop``), so only a verl process imports it,
through the agent loop config file::

    # memgym_agent.yaml (actor_rollout_ref.rollout.agent.agent_loop_config_path)
    - name: memgym_chunked
      _target_: memgym.adapters.verl_agent_loop.MemgymAgentLoop
      layout: per_turn            # or concat (verl's classic one-sequence trainer)
      env_kwargs: {ops_per_chunk: 2}
      # weights: {qa: 1.0, format: 0.2}   server_url: http://host:8000   max_turns: 64

Each sample's ``extra_info`` names the episode (``python -m memgym.adapters.verl_turns``
writes such a parquet file). All the decisions (turns, ids, masks, reward) are in
:mod:`memgym.adapters.verl_turns`; see ``docs/engines/verl.md``.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from omegaconf import DictConfig, OmegaConf
from verl.experimental.agent_loop.agent_loop import (
    AgentLoopBase,
    AgentLoopMetrics,
    AgentLoopOutput,
    register,
)

from memgym.adapters.verl_turns import AGENT_NAME, Generated, is_truncated, run_rollout, shared_factory


def _plain(value: Any) -> Any:
    """Hydra hands the YAML's mappings over as DictConfig; memgym wants plain dicts."""
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


@register(AGENT_NAME)
class MemgymAgentLoop(AgentLoopBase):
    """One memgym episode per sample, one generation per chunk (see the module docstring).

    Args (from the agent loop config entry, besides verl's own):
        layout: ``per_turn`` (a list of outputs, verl's v1 trainer) or ``concat``.
        env_kwargs, weights, write_mode, describe_tools, max_turns, server_url, timeout_s:
            As :class:`memgym.adapters.episodes.EpisodeFactory`.
    """

    def __init__(self, *args: Any, layout: str = "per_turn",
                 env_kwargs: Any = None, weights: Any = None, write_mode: str | None = None,
                 describe_tools: bool | None = None, max_turns: int | None = None,
                 server_url: str | None = None, timeout_s: float = 120.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.layout = layout
        self.prompt_length = int(self.rollout_config.prompt_length)
        self.response_length = int(self.rollout_config.response_length)
        self.factory = shared_factory(env_kwargs=_plain(env_kwargs), weights=_plain(weights),
                                      write_mode=write_mode, describe_tools=describe_tools,
                                      max_turns=max_turns, server_url=server_url,
                                      timeout_s=timeout_s)
        eos = self.tokenizer.eos_token_id
        self.eos_ids = list(eos) if isinstance(eos, (list, tuple)) else [eos]

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any
                  ) -> list[AgentLoopOutput] | AgentLoopOutput:
        request_id = uuid4().hex  # one sticky id per rollout: its turns go to one server

        async def encode(messages: list[dict[str, str]]) -> list[int]:
            # Each turn is a fresh conversation: verl's own initial-prompt tokenization.
            return await self.loop.run_in_executor(
                None, lambda: self.continuous_token_builder.build_initial_tokens(messages))

        async def generate(prompt_ids: list[int]) -> Generated:
            params = {**sampling_params, "max_tokens": self.response_length}
            out = await self.server_manager.generate(request_id=request_id, prompt_ids=prompt_ids,
                                                     sampling_params=params)
            return Generated(list(out.token_ids), out.log_probs,
                             is_truncated(out.token_ids, self.response_length, self.eos_ids))

        def decode(ids: list[int]) -> str:
            return self.tokenizer.decode(ids, skip_special_tokens=True)

        fields = await run_rollout(self.factory, kwargs["extra_info"], encode, generate, decode,
                                   layout=self.layout, max_prompt_tokens=self.prompt_length,
                                   response_length=self.response_length)
        outputs = [AgentLoopOutput(**f, metrics=AgentLoopMetrics()) for f in fields]
        return outputs if self.layout == "per_turn" else outputs[0]
