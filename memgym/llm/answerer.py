"""An LLM answerer: questions answered by a local language model reading the memory.

:class:`LLMReader` implements the :class:`memgym.rewards.reader.Reader` protocol and is
registered as ``reader="llm"``, so any environment can use it::

    gym.make("memgym/KVUpdates-Easy-Text-v0", reader="llm",
             reader_params={"model": "smollm2", "max_new_tokens": 12})

The model sees the memory entries (all of them, or with ``top_k`` the always-shown ones plus
the ``top_k`` ranked highest by BM25 for the question) as a bullet list and answers with a
few words, greedily decoded. Answers have mode ``"extract"``, so the environment's ``metric``
(``em`` / ``f1`` / ``contains``) scores them as they are. An empty answer counts as an
abstention (``"unknown"``). The model is loaded once per process and never trained: "the same
model as the policy" means the same weights spec (e.g. ``smollm2``), not the weights being
trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from memgym.rewards.reader import ABSTAIN_TEXT, BM25Reader, ReaderAnswer

ANSWER_PROMPT = (
    "Answer the question using only the notes. Reply with the answer only, in a few words. "
    "If the notes do not say, reply unknown.\n\nNotes:\n{notes}\n\nQuestion: {question}"
)


class LLMReader:
    """Answer questions from memory with a local causal LM (greedy, short answers).

    Args:
        model: Model spec for :func:`memgym.llm.models.load_model` (``"smollm2"``, ``"tiny"``
            or a local path).
        max_new_tokens: Answer length cap in tokens.
        top_k: ``None`` reads every entry; a number reads the always-shown entries plus the
            ``top_k`` BM25-ranked ones.
        batch_size: Questions answered per forward batch.
    """

    def __init__(self, model: str = "smollm2", max_new_tokens: int = 16,
                 top_k: int | None = None, batch_size: int = 8) -> None:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
        self.model_spec = str(model)
        self.max_new_tokens = max_new_tokens
        self.top_k = top_k
        self.batch_size = max(1, batch_size)
        self._ranker = BM25Reader(top_k=top_k) if top_k is not None else None

    def _selected(self, questions: Sequence[str], entries: list[str],
                  always_shown: Sequence[int]) -> list[list[int]]:
        if self._ranker is None or not entries:
            return [list(range(len(entries))) for _ in questions]
        rankings = self._ranker.rank(list(questions), entries)
        shown = sorted(set(always_shown))
        return [r[: self.top_k] + [i for i in shown if i not in r[: self.top_k]]
                for r in rankings]

    def prompts(self, questions: Sequence[str], entries: Sequence[str],
                always_shown: Sequence[int] = ()) -> list[tuple[str, tuple[int, ...]]]:
        """The user message for each question and the entries it shows."""
        entries = list(entries)
        out = []
        for question, chosen in zip(questions, self._selected(questions, entries, always_shown)):
            notes = "\n".join(f"- {entries[i]}" for i in chosen) or "(no notes)"
            out.append((ANSWER_PROMPT.format(notes=notes, question=question), tuple(sorted(chosen))))
        return out

    def answer_all(self, questions: Sequence[str], entries: Sequence[str],
                   always_shown: Sequence[int] = ()) -> list[ReaderAnswer]:
        entries = list(entries)
        bad = [i for i in always_shown if not 0 <= i < len(entries)]
        if bad:
            raise ValueError(f"always_shown indices {bad} out of range for {len(entries)} entries")
        if not questions:
            return []
        prompts = self.prompts(questions, entries, always_shown)
        texts: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            texts += self._generate([p for p, _ in prompts[start:start + self.batch_size]])
        answers = []
        for text, (_, used) in zip(texts, prompts):
            text = clean_answer(text)
            if not text:
                answers.append(ReaderAnswer(ABSTAIN_TEXT, "abstain", used))
            else:
                answers.append(ReaderAnswer(text, "extract", used))
        return answers

    def _generate(self, prompts: list[str]) -> list[str]:
        import torch

        from memgym.llm.models import shared_model

        model, tokenizer = shared_model(self.model_spec)
        texts = [tokenizer.apply_chat_template(
            [{"role": "system", "content": "You answer questions from notes."},
             {"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=self.max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=tokenizer.eos_token_id)
        new = out[:, batch["input_ids"].shape[1]:]
        return tokenizer.batch_decode(new, skip_special_tokens=True)


def clean_answer(text: str) -> str:
    """The first non-empty line, without a leading ``Answer:`` and surrounding quotes."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line.lower().startswith("answer:"):
            line = line[7:].strip()
        line = line.strip("\"'` ")
        if line:
            return line[:200]
    return ""

