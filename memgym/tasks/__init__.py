"""Built-in tasks, one file each; importing a task module registers its ids."""

from memgym.tasks import dialogue, jsonl_stream, kv_updates, locomo, longmemeval, memoryagentbench, multihop, needle, poisoning  # noqa: F401,E501
