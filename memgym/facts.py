"""Reading facts out of visible text: tokens, a rule-based fact extractor, question parsing.

Everything here is a function of text an agent can see: observation features and the default
reader use it, never a generator's hidden labels. Built-in tasks write facts in the shapes
below, so the extractor parses them on every split; real data mostly yields no fact, and the
token-overlap features and BM25 carry it.

Fact shapes (any prefix before them is allowed, e.g. ``"Update: "``, ``"[date] Ann: "``)::

    <Subject>'s <attribute> <verb> <value>.      Ann Lee's city is now Oslo.
    The <attribute> of <Subject> <verb> <value>. The city of Ann Lee is Oslo.
    My <attribute> <verb> <value>.               (speaker Ann Lee) My city is Oslo.

where ``<verb>`` is one of :data:`RELATION_VERBS`. Questions name a possessive chain:
``What is Ann Lee's manager's city?`` -> subject ``Ann Lee``, attributes ``[manager, city]``.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

RELATION_VERBS: tuple[str, ...] = (
    "has been updated to", "was updated to", "has changed to", "changed to", "has become",
    "became", "is now", "now is", "is still", "is", "are", "was", "were",
)
STOPWORDS: frozenset[str] = frozenset(
    "a an the is are was were be been to of in on at for and or but with by as it its this that "
    "these those i you he she we they my your his her our their me him us them what which who "
    "whom when where why how do does did has have had not no so if then than there here now "
    "still from about into s".split()
)
#: A generic lexicon of epistemic hedges (uncertainty, hearsay). Unreliable statements tend to
#: use them in any corpus, so "is this text hedged" is a fair text feature and heuristic cue.
HEDGE_WORDS: frozenset[str] = frozenset(
    "rumour rumor rumours rumors rumoured allegedly alleged reportedly unconfirmed unverified "
    "maybe perhaps possibly probably guess guessed guessing might think thinks heard hearsay "
    "overheard apparently supposedly seemingly doubt doubtful gossip claimed claims claim "
    "speculation speculate unsure whisper whispered whispers".split()
)
_TOKEN = re.compile(r"[a-z0-9]+")
_NAME = r"[A-Z][\w\-]*(?: [A-Z][\w\-]*)*"
_ATTR = r"[a-z][a-z\-]*(?: [a-z][a-z\-]*){0,3}?"
_VERBS = "|".join(re.escape(v) for v in RELATION_VERBS)
_VALUE = r"[^.,;!?]+"
_POSSESSIVE = re.compile(
    rf"(?P<subject>{_NAME})'s (?P<attr>{_ATTR}) (?:{_VERBS}) (?P<value>{_VALUE})"
)
# In "the <attr> of", the attribute never contains "the", so in "someone in the lobby claimed
# the city of Ann" the match starts at the last "the" (attribute "city").
_ATTR_NO_THE = r"(?!the\b)[a-z][a-z\-]*(?: (?!the\b)[a-z][a-z\-]*){0,3}?"
_OF_FORM = re.compile(
    rf"\b[Tt]he (?P<attr>{_ATTR_NO_THE}) of (?P<subject>{_NAME}) (?:{_VERBS}) (?P<value>{_VALUE})"
)
_FIRST_PERSON = re.compile(rf"\b[Mm]y (?P<attr>{_ATTR}) (?:{_VERBS}) (?P<value>{_VALUE})")
_SPEAKER_PREFIX = re.compile(r"^(?:\[[^\]]*\] )?(?P<speaker>[A-Z][\w\-]*(?: [A-Z][\w\-]*)*): ")
_QUESTION_CHAIN = re.compile(
    rf"(?P<subject>{_NAME})'s (?P<chain>{_ATTR}(?:'s {_ATTR})*)(?=\s*(?:[?.!]|$| -| —))"
)
_OF_QUESTION = re.compile(rf"\b[Tt]he (?P<attr>{_ATTR}) of (?P<subject>{_NAME})\s*[?.!]?$")
# Lower-case subjects (``bob's city is oslo``, ``what is bob's city?``): tried only when the
# shapes above find nothing, so text that parses today parses the same. One word, and not a
# pronoun or article, so "the manager's" or "my sister's" never becomes a subject.
_DETERMINERS = frozenset("the a an my your his her our their its this that".split())
_LOWER_NAME = r"(?!(?:the|a|an|my|your|his|her|our|their|its|this|that)\b)[a-z][\w\-]*"
_LOWER_POSSESSIVE = re.compile(
    rf"(?<![\w'])(?P<subject>{_LOWER_NAME})'s (?P<attr>{_ATTR}) (?:{_VERBS}) (?P<value>{_VALUE})")
_LOWER_CHAIN = re.compile(
    rf"(?<![\w'])(?P<subject>{_LOWER_NAME})'s (?P<chain>{_ATTR}(?:'s {_ATTR})*)"
    rf"(?=\s*(?:[?.!]|$| -| —))")
# ISO dates, "2023/05/20" (LongMemEval) and "8 May 2023" / "8 May, 2023" (LoCoMo).
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}/\d{2}/\d{2}|\d{1,2} [A-Z][a-z]+,? \d{4}")


@dataclass(frozen=True)
class Fact:
    subject: str
    attribute: str
    value: str

    @property
    def key(self) -> str:
        return f"{normalize(self.subject)}|{self.attribute}"


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lower-case, strip punctuation and articles, squeeze spaces (SQuAD-style)."""
    tokens = _TOKEN.findall(text.lower())
    return " ".join(t for t in tokens if t not in ("a", "an", "the"))


@lru_cache(maxsize=65536)
def tokenize(text: str) -> tuple[str, ...]:
    """Lower-case alphanumeric tokens (stopwords kept)."""
    return tuple(_TOKEN.findall(text.lower()))


@lru_cache(maxsize=65536)
def content_tokens(text: str) -> frozenset[str]:
    """Token set without stopwords: the basis of overlap features."""
    return frozenset(t for t in tokenize(text) if t not in STOPWORDS)


@lru_cache(maxsize=65536)
def bow_buckets(text: str, dim: int) -> tuple[int, ...]:
    """Buckets of the content tokens of ``text`` hashed into ``dim`` (crc32: stable across
    processes, unlike ``hash``)."""
    return tuple(sorted({zlib.crc32(tok.encode()) % dim for tok in content_tokens(text)}))


def hashed_bow(text: str, dim: int) -> np.ndarray:
    """A binary bag of words hashed into ``dim`` buckets."""
    vec = np.zeros(dim, dtype=np.float32)
    vec[list(bow_buckets(text, dim))] = 1.0
    return vec


@lru_cache(maxsize=65536)
def is_hedged(text: str) -> bool:
    """Whether ``text`` uses a hedge word (or "not sure"): a cue of unreliable content."""
    tokens = tokenize(text)
    return not HEDGE_WORDS.isdisjoint(tokens) or "not sure" in " ".join(tokens)


@lru_cache(maxsize=65536)
def extract_fact(text: str) -> Fact | None:
    """Parse the first fact of ``text`` (see the module docstring), or ``None``."""
    match = _POSSESSIVE.search(text) or _OF_FORM.search(text)
    if match:
        return Fact(match["subject"], match["attr"].strip(), match["value"].strip())
    speaker = _SPEAKER_PREFIX.match(text)
    if speaker:
        first = _FIRST_PERSON.search(text, speaker.end())
        if first:
            return Fact(speaker["speaker"], first["attr"].strip(), first["value"].strip())
    match = _LOWER_POSSESSIVE.search(text)
    if match and not _after_determiner(text, match.start()):
        return Fact(match["subject"], match["attr"].strip(), match["value"].strip())
    return None


def _after_determiner(text: str, start: int) -> bool:
    """Whether the word before ``start`` is an article or possessive ("the manager's")."""
    before = text[:start].split()
    return bool(before) and before[-1].lower() in _DETERMINERS


@lru_cache(maxsize=16384)
def parse_question(text: str, lowercase: bool = True) -> tuple[str, tuple[str, ...]] | None:
    """``"What is Ann's manager's city?"`` -> ``("Ann", ("manager", "city"))``, or ``None``.
    ``lowercase``: also read lower-case subjects (``"what is bob's city?"``)."""
    match = _QUESTION_CHAIN.search(text)
    if match:
        attrs = tuple(a.strip() for a in match["chain"].split("'s "))
        return match["subject"], attrs
    match = _OF_QUESTION.search(text)
    if match:
        return match["subject"], (match["attr"].strip(),)
    match = _LOWER_CHAIN.search(text) if lowercase else None
    if match and not _after_determiner(text, match.start()):
        return match["subject"], tuple(a.strip() for a in match["chain"].split("'s "))
    return None


_YES_NO = re.compile(r"\s*(?:is|are|was|were|am|did|does|do|has|have|had|can|could|will|"
                     r"would|should|shall|may|might|must)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|no|nothing|nobody|none|neither|nor|cannot|"
                       r"no longer)\b|n't\b", re.IGNORECASE)


def is_yes_no(question: str) -> bool:
    """A question answered yes / no: it starts with an auxiliary verb and is not a
    possessive question in the parser's shapes (``"Do we know Ann's job?"`` asks the job)."""
    return bool(_YES_NO.match(question)) and parse_question(question, lowercase=False) is None


def is_negated(text: str) -> bool:
    return bool(_NEGATION.search(text))


def stem(token: str) -> str:
    """A crude suffix strip (moved / moving / moves -> mov): enough to match a question's
    verb with the entry's tense; written out, as no stemmer is among the dependencies."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(token) > len(suffix) + 2 and token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def content_stems(text: str) -> frozenset[str]:
    return frozenset(stem(t) for t in content_tokens(text))


def find_date(text: str) -> str | None:
    """The first date in ``text`` (``2024-05-01``, ``2024/05/01``, ``1 May 2024``,
    ``1 May, 2024``), or ``None``."""
    match = _DATE.search(text)
    return match.group(0) if match else None


def fact_key(subject: str, attribute: str) -> str:
    return f"{normalize(subject)}|{attribute}"
