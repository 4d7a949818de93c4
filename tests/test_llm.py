"""LLM memory managers: the TRL tool interface (no model), local models, answerer, agent, GRPO.

Model-free tests drive :class:`MemoryToolEnv` by direct method calls. Model tests use the tiny
random model (SmolLM2's tokenizer, converted once per session into a pytest tmp folder);
SmolLM2 itself only runs in ``@pytest.mark.slow`` tests.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path
from typing import Any

import pytest

from memgym.envs.text_view import TOOLS
from memgym.llm.format_term import format_reward, make_format_reward, turn_format
from memgym.llm.tool_env import (
    DEFAULT_WEIGHTS,
    STREAM_OVER,
    MemoryToolEnv,
    demonstration,
    structured_twin,
    text_twin,
)

TEXT_ID = "memgym/KVUpdates-Easy-Text-v0"
SHORT = {"length": 8, "n_keys": 2}


def row(seed: int = 3, **extra: Any) -> dict[str, Any]:
    return {"prompt": [{"role": "user", "content": "x"}], "env_id": TEXT_ID, "split": "train",
            "episode_seed": seed, "options": json.dumps(SHORT), **extra}


def make_env(**kwargs: Any) -> MemoryToolEnv:
    env = MemoryToolEnv(env_kwargs={"ops_per_chunk": 1, **kwargs})
    env.reset(**row())
    return env


def tool_names(cls: type) -> list[str]:
    """The tools TRL would expose: public functions of the class but reset / get_reward."""
    return sorted(n for n, _ in inspect.getmembers(cls, predicate=inspect.isfunction)
                  if not n.startswith("_") and n not in ("reset", "get_reward"))


# -- the tool class, no model ---------------------------------------------------------------
def test_every_op_is_a_typed_documented_tool() -> None:
    get_json_schema = pytest.importorskip("transformers.utils").get_json_schema

    assert tool_names(MemoryToolEnv) == sorted(TOOLS)
    env = MemoryToolEnv()
    for name in TOOLS:
        schema = get_json_schema(getattr(env, name))["function"]
        assert schema["name"] == name and schema["description"]
    update = get_json_schema(env.update_memory)["function"]["parameters"]
    assert update["required"] == ["id"] and update["properties"]["id"]["type"] == "integer"


def test_restricted_class_exposes_only_enabled_tools() -> None:
    cls = MemoryToolEnv.restricted_to(["add_memory", "update_memory", "next_chunk"])
    assert tool_names(cls) == ["add_memory", "next_chunk", "update_memory"]
    assert issubclass(cls, MemoryToolEnv)
    with pytest.raises(ValueError, match="unknown tools"):
        MemoryToolEnv.restricted_to(["fly"])


def test_reset_is_a_pure_function_of_the_row() -> None:
    a, b = MemoryToolEnv(), MemoryToolEnv()
    first = a.reset(**row(5))
    assert first == b.reset(**row(5))
    assert first != a.reset(**row(6))
    assert "## Memory" in first and "## Chunk 0 of 8" in first
    # the structured id and a dict of options work too; the text twin is played
    c = MemoryToolEnv("memgym/KVUpdates-Easy-v0")
    assert c.reset(episode_seed=5, options=SHORT, split="train") == first
    with pytest.raises(ValueError, match="no env_id"):
        MemoryToolEnv().reset(episode_seed=0)


def test_valid_calls_change_memory_and_show_the_next_view() -> None:
    env = make_env()
    chunk = env.env.core.view.text
    out = env.add_memory()
    assert "ok: added entry 0" in out and f"[0] {chunk}" in out
    out = env.update_memory(id=0, text="Ann's city is Oslo.")
    assert "ok: updated entry 0" in out and "[0] Ann's city is Oslo." in out
    out = env.next_chunk()
    assert "ok: moved on" in out
    assert env.episode_terms["tool_success"] == 1.0 and env.episode_terms["calls"] == 3


@pytest.mark.parametrize("call, error", [
    (lambda e: e.update_memory(id=42, text="x"), "error (unknown_id): no entry with id 42"),
    (lambda e: e.delete_memory(id=0), "error (op_not_enabled)"),  # Easy: add / update / noop
    (lambda e: e.evict_memory(id=0), "error (op_not_enabled)"),
    (lambda e: e.add_memory(tier="attic"), "unknown tier 'attic'"),
    (lambda e: e.add_memory(text="   "), "error (empty_text)"),
    (lambda e: e.add_memory(text="x" * 3000), "longer than 2000 characters"),
    (lambda e: e.update_memory(id="seven"), "update_memory: id must be int"),
    (lambda e: e.route_memory(tier="episodic", id=0), "error (op_not_enabled)"),
    (lambda e: e.reread_chunk(chunk_id=-1), "error (op_not_enabled)"),
])
def test_invalid_calls_return_errors_and_never_raise(call: Any, error: str) -> None:
    env = make_env()
    before = env.env.core.store.snapshot()["entries"].keys()
    out = call(env)
    assert error in out, out
    assert env.env.core.store.snapshot()["entries"].keys() == before
    terms = env.episode_terms
    assert terms["tool_success"] == 0.0 and terms["calls"] == 1


def test_calls_after_the_stream_ends_are_errors() -> None:
    env = make_env()
    outputs = [env.next_chunk() for _ in range(8)]
    assert outputs[-1].endswith(STREAM_OVER) and "## The stream is over." in outputs[-1]
    assert env.add_memory() == f"error (episode_over): {STREAM_OVER}"
    assert env.episode_terms["tool_success"] == 1.0 and env.episode_terms["calls"] == 8
    assert MemoryToolEnv().add_memory().startswith("error (no_episode)")


def test_stopping_early_skips_the_rest_and_answers_from_memory() -> None:
    env = make_env()
    terms = env.episode_terms  # the model never called a tool
    assert env.env.core.done and len(env.env.core.records) == 2
    assert terms == {"qa": 0.0, "tool_success": 0.0, "compression": 1.0, "calls": 0.0}
    assert env.get_reward() == pytest.approx(DEFAULT_WEIGHTS["compression"])
    assert env.get_reward() == env.get_reward()  # idempotent


def test_keeping_the_evidence_through_tools_scores_full_qa() -> None:
    env = make_env()
    core = env.env.core
    evidence = {c for q in core.episode.questions for c in q.evidence}
    while not core.done:
        if core.view.source in evidence:
            env.add_memory()
        else:
            env.next_chunk()
        if core.cursor >= 5:
            break  # stop calling tools mid-stream: the rest is skipped
    stopped_at = core.cursor
    terms = env.episode_terms
    assert core.done and core.cursor == 8
    kept = {e.source for e in core.store.entries.values()}
    assert kept == {c for c in evidence if c < stopped_at}
    answerable = [set(q.evidence) <= kept for q in core.episode.questions]
    assert terms["qa"] >= sum(answerable) / len(answerable)
    assert terms["tool_success"] == 1.0
    weights = {"qa": 1.0, "tool_success": 0.5, "compression": 0.0, "format": 0.0}
    env2 = MemoryToolEnv(env_kwargs={"ops_per_chunk": 1}, weights=weights)
    env2.reset(**row())
    for _ in range(8):
        if env2.env.core.view.source in evidence:
            env2.add_memory()
        else:
            env2.next_chunk()
    assert env2.episode_terms["qa"] == 1.0
    assert env2.get_reward() == pytest.approx(1.5)
    with pytest.raises(ValueError, match="unknown reward weights"):
        MemoryToolEnv(weights={"speed": 1.0})


def test_twins() -> None:
    assert text_twin("memgym/KVUpdates-Easy-v0") == TEXT_ID == text_twin(TEXT_ID)
    assert structured_twin(TEXT_ID) == "memgym/KVUpdates-Easy-v0"
    with pytest.raises(ValueError, match="no text twin"):
        text_twin("CartPole-v1")


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def test_format_term_reads_the_model_turns() -> None:
    good = [{"role": "assistant", "content": "", "tool_calls": [_call("add_memory")]},
            {"role": "tool", "name": "add_memory", "content": "## Memory ..."},
            {"role": "assistant", "content": "done"}]
    rejected = [{"role": "assistant", "content": "", "tool_calls": [_call("fly")]},
                {"role": "tool", "name": "fly", "content": "{'error': 'Tool fly not found.'}"}]
    broken = [{"role": "assistant", "content": '<tool_call>\n{"name": "add_memory", "argu'}]
    assert turn_format(good) == 1.0
    assert turn_format(rejected) == 0.0
    assert turn_format(broken) == 0.0
    assert turn_format(good[:2] + broken) == 0.5
    assert turn_format([]) == 0.0
    logged: dict[str, float] = {}
    envs = [make_env(), make_env()]
    scores = format_reward([good, broken], environments=envs,
                           log_metric=lambda k, v: logged.__setitem__(k, v))
    assert scores == [1.0, 0.0]
    assert logged["memgym/format"] == 0.5 and logged["memgym/compression"] == 1.0
    assert {"memgym/qa", "memgym/tool_success", "memgym/calls"} <= set(logged)


def test_forced_format_counts_a_turn_without_a_call_as_broken() -> None:
    done = [{"role": "assistant", "content": "done"}]
    assert turn_format(done) == 1.0 and turn_format(done, forced=True) == 0.0
    forced = make_format_reward(forced=True)
    assert forced.__name__ == "format_reward"  # TRL logs reward functions by name
    assert forced([done]) == [0.0] and make_format_reward()([done]) == [1.0]


def test_demonstration_is_a_real_label_free_episode() -> None:
    demo = demonstration(TEXT_ID, {"ops_per_chunk": 1}, turns=3)
    assert demo == demonstration("memgym/KVUpdates-Easy-v0", {"ops_per_chunk": 1}, turns=3)
    assert [m["role"] for m in demo] == ["user", "assistant", "tool"] * 1 + ["assistant", "tool"] * 2
    calls = [m["tool_calls"][0]["function"] for m in demo if m["role"] == "assistant"]
    assert [c["name"] for c in calls] == ["add_memory", "update_memory", "next_chunk"]
    assert calls[1]["arguments"] == {"id": 0} and calls[0]["arguments"] == {}
    assert "ok: updated entry 0" in demo[4]["content"]
    assert demonstration(TEXT_ID, {}, turns=0) == []
    # with the text env's default 4 ops per chunk, a stored chunk is followed by next_chunk
    slow = demonstration(TEXT_ID, {}, turns=4)
    names = [m["tool_calls"][0]["function"]["name"] for m in slow if m["role"] == "assistant"]
    assert names[:2] == ["add_memory", "next_chunk"]


class ScriptedAgent:
    """LLMAgent with canned model turns instead of a model."""

    def __new__(cls, replies: list[str], **kwargs: Any) -> Any:
        from memgym.llm.agent import LLMAgent

        class Scripted(LLMAgent):
            def generate(self) -> str:
                self.turns += 1
                return replies.pop(0) if replies else "done"

        return Scripted(None, None, name="scripted", **kwargs)


def test_llm_agent_plays_tool_calls_like_a_rollout() -> None:
    import gymnasium as gym

    from memgym.agents.evaluate import run_episode

    env = gym.make(TEXT_ID, ops_per_chunk=1)
    call = '<tool_call>\n{"name": "add_memory", "arguments": {}}\n</tool_call>'
    nxt = '<tool_call>\n{"name": "next_chunk", "arguments": {}}\n</tool_call>'
    agent = ScriptedAgent([call + "\n" + nxt, call, "I am finished."])
    result = run_episode(env, agent, split="heldout", episode_seed=0, options=SHORT)
    assert agent.turns == 3  # then the rest of the stream is skipped without the model
    assert result["ops"] == {"add": 2, "noop": 6} and result["invalid"] == 0
    roles = [m["role"] for m in agent.messages]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant", "tool"]
    broken = ScriptedAgent(['<tool_call>{"name": "add_memory", "arguments": {]</tool_call>'])
    result = run_episode(env, broken, split="heldout", episode_seed=0, options=SHORT)
    assert result["invalid"] == 1 and result["terms"]["format"] < 0  # charged once, then skip
    with pytest.raises(ValueError, match="needs a text environment"):
        ScriptedAgent([]).act({"view": 0}, {}, env)


def test_llm_agent_with_forced_calls_and_a_demonstration() -> None:
    import gymnasium as gym

    from memgym.agents.evaluate import run_episode

    env = gym.make(TEXT_ID, ops_per_chunk=1)
    # the template opened '<tool_call>\n{"name": "': the model writes the rest
    agent = ScriptedAgent(['add_memory", "arguments": {}}\n</tool_call>'] * 2
                          + ['next_chunk"}\n</tool_call>'] * 4 + ["oops"],
                          force_tool_calls=True, demonstration=3)
    result = run_episode(env, agent, split="heldout", episode_seed=0, options=SHORT)
    # 2 adds, 4 next_chunk, "oops" (a broken call: format penalty, uses chunk 6), chunk 7 skipped
    assert result["ops"] == {"add": 2, "noop": 5} and result["invalid"] == 1
    assert result["terms"]["format"] < 0 and agent.turns == 7
    assert agent.demo == demonstration(TEXT_ID, dict(env.unwrapped.spec.kwargs), 3)
    assert agent.messages[0]["role"] == "system" and agent.keep == 2


def test_trl_config_errors_name_the_key(tmp_path: Path) -> None:
    from memgym.training import ConfigError, load_config
    from memgym.training.trl import validate

    cfg = Path(__file__).resolve().parents[1] / "configs" / "grpo_tiny_kv.yaml"
    for override, message in [
        ("trl.num_generation=4", "trl.num_generation: unknown key (did you mean 'num_generations'?)"),
        ("trl.lora={rr: 2}", "trl.lora.rr: unknown key (did you mean 'r'?)"),
        ("trl.num_generations=1", "trl.num_generations: Input should be greater than or equal to 2"),
        ("trl.model=nowhere", "trl.model: 'nowhere' is not"),
        ("trl.per_device_train_batch_size=3", "must be a multiple of trl.num_generations"),
        ("trl.grpo={seed: 1}", "trl.grpo.seed: set by memgym; use seed"),
        ("trl.grpo={max_step: 1}",
         "trl.grpo.max_step: not a GRPOConfig argument (did you mean 'max_steps'?)"),
        ("env.kwargs={reader: oracle}", "env.kwargs: unknown reader 'oracle'"),
        ("algo.hyperparams={learning_rate: 0.1}",
         "algo.hyperparams.learning_rate: not read by the trl backend"),
    ]:
        with pytest.raises(ConfigError) as info:
            validate(load_config(cfg, [override, f"output_dir={tmp_path}"]))
        assert message in str(info.value), str(info.value)


# -- models (tiny random model, SmolLM2's tokenizer cached in a tmp folder) ------------------
@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("memgym_cache")


@pytest.fixture
def cache(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("trl")  # the trl extra: torch, transformers, trl, peft, datasets, gguf
    import torch

    monkeypatch.setenv("MEMGYM_CACHE", str(model_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    return model_cache


def test_tiny_model_loads_offline_and_is_reproducible(cache: Path) -> None:
    import torch

    from memgym.llm.models import load_model

    model, tokenizer = load_model("tiny")
    again, _ = load_model("tiny")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert (cache / "models" / "smollm2-tokenizer" / "tokenizer_config.json").is_file()
    assert model.config.num_hidden_layers == 2 and len(tokenizer) == model.config.vocab_size
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    assert "<tool_call>" in tokenizer.chat_template and tokenizer.padding_side == "left"
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}],
                                        add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    out = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 3


def test_forced_tool_call_template_renders_and_parses(cache: Path) -> None:
    from trl.chat_template_utils import is_chat_template_prefix_preserving, parse_response

    from memgym.llm.models import TOOL_CALL_PREFILL, load_tokenizer, tokenizer_path

    plain = load_tokenizer(tokenizer_path())
    forced = load_tokenizer(tokenizer_path(), force_tool_calls=True)
    demo = demonstration(TEXT_ID, {"ops_per_chunk": 1}, turns=2)
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    a = plain.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                  demonstration=demo)
    b = forced.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                   demonstration=demo)
    assert b == a + TOOL_CALL_PREFILL
    assert a.index("S<|im_end|>") < a.index("Example stream.") < a.index("<|im_start|>user\nU")
    assert "Example stream." not in plain.apply_chat_template(messages, tokenize=False)
    assert is_chat_template_prefix_preserving(forced)
    prompt = forced(b, add_special_tokens=False)["input_ids"]
    reply = forced('update_memory", "arguments": {"id": 0}}\n</tool_call><|im_end|>',
                   add_special_tokens=False)["input_ids"]
    parsed = parse_response(forced, reply, prefix=prompt)
    assert parsed["tool_calls"][0]["function"] == {"name": "update_memory", "arguments": {"id": 0}}


def test_llm_answerer_returns_strings(cache: Path) -> None:
    from memgym.rewards.reader import ReaderAnswer, make_reader

    reader = make_reader("llm", model="tiny", max_new_tokens=4)
    answers = reader.answer_all(["What is Ann's city?", "Who?"],
                                ["Ann's city is Oslo.", "Bo likes tea."], [1])
    assert len(answers) == 2 and all(isinstance(a, ReaderAnswer) for a in answers)
    assert all(isinstance(a.text, str) and a.text for a in answers)
    assert answers[0].used == (0, 1) and reader.answer_all([], []) == []
    top1 = make_reader("llm", model="tiny", max_new_tokens=2, top_k=1)
    prompt, used = top1.prompts(["What is Ann's city?"], ["Ann's city is Oslo.", "Bo likes tea."])[0]
    assert used == (0,) and "Oslo" in prompt and "tea" not in prompt
    import gymnasium as gym

    env = gym.make(TEXT_ID, reader="llm", reader_params={"model": "tiny", "max_new_tokens": 3})
    env.reset(seed=0, options=SHORT)
    done = False
    while not done:
        _, _, done, _, info = env.step('{"name": "add_memory"}')
    assert 0.0 <= info["qa_score"] <= 1.0


def test_llm_tiny_evaluation_writes_a_report(cache: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from memgym.cli import app

    result = CliRunner().invoke(app, [
        "eval", "--agent", "llm:tiny", "--env", TEXT_ID, "--episodes", "1", "--length", "8",
        "--option", "n_keys=2", "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    summary = report["agents"]["llm:tiny"]
    assert 0.0 <= summary["qa_score"] <= 1.0 and summary["steps_per_episode"] >= 8
    assert report["env_id"] == TEXT_ID


def test_two_grpo_steps_with_the_tiny_model_write_a_run_folder(cache: Path, tmp_path: Path) -> None:
    from memgym.agents.evaluate import evaluate_agents
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    cfg = Path(__file__).resolve().parents[1] / "configs" / "grpo_tiny_kv.yaml"
    config = load_config(cfg, [f"output_dir={tmp_path / 'runs'}", "total_timesteps=2",
                               "eval.episodes=1", "progress=false", "trl.episodes=2",
                               "trl.max_completion_length=48", "eval.baselines=[fifo]",
                               "trl.log_completions=true"])
    report = train_from_config(config)
    run = RunFolder.for_config(config)
    assert set(report["agents"]) == {"grpo-tiny-kv", "fifo"}
    assert report["baseline_env_id"] == "memgym/KVUpdates-Easy-v0"
    assert run.config.is_file() and run.latest_checkpoint()[1] == 2
    assert (run.path / "final" / "config.json").is_file()
    assert json.loads((run.path / "final" / "memgym_model.json").read_text()) == {"spec": "tiny"}
    for name in ("report.json", "report.md", "report.png", "learning_curve.png"):
        assert (run.eval / name).is_file(), name
    summary = json.loads(run.summary.read_text())
    assert summary["training"]["steps"] == 2 and set(summary["scores"]) == {"grpo-tiny-kv", "fifo"}
    logs = [json.loads(line) for line in (run.path / "train_log.jsonl").read_text().splitlines()]
    assert any("memgym/qa" in entry for entry in logs)
    assert list(run.tensorboard.rglob("events.out.tfevents.*"))
    lines = (run.path / "completions.jsonl").read_text().splitlines()
    rollouts = [json.loads(line) for line in lines]
    # two GRPO groups of two completions; each group played one episode
    assert len(rollouts) == 4
    for group in (rollouts[:2], rollouts[2:]):
        assert len({r["episode_seed"] for r in group}) == 1
    keys = {"qa", "tool_success", "compression", "format", "completion"}
    assert all(keys <= set(r) for r in rollouts)
    from memgym.loading import load_agent

    again = evaluate_agents([str(run.path)], TEXT_ID, split="heldout", episodes=1, seed=0,
                            options=SHORT, env_kwargs=config.eval_kwargs, load=load_agent)
    name = "grpo-tiny-kv"
    assert again["agents"][name]["qa_score"] == report["agents"][name]["qa_score"]


# -- SmolLM2 (slow) -----------------------------------------------------------------------
@pytest.mark.slow
def test_smollm2_converts_once_then_loads_from_the_cache(cache: Path) -> None:
    import time

    from memgym.llm.models import load_model

    start = time.perf_counter()
    model, tokenizer = load_model("smollm2")
    first = time.perf_counter() - start
    folder = cache / "models" / "smollm2-135m-instruct"
    assert (folder / "model.safetensors").is_file()
    start = time.perf_counter()
    again, _ = load_model("smollm2")
    assert time.perf_counter() - start < first
    assert model.config.num_hidden_layers == 30
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    out = again.generate(**ids, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, ids["input_ids"].shape[1]:])


@pytest.mark.slow
def test_one_grpo_step_with_smollm2(cache: Path, tmp_path: Path) -> None:
    from memgym.training import load_config, train_from_config

    cfg = Path(__file__).resolve().parents[1] / "configs" / "grpo_smollm2_kv.yaml"
    config = load_config(cfg, [f"output_dir={tmp_path / 'runs'}", "total_timesteps=1",
                               "eval.episodes=1", "eval.freq=1000", "progress=false",
                               "trl.episodes=1", "trl.num_generations=2",
                               "trl.gradient_accumulation_steps=2",
                               "trl.max_completion_length=256", "eval.baselines=[fifo]",
                               "trl.log_completions=true",
                               "trl.sft=null"])  # GRPO alone (the warm start: test_llm_sft)
    report = train_from_config(config)
    assert 0.0 <= report["agents"]["grpo-smollm2-kv"]["qa_score"] <= 1.0
    run = tmp_path / "runs" / "grpo-smollm2-kv"
    assert (run / "final" / "adapter_config.json").is_file()  # LoRA: an adapter + its base
    assert json.loads((run / "final" / "memgym_model.json").read_text()) == {"base": "smollm2"}
    rollouts = [json.loads(line) for line in (run / "completions.jsonl").read_text().splitlines()]
    # with the forced call opening and the demonstration, SmolLM2 does call tools
    assert any(m.get("tool_calls") for r in rollouts for m in r["completion"])


def test_sampling_agent_draws_differ_and_repeat_with_the_seeds(cache: Path) -> None:
    import gymnasium as gym

    from memgym.agents.evaluate import run_episode
    from memgym.llm.agent import LLMAgent
    from memgym.llm.models import load_model

    model, tokenizer = load_model("tiny")
    env = gym.make(TEXT_ID, ops_per_chunk=1)

    class Recording(LLMAgent):  # what the model wrote, turn by turn
        def generate(self) -> str:
            text = super().generate()
            self.outputs.append(text)
            return text

    def texts(agent: Recording) -> list[str]:
        agent.outputs = []
        run_episode(env, agent, split="train", episode_seed=5, options=SHORT)
        return agent.outputs

    def draws(temperature: float) -> list[list[str]]:
        agent = Recording(model, tokenizer, max_new_tokens=12, temperature=temperature)
        return [texts(agent), texts(agent)]  # two episodes of one stream

    first, second = draws(1.0)
    assert first != second  # a group's rollouts are different samples
    assert draws(1.0) == [first, second]  # and the run is reproducible
    greedy = draws(0.0)
    assert greedy[0] == greedy[1]
    with pytest.raises(ValueError, match="temperature"):
        LLMAgent(model, tokenizer, temperature=-1.0)
