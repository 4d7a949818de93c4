"""Which chunk a memory entry written in the agent's own words is credited with.

The evidence ledger (evidence terms, shaping, the oracle's diagnostics) counts an entry as
holding chunk ``c`` when it was written from ``c``. For the structured interface that is
exact: an add stores the text in view. In the text / tool interface an LLM writes free text,
and crediting it with whatever chunk was in view would pay for writing anything at the right
moment (a reward-hacking hole for LLM managers). So free text is credited with the chunk in
view only if it carries that chunk's content:

- it contains the chunk's text (the rendered chunk or its bare text) verbatim, ignoring case,
  punctuation and spacing; or
- it holds at least :data:`MIN_TOKEN_RECALL` of the chunk's content tokens (a faithful
  paraphrase or summary keeps most of its names, numbers and nouns); or
- it contains a gold answer of a question for which that chunk is evidence (a note that keeps
  the fact the chunk was kept for).

Otherwise the entry carries no chunk (``source=None``): it can still answer questions through
the reader, but it earns no evidence credit.
"""

from __future__ import annotations

from memgym.episode import Episode
from memgym.facts import content_tokens, normalize

#: Share of the chunk's content tokens (stopwords removed) the agent's text must contain.
MIN_TOKEN_RECALL = 0.6


def carries(text: str, chunk_text: str, answers: tuple[str, ...] = ()) -> bool:
    """Whether ``text`` carries the content of ``chunk_text`` (see the module docstring)."""
    norm = f" {normalize(text)} "
    chunk = normalize(chunk_text)
    if chunk and f" {chunk} " in norm:
        return True
    wanted = content_tokens(chunk_text)
    if wanted and len(wanted & content_tokens(text)) >= MIN_TOKEN_RECALL * len(wanted):
        return True
    return any(a and f" {a} " in norm for a in (normalize(x) for x in answers))


def credited_source(text: str, view_text: str, source: int, episode: Episode) -> int | None:
    """``source`` if the agent's ``text`` carries chunk ``source`` (shown as ``view_text``),
    else ``None``."""
    chunk = episode.chunks[source]
    answers = tuple(a for q in episode.questions if source in q.evidence for a in q.answers)
    if carries(text, view_text, answers) or carries(text, chunk.text):
        return source
    return None
