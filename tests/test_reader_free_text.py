"""The deterministic reader beyond the generator's sentence shapes: lower-case names and
yes / no questions (docs/reader.md)."""

from __future__ import annotations

import pytest

from memgym.facts import extract_fact, is_yes_no, parse_question
from memgym.rewards.metrics import exact_match
from memgym.rewards.reader import BM25Reader

ENTRIES = ["Ann Lee's city is Paris.", "Mia moved to Oslo last spring.",
           "The doctor said Tom never stopped the drug.", "bob's job is baker.",
           "Carla finished the marathon in May."]


@pytest.mark.parametrize("question, answer", [
    ("Is Ann Lee's city Paris?", "yes"),
    ("Is Ann Lee's city Oslo?", "no"),  # the fact names another value
    ("Did Mia move to Oslo?", "yes"),  # stems: moved / move
    ("Did Mia move to Rome?", "no"),
    ("Was the drug stopped by Tom?", "no"),  # the entry is negated, the question is not
    ("Did Carla finish the marathon?", "yes"),
    ("Did Zed sing?", "unknown"),  # nothing relevant read: abstain
    ("what is bob's job?", "baker"),  # lower-case subject
    ("What is Bob's job?", "baker"),
])
def test_answers(question: str, answer: str) -> None:
    reply = BM25Reader(top_k=3).answer_all([question], ENTRIES)[0]
    assert reply.text == answer
    assert exact_match(reply.text, [answer]) == 1.0


def test_lowercase_facts_and_questions_without_changing_the_shapes_that_parse() -> None:
    assert extract_fact("bob's city is now oslo.").key == "bob|city"
    assert parse_question("where is bob's brother's car?") == ("bob", ("brother", "car"))
    assert extract_fact("the manager's city is Oslo") is None  # "the ...'s" is no subject
    assert parse_question("what is my sister's job?") is None
    assert extract_fact("Ann Lee's city is now Oslo.").subject == "Ann Lee"
    assert parse_question("Do we know Chloe Torres's job?") == ("Chloe Torres", ("job",))
    assert not is_yes_no("Do we know Chloe Torres's job?")  # asks the job, not yes / no
    assert is_yes_no("Was the drug stopped?") and not is_yes_no("When was the drug stopped?")
