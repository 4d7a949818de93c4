"""memgym: a reinforcement-learning gym for training memory-managing agents.

``import memgym`` registers every built-in task with Gymnasium (``memgym list`` shows them).
"""

from memgym.episode import SPLITS, Chunk, Episode, Question, Task, read_jsonl, write_jsonl
from memgym.envs.registration import REGISTRY, register_task

import memgym.tasks  # noqa: F401,E402  (registers the built-in tasks)
import memgym.recipes.ids  # noqa: F401,E402  (registers the recipe ids; classes load on gym.make)

__version__ = "0.1.0"
__all__ = [
    "SPLITS", "Chunk", "Episode", "Question", "Task", "read_jsonl", "write_jsonl",
    "REGISTRY", "register_task", "__version__",
]
