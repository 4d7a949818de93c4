"""Registering a new task: one file, one ``register_task(...)`` call.

Run it: ``python examples/custom_task.py`` registers ``examples/PhoneBook-v0`` (and its
``-Text`` twin), checks it with Gymnasium's env checker and compares the baselines on
held-out streams, exactly as ``memgym eval`` would for a built-in task.
"""

from __future__ import annotations

from typing import Any

from memgym import Chunk, Episode, Question, register_task
from memgym.tasks.base import split_pool, split_rng

FIRST_NAMES = ["Ada", "Bea", "Cal", "Dov", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kai", "Lia",
               "Max", "Nia", "Oto", "Pia", "Quin", "Rex", "Sol", "Tia", "Uma", "Vic", "Wes", "Xia"]
NUMBERS = [f"{n}" for n in range(1000, 1080)]
FACT_TEMPLATES = ["Phone book: {name}'s extension is {number}.", "{name}'s extension is now {number}.",
                  "Directory entry: the extension of {name} is {number}.",
                  "Front desk says {name}'s extension is {number}.", "Memo: {name}'s extension is {number}."]
CHATTER = ["The coffee machine is broken again.", "Lunch is at noon today.",
           "Someone left an umbrella in the lobby.", "The printer on floor two jams a lot.",
           "Remember to water the plants.", "The lift is being serviced.",
           "There is cake in the kitchen.", "The wifi was slow this morning."]


class PhoneBookTask:
    """People's phone extensions among office chatter; questions ask each extension."""

    name = "phonebook"

    def __init__(self, length: int = 24, n_people: int = 4) -> None:
        self.params = {"length": length, "n_people": n_people}

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        unknown = set(overrides) - set(self.params)
        if unknown:
            raise ValueError(f"unknown PhoneBookTask params: {sorted(unknown)}")
        params = {**self.params, **overrides}
        rng = split_rng(self.name, split, seed)
        names = rng.choice(split_pool(FIRST_NAMES, split), params["n_people"], replace=False)
        numbers = rng.choice(split_pool(NUMBERS, split), params["n_people"], replace=False)
        templates, chatter = split_pool(FACT_TEMPLATES, split), split_pool(CHATTER, split)
        positions = sorted(rng.choice(params["length"], params["n_people"], replace=False))
        texts = [str(rng.choice(chatter)) for _ in range(params["length"])]
        questions = []
        for pos, name, number in zip(positions, names, numbers):
            texts[pos] = str(rng.choice(templates)).format(name=name, number=number)
            questions.append(Question(f"What is {name}'s extension?", (str(number),), (int(pos),),
                                      id=f"q{len(questions)}"))
        chunks = tuple(Chunk(i, text) for i, text in enumerate(texts))
        return Episode(chunks, tuple(questions), self.name, split, seed, params)


register_task(
    "PhoneBook", PhoneBookTask, namespace="examples",
    levels={"": {"task": {"length": 24, "n_people": 4},
                 "env": {"tiers": {"episodic": {"entries": 4, "tokens": None}}}}},
    description="Phone extensions among office chatter (the custom-task example).",
)


if __name__ == "__main__":
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    from memgym.agents.evaluate import evaluate_agents

    check_env(gym.make("examples/PhoneBook-v0").unwrapped, skip_render_check=True)
    report = evaluate_agents(["random", "fifo", "oracle"], "examples/PhoneBook-v0",
                             split="heldout", episodes=20, seed=0)
    for name, summary in report["agents"].items():
        print(f"{name:>8}: QA {summary['qa_score']:.2f}")
