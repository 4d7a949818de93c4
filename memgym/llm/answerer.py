"""An LLM answerer: the top-k retrieved memory entries -> a short answer from a language model.

:class:`LLMReader` implements the :class:`memgym.rewards.reader.Reader` protocol and is
registered as ``reader="llm"`` (and ``reader="llm_endpoint"``, the same with
``backend="openai"``), so any environment can use it::

    gym.make("memgym/KVUpdates-Easy-Text-v0", reader="llm",
             reader_params={"model": "smollm2", "max_new_tokens": 12})
    gym.make(..., reader="llm_endpoint", reader_params={
        "base_url": "http://127.0.0.1:8000/v1", "model": "Qwen/Qwen2.5-1.5B-Instruct",
        "top_k": 5, "cache_path": "runs/answers.jsonl"})

From the CLI: ``memgym eval --env-arg reader=llm_endpoint --env-arg
'reader_params={base_url: ..., model: ..., top_k: 5}'``; in a training config the same two
keys under ``env.kwargs``.

Semantics:

- Retrieval: every entry (``top_k=None``), or the always-shown ones plus the ``top_k`` ranked
  highest for the question by ``retriever="bm25"`` (BM25, entries with score 0 left out) or
  ``"embedding"`` (all-MiniLM-L6-v2). The model sees them as a bullet list, ranked ones
  first; :attr:`ReaderAnswer.used` lists exactly those entries.
- Backends: ``"transformers"`` (a local model, :func:`memgym.llm.models.shared_model`, loaded
  once per process and never trained: "the same model as the policy" means the same weights
  spec, not the weights being trained; greedy, ``batch_size`` prompts per forward pass) or
  ``"openai"`` (any OpenAI-compatible server, :class:`memgym.llm.endpoint.OpenAIEndpoint`:
  ``max_workers`` concurrent requests, temperature 0).
- Answers have mode ``"extract"``, so the environment's ``metric`` (``em`` / ``f1`` /
  ``contains`` / ``locomo_f1``) scores them as they are; an empty answer is an abstention
  (``"unknown"``).
- Cache: answers are keyed by (backend, model, prompt version, ``max_new_tokens``, question,
  the shown entry texts in order), not by the server URL, so a restarted server on another
  port still hits. In-process always; with ``cache_path`` also appended to a JSON-lines file
  the moment each answer arrives (:mod:`memgym.llm.answer_cache`), so an evaluation that
  died resumes and requests only what is missing. Identical prompts in a batch are asked once.
- Judge: :meth:`LLMReader.judge` / :func:`judge_answers` ask the same model whether an
  answer is correct given the gold answer(s): 1.0 or 0.0 (:func:`parse_judgement`), cached
  the same way. :meth:`LLMReader.evaluate` returns :class:`AnswerRecord` rows with the
  metric score and, when judging is on, the judge's score.
- Failures of the endpoint raise :class:`memgym.llm.endpoint.AnswererError` (base URL,
  model, what failed); answers obtained before it stay cached.

Bump :data:`ANSWER_PROMPT_VERSION` / :data:`JUDGE_PROMPT_VERSION` whenever the prompt text
changes, so old cache files are not read as answers to the new prompt.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from memgym.llm.answer_cache import AnswerCache, cache_key
from memgym.llm.endpoint import AnswererError, Messages, OpenAIEndpoint
from memgym.rewards.metrics import score_answer
from memgym.rewards.reader import ABSTAIN_TEXT, ReaderAnswer, make_reader

ANSWER_PROMPT = (
    "Answer the question using only the notes. Reply with the answer only, in a few words. "
    "If the notes do not say, reply unknown.\n\nNotes:\n{notes}\n\nQuestion: {question}"
)
ANSWER_PROMPT_VERSION = "answer-v1"
ANSWER_SYSTEM = "You answer questions from notes."
JUDGE_PROMPT = (
    "Grade the generated answer to the question against the gold answer. It is correct if it "
    "gives the same answer as the gold one (wording and extra detail do not matter); it is "
    "wrong if it gives a different answer or none.\n\nQuestion: {question}\n"
    "Gold answer: {gold}\nGenerated answer: {prediction}\n\n"
    "Reply with one word: CORRECT or WRONG."
)
JUDGE_PROMPT_VERSION = "judge-v1"
JUDGE_SYSTEM = "You grade answers."
JUDGE_MAX_TOKENS = 8
BACKENDS = ("transformers", "openai")
RETRIEVERS = ("bm25", "embedding")

__all__ = ["AnswerRecord", "AnswererError", "LLMReader", "clean_answer", "endpoint_reader",
           "judge_answers", "parse_judgement"]


class Backend(Protocol):
    def complete_all(self, chats: Sequence[Messages], max_tokens: int = 32,
                     on_result: Callable[[int, str], None] | None = None) -> list[str]: ...


class TransformersBackend:
    """Greedy generation with a local model, ``batch_size`` chats per forward pass."""

    def __init__(self, model_spec: str, batch_size: int = 8) -> None:
        self.model_spec, self.batch_size = model_spec, max(1, batch_size)

    def complete_all(self, chats: Sequence[Messages], max_tokens: int = 32,
                     on_result: Callable[[int, str], None] | None = None) -> list[str]:
        out: list[str] = []
        for start in range(0, len(chats), self.batch_size):
            texts = self._generate(list(chats[start:start + self.batch_size]), max_tokens)
            for offset, text in enumerate(texts):
                if on_result is not None:
                    on_result(start + offset, text)
            out += texts
        return out

    def _generate(self, chats: list[Messages], max_tokens: int) -> list[str]:
        import torch

        from memgym.llm.models import shared_model

        model, tokenizer = shared_model(self.model_spec)
        texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                 for c in chats]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=max_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
        new = out[:, batch["input_ids"].shape[1]:]
        return tokenizer.batch_decode(new, skip_special_tokens=True)


@dataclass(frozen=True)
class AnswerRecord:
    """One evaluated question: the answer, what it read, its score and the judge's."""

    question: str
    answer: str
    mode: str  #: the ReaderAnswer mode (``"extract"`` | ``"abstain"``)
    used: tuple[int, ...]  #: entries shown to the model (evidence recall reads these)
    gold: tuple[str, ...]
    score: float  #: the metric's score (``metric`` of :meth:`LLMReader.evaluate`)
    judge: float | None = None  #: 1.0 / 0.0 from the LLM judge; None when not judged


class LLMReader:
    """Answer questions from memory with an LLM reading the top-k retrieved entries.

    Args:
        model: ``transformers``: a spec for :func:`memgym.llm.models.load_model`
            (``"smollm2"``, ``"tiny"`` or a local path; default ``"smollm2"``). ``openai``:
            the served model name (required).
        max_new_tokens: Answer length cap in tokens.
        top_k: ``None`` reads every entry; a number reads the always-shown entries plus the
            ``top_k`` ranked highest by ``retriever``.
        batch_size: Prompts per forward pass (``transformers``).
        backend: ``"transformers"`` or ``"openai"``.
        retriever: ``"bm25"`` or ``"embedding"`` (used when ``top_k`` is set).
        base_url, api_key_env, timeout, max_retries, max_workers, retry_backoff: the
            endpoint's (``openai`` only), see :class:`memgym.llm.endpoint.OpenAIEndpoint`.
        cache_path: A JSON-lines file to keep answers in across runs (None: in-process only).
        judge: Whether :meth:`evaluate` asks the LLM judge by default.
    """

    def __init__(self, model: str | None = None, max_new_tokens: int = 16,
                 top_k: int | None = None, batch_size: int = 8, backend: str = "transformers",
                 retriever: str = "bm25", base_url: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", timeout: float = 30.0,
                 max_retries: int = 2, max_workers: int = 4, retry_backoff: float = 0.5,
                 cache_path: str | None = None, judge: bool = False) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        if retriever not in RETRIEVERS:
            raise ValueError(f"unknown retriever {retriever!r}; expected one of "
                             f"{', '.join(RETRIEVERS)}")
        self.backend_name, self.retriever, self.top_k = backend, retriever, top_k
        self.max_new_tokens = max_new_tokens
        self.batch_size = max(1, batch_size)
        self.use_judge = bool(judge)
        self.backend: Backend
        if backend == "openai":
            if not model or not base_url:
                raise ValueError("backend='openai' needs base_url and model (the served name)")
            self.model_spec = str(model)
            self.backend = OpenAIEndpoint(base_url, self.model_spec, api_key_env, timeout,
                                          max_retries, max_workers, retry_backoff)
        else:
            if base_url is not None:
                raise ValueError("base_url is for backend='openai'; the transformers backend "
                                 "runs the model in this process")
            self.model_spec = str(model or "smollm2")
            self.backend = TransformersBackend(self.model_spec, self.batch_size)
        self.cache = AnswerCache(cache_path)
        self.generated = 0  #: answers and judgements requested from the backend
        self.cached = 0  #: answers and judgements served from the cache
        self._count_lock = threading.Lock()
        self._ranker = make_reader(retriever, top_k=top_k) if top_k is not None else None

    def _selected(self, questions: Sequence[str], entries: list[str],
                  always_shown: Sequence[int]) -> list[list[int]]:
        if self._ranker is None or not entries:
            return [list(range(len(entries))) for _ in questions]
        rankings = self._ranker.rank(list(questions), entries)
        shown = sorted(set(always_shown))
        return [r[: self.top_k] + [i for i in shown if i not in r[: self.top_k]]
                for r in rankings]

    def _shown(self, questions: Sequence[str], entries: list[str],
               always_shown: Sequence[int]) -> list[tuple[str, list[str], tuple[int, ...]]]:
        """(prompt, shown texts in order, used indices sorted) per question."""
        out = []
        for question, chosen in zip(questions, self._selected(questions, entries, always_shown)):
            texts = [entries[i] for i in chosen]
            notes = "\n".join(f"- {t}" for t in texts) or "(no notes)"
            out.append((ANSWER_PROMPT.format(notes=notes, question=question), texts,
                        tuple(sorted(chosen))))
        return out

    def prompts(self, questions: Sequence[str], entries: Sequence[str],
                always_shown: Sequence[int] = ()) -> list[tuple[str, tuple[int, ...]]]:
        """The user message for each question and the entries it shows."""
        return [(p, used) for p, _, used in self._shown(questions, list(entries), always_shown)]

    def _complete(self, keys: list[str], chats: list[Messages], max_tokens: int,
                  meta: list[dict[str, Any]]) -> list[str]:
        """Raw replies for ``keys``: cached ones read, missing ones requested once each."""
        todo: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key not in self.cache and key not in todo:
                todo[key] = i
        self.cached += len(keys) - len(todo)
        order = list(todo.items())

        def store(j: int, text: str) -> None:
            key, i = order[j]
            self.cache.put(key, text, **meta[i])
            with self._count_lock:
                self.generated += 1

        if order:
            self.backend.complete_all([chats[i] for _, i in order], max_tokens, store)
        return [self.cache.get(k) or "" for k in keys]

    def answer_all(self, questions: Sequence[str], entries: Sequence[str],
                   always_shown: Sequence[int] = ()) -> list[ReaderAnswer]:
        entries = list(entries)
        bad = [i for i in always_shown if not 0 <= i < len(entries)]
        if bad:
            raise ValueError(f"always_shown indices {bad} out of range for {len(entries)} entries")
        if not questions:
            return []
        shown = self._shown(questions, entries, always_shown)
        keys = [cache_key("answer", self.backend_name, self.model_spec, ANSWER_PROMPT_VERSION,
                          self.max_new_tokens, q, texts)
                for q, (_, texts, _) in zip(questions, shown)]
        chats = [[{"role": "system", "content": ANSWER_SYSTEM}, {"role": "user", "content": p}]
                 for p, _, _ in shown]
        meta = [{"kind": "answer", "model": self.model_spec, "question": q} for q in questions]
        answers = []
        for raw, (_, _, used) in zip(self._complete(keys, chats, self.max_new_tokens, meta), shown):
            text = clean_answer(raw)
            answers.append(ReaderAnswer(text, "extract", used) if text
                           else ReaderAnswer(ABSTAIN_TEXT, "abstain", used))
        return answers

    def judge(self, questions: Sequence[str], predictions: Sequence[str],
              golds: Sequence[Sequence[str]]) -> list[float]:
        """The LLM judge's 1.0 / 0.0 for each prediction given its gold answers (cached)."""
        if not len(questions) == len(predictions) == len(golds):
            raise ValueError("questions, predictions and golds must have the same length")
        golds = [[gold] if isinstance(gold, str) else list(gold) for gold in golds]
        keys = [cache_key("judge", self.backend_name, self.model_spec, JUDGE_PROMPT_VERSION,
                          q, g, p) for q, p, g in zip(questions, predictions, golds)]
        chats = [[{"role": "system", "content": JUDGE_SYSTEM},
                  {"role": "user", "content": JUDGE_PROMPT.format(
                      question=q, gold=" / ".join(g) or "(none)", prediction=p)}]
                 for q, p, g in zip(questions, predictions, golds)]
        meta = [{"kind": "judge", "model": self.model_spec, "question": q} for q in questions]
        return [parse_judgement(r) for r in self._complete(keys, chats, JUDGE_MAX_TOKENS, meta)]

    def evaluate(self, questions: Sequence[str], entries: Sequence[str],
                 golds: Sequence[Sequence[str]], always_shown: Sequence[int] = (),
                 metric: str = "locomo_f1", judge: bool | None = None) -> list[AnswerRecord]:
        """Answer, score with ``metric`` and (``judge``, default the reader's) judge."""
        golds = [(gold,) if isinstance(gold, str) else tuple(gold) for gold in golds]
        if len(golds) != len(questions):
            raise ValueError("questions and golds must have the same length")
        answers = self.answer_all(questions, entries, always_shown)
        judged: list[float | None] = [None] * len(answers)
        if self.use_judge if judge is None else judge:
            judged = list(self.judge(questions, [a.text for a in answers], golds))
        return [AnswerRecord(q, a.text, a.mode, a.used, g, score_answer(a, g, metric), j)
                for q, a, g, j in zip(questions, answers, golds, judged)]


def judge_answers(reader: LLMReader, questions: Sequence[str], predictions: Sequence[str],
                  golds: Sequence[Sequence[str]]) -> list[float]:
    """LLM-judge scores (1.0 correct / 0.0 wrong) of ``predictions``: :meth:`LLMReader.judge`.

    For benchmarks that produce answers some other way and want the same judge::

        reader = LLMReader(backend="openai", base_url=..., model=..., cache_path=...)
        scores = judge_answers(reader, questions, predictions, [["Oslo"], ...])
    """
    return reader.judge(questions, predictions, golds)


_VERDICT = re.compile(r"[a-z]+|\d+")
_LABEL = re.compile(r'"(?:label|verdict|grade|judgement|judgment)"\s*:\s*"?([a-z]+|\d)')
_YES = frozenset({"correct", "yes", "true", "right", "1"})
_NO = frozenset({"wrong", "incorrect", "no", "not", "false", "0"})


def parse_judgement(text: str) -> float:
    """1.0 / 0.0 from a judge reply: the first verdict word decides (``CORRECT``, ``yes``,
    ``{"label": "CORRECT"}`` -> 1; ``WRONG``, ``incorrect``, ``not correct`` -> 0). A reply
    with no verdict word counts as wrong (0.0): an unsure judge must not inflate scores.
    A JSON ``"label"`` (or ``"verdict"``) field wins over words before it (a reasoning field)."""
    text = text.lower()
    label = _LABEL.search(text)
    for token in ([label.group(1)] if label else []) + _VERDICT.findall(text):
        if token in _YES:
            return 1.0
        if token in _NO:
            return 0.0
    return 0.0


def endpoint_reader(base_url: str, model: str, **params: Any) -> LLMReader:
    """An :class:`LLMReader` over an OpenAI-compatible endpoint (``reader="llm_endpoint"``)."""
    return LLMReader(model=model, backend="openai", base_url=base_url, **params)


# A leading "Name:" label: notes are shown as "[time] Speaker: text" and small models copy the
# speaker label in front of their answer; it is formatting, not part of the answer.
_SPEAKER_LABEL = re.compile(r"^[A-Z][\w'-]{0,30}:\s+(?=\S)")


def clean_answer(text: str) -> str:
    """The first non-empty line, without a leading ``Answer:``, a copied speaker label
    (``"Deborah: yoga"`` -> ``"yoga"``) and surrounding quotes."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line.lower().startswith("answer:"):
            line = line[7:].strip()
        line = _SPEAKER_LABEL.sub("", line)
        line = line.strip("\"'` ")
        if line:
            return line[:200]
    return ""
