"""QA metrics and the readers (BM25 default, MiniLM embedding backend)."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from memgym.rewards.metrics import METRICS, contains, exact_match, f1, score_answer
from memgym.rewards.reader import BM25Reader, Reader, ReaderAnswer, make_reader

# -- metrics -------------------------------------------------------------------------------


def test_exact_match_normalizes_case_punctuation_articles() -> None:
    assert exact_match("The Denver Broncos!", ["denver broncos"]) == 1.0
    assert exact_match("Denver", ["Denver Broncos", "Broncos"]) == 0.0
    assert exact_match("Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    assert exact_match("anything", []) == 0.0


def test_f1_is_squad_token_f1_max_over_answers() -> None:
    # precision 2/3, recall 1 -> 0.8
    assert f1("Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)
    golds = ["Carolina Panthers", "the Denver Broncos"]
    assert f1("Denver Broncos won", golds) == pytest.approx(0.8)
    assert f1("Oslo or Paris", ["Paris"]) == pytest.approx(0.5)
    assert f1("Lima", ["Oslo"]) == 0.0
    assert f1("", [""]) == 1.0  # SQuAD: empty vs empty
    assert f1("x", []) == 0.0


def test_contains_matches_whole_tokens_only() -> None:
    assert contains("Ann Lee's city is now Oslo.", ["oslo"]) == 1.0
    assert contains("Ann Lee's city is now Oslo.", ["Lee's city"]) == 1.0
    assert contains("She lives in Oslofjord.", ["Oslo"]) == 0.0
    assert contains("He moved to New York City", ["York New"]) == 0.0
    assert contains("something", ["the"]) == 0.0  # an empty normalized gold matches nothing


def test_score_answer_uses_contains_for_context_and_validates_metric() -> None:
    assert set(METRICS) == {"em", "f1", "contains", "locomo_f1"}
    ctx = ReaderAnswer("Ann Lee's city is Oslo.", "context", (0,))
    for metric in METRICS:
        assert score_answer(ctx, ["Oslo"], metric) == 1.0
    ext = ReaderAnswer("Oslo or Paris", "extract", (0, 1))
    assert score_answer(ext, ["Paris"], "em") == 0.0
    assert score_answer(ext, ["Paris"], "f1") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="contains, em, f1"):
        score_answer(ext, ["Paris"], "bleu")


# -- readers -------------------------------------------------------------------------------

UPDATE = "Update: Ann Lee's city has changed to Paris."
FACTS = [
    "Ann Lee's city is Oslo.",
    "Ann Lee's manager is Bob Stone.",
    "Bob Stone's city is now Lima.",
    "[2024-05-01] Cy Dee: I moved to Rome today.",
    "The weather was nice and sunny all week.",
    "Dan Roe's employer is Acme.",
]
QUESTIONS = [
    "What is Ann Lee's city?",
    "What is Ann Lee's manager's city?",
    "When did Cy Dee move to Rome?",
    "What is Zed Quinn's city?",
    "How was the weather?",
    "Who is the employer of Dan Roe?",
]


@pytest.fixture(scope="module", params=["bm25", "embedding"])
def reader(request: pytest.FixtureRequest) -> Reader:
    return make_reader(request.param)


def answer(reader: Reader, question: str, entries: list[str], **kw: object) -> ReaderAnswer:
    return reader.answer_all([question], entries, **kw)[0]


def test_single_hop_and_latest_value(reader: Reader) -> None:
    a = answer(reader, "What is Ann Lee's city?", FACTS)
    assert (a.text, a.mode) == ("Oslo", "extract")
    assert 0 in a.used
    fresh = [e for e in FACTS if "Oslo" not in e] + [UPDATE]
    assert answer(reader, "What is Ann Lee's city?", fresh).text == "Paris"


def test_stale_and_fresh_kept_is_ambiguous(reader: Reader) -> None:
    both = FACTS + [UPDATE]
    a = answer(reader, "What is Ann Lee's city?", both)
    assert (a.text, a.mode) == ("Oslo or Paris", "extract")
    assert score_answer(a, ["Paris"], "em") == 0.0
    assert 0 < score_answer(a, ["Paris"], "f1") < 1


def test_two_hop_chain(reader: Reader) -> None:
    a = answer(reader, "What is Ann Lee's manager's city?", FACTS)
    assert (a.text, a.mode) == ("Lima", "extract")
    assert {1, 2} <= set(a.used)


def test_ambiguous_intermediate_hop_follows_both_branches() -> None:
    entries = FACTS + ["Ann Lee's manager is now Eve Park.", "Eve Park's city is Rome."]
    a = answer(make_reader("bm25", top_k=4), "What is Ann Lee's manager's city?", entries)
    assert a.text == "Lima or Rome"


def test_abstains_on_empty_memory_and_unknown_subject(reader: Reader) -> None:
    assert reader.answer_all(QUESTIONS, []) == [ReaderAnswer("unknown", "abstain", ())] * 6
    a = answer(reader, "What is Zed Quinn's city?", FACTS)
    assert (a.text, a.mode) == ("unknown", "abstain")
    assert reader.answer_all([], FACTS) == []


def test_temporal_and_context_questions(reader: Reader) -> None:
    a = answer(reader, "When did Cy Dee move to Rome?", FACTS)
    assert (a.text, a.mode) == ("2024-05-01", "extract")
    a = answer(reader, "When did Ann Lee buy a boat?", [e for e in FACTS if "2024" not in e])
    assert (a.text, a.mode) == ("unknown", "abstain")
    a = answer(reader, "How was the weather?", FACTS)
    assert (a.text, a.mode) == (FACTS[4], "context")
    assert score_answer(a, ["sunny"], "em") == 1.0


def test_first_person_and_of_form_facts() -> None:
    r = make_reader("bm25")
    entries = ["[3 May 2024] Ann Lee: My city is Bergen.", "The employer of Dan Roe is Acme."]
    assert answer(r, "What is Ann Lee's city?", entries).text == "Bergen"
    assert answer(r, "Who is the employer of Dan Roe?", entries).text == "Acme"


def test_entry_order_does_not_change_answers(reader: Reader) -> None:
    entries = FACTS + [UPDATE, "Bob Stone's hobby is chess."]
    base = reader.answer_all(QUESTIONS, entries)
    rng = random.Random(0)
    for _ in range(5):
        perm = list(range(len(entries)))
        rng.shuffle(perm)
        shuffled = [entries[i] for i in perm]
        got = reader.answer_all(QUESTIONS, shuffled)
        assert [(a.text, a.mode) for a in got] == [(a.text, a.mode) for a in base]
        # the same entries are read, wherever they sit
        assert [sorted(shuffled[i] for i in a.used) for a in got] == [
            sorted(entries[i] for i in a.used) for a in base
        ]


def _buried_fact() -> tuple[list[str], int]:
    # Distractors repeat the query terms, so BM25 ranks them above the one real fact.
    entries = [f"Ann Lee city walk {k}: Ann Lee loved the city, Ann Lee said." for k in range(8)]
    entries += ["Ann Lee's city is Oslo.", "Bob Stone's city is Lima."]
    return entries, 8


def test_top_k_limits_what_is_read() -> None:
    entries, fact = _buried_fact()
    ranking = BM25Reader().rank(["Ann Lee city"], entries)[0]
    assert ranking.index(fact) >= 3
    a = answer(make_reader("bm25", top_k=3), "What is Ann Lee's city?", entries)
    assert (a.text, a.mode) == ("unknown", "abstain")
    assert fact not in a.used and len(a.used) == 3
    assert answer(make_reader("bm25", top_k=10), "What is Ann Lee's city?", entries).text == "Oslo"


def test_always_shown_entries_are_read_regardless_of_rank() -> None:
    entries, fact = _buried_fact()
    reader = make_reader("bm25", top_k=3)
    a = answer(reader, "What is Ann Lee's city?", entries, always_shown=[fact])
    assert a.text == "Oslo" and fact in a.used
    # a core entry with no query term is still read (shown), though it answers nothing
    a = answer(make_reader("bm25"), "How was the weather?", FACTS, always_shown=[5])
    assert a.text == FACTS[4] and 5 in a.used
    with pytest.raises(ValueError, match="out of range"):
        make_reader("bm25").answer_all(["q?"], FACTS, always_shown=[len(FACTS)])


def test_make_reader_errors_and_protocol() -> None:
    with pytest.raises(ValueError, match="bm25, embedding"):
        make_reader("tfidf")
    with pytest.raises(ValueError, match="top_k"):
        make_reader("bm25", top_k=0)
    with pytest.raises(TypeError):
        make_reader("bm25", nonsense=1)
    assert isinstance(make_reader("bm25"), Reader)


def test_importing_reader_does_not_import_torch() -> None:
    code = "import sys, memgym.rewards.reader; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _bm25s_matrix(docs: list[list[int]], n_vocab: int) -> "np.ndarray":
    """The dense score matrix bm25s builds (the reference the reader reproduces)."""
    import bm25s
    import numpy as np

    index = bm25s.BM25(k1=1.5, b=0.75)
    index.index((docs, {str(j): j for j in range(n_vocab)}), show_progress=False)
    data, rows, indptr = (index.scores[k] for k in ("data", "indices", "indptr"))
    dense = np.zeros((len(docs), n_vocab), dtype=np.float64)
    dense[rows, np.repeat(np.arange(n_vocab), np.diff(indptr))] = data
    return dense


def test_lucene_matrix_equals_bm25s_bit_for_bit() -> None:
    import numpy as np

    from memgym.rewards.reader import lucene_bm25_matrix

    rng = random.Random(0)
    cases = [[[0]], [[1, 1, 1], []], [[], [2]]]  # one doc, an empty doc, repeated terms
    for _ in range(300):
        n_vocab = rng.randint(1, 40)
        cases.append([[rng.randrange(n_vocab) for _ in range(rng.randint(0, 25))]
                      for _ in range(rng.randint(1, 60))])
    for docs in cases:
        n_vocab = max((t for d in docs for t in d), default=0) + 1
        ours = lucene_bm25_matrix(docs, n_vocab)
        assert np.array_equal(ours, _bm25s_matrix(docs, n_vocab)), docs
