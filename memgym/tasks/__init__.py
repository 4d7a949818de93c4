"""Built-in tasks, one file each; importing a task module registers its ids."""

from memgym.tasks import dialogue, kv_updates, multihop, needle  # noqa: F401
