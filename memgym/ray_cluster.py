"""A Ray session for whoever needs workers: RLlib training (:mod:`memgym.training.rllib`) and
evaluation spread over Ray tasks (:mod:`memgym.agents.evaluate`). Imports nothing of memgym,
so both floors can stand on it; ``ray`` is imported on use."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class ClusterUnreachable(ConnectionError):
    """The Ray cluster named by ``address`` / ``RAY_ADDRESS`` could not be joined."""


MAX_TEMP_DIR_CHARS = 40
"""Longest Ray temp dir used as is; longer ones are reached through a short symlink."""

AFTER_SHUTDOWN: list[Callable[[], None]] = []
"""Called after :func:`ray_session` shuts down a session it started. Ray's ``register_env``
keeps a registration in the driver only until a session starts (it then moves to that
session's key-value store, which ``ray.shutdown()`` drops): whatever must still be
registered afterwards (an RLlib env runner built without Ray looks there) registers again."""


def short_temp_dir(folder: str | Path) -> tuple[str, Path | None]:
    """``folder`` itself if its path is short enough for Ray's sockets, else a fresh symlink
    ``/tmp/ray<random>`` pointing at it (returned second, for removal)."""
    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    if len(str(folder)) <= MAX_TEMP_DIR_CHARS:
        return str(folder), None
    link = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    link.rmdir()
    os.symlink(folder, link, target_is_directory=True)
    return str(link), link


@contextmanager
def ray_session(*, address: str | None = None, num_cpus: int | None = None,
                temp_dir: str | Path | None = None) -> Iterator[bool]:
    """Use the running Ray session, else join ``address`` (or ``RAY_ADDRESS``), else start a
    local cluster with ``num_cpus`` whose files go under ``temp_dir`` (default ``RAY_TMPDIR``
    or Ray's own ``/tmp/ray``). Yields whether this call started the connection; only then is
    it shut down at the end. A cluster that cannot be joined is :class:`ClusterUnreachable`."""
    import ray

    if ray.is_initialized():
        yield False
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    link: Path | None = None
    if address:
        try:
            ray.init(address=address, logging_level="warning")
        except ConnectionError as exc:
            raise ClusterUnreachable(
                f"could not join the Ray cluster at {address!r} (rllib.address or "
                f"RAY_ADDRESS; start one with `ray start --head`): {exc}") from exc
    else:
        root = temp_dir or os.environ.get("RAY_TMPDIR")
        kwargs: dict[str, Any] = {}
        if root:
            kwargs["_temp_dir"], link = short_temp_dir(root)
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="warning", **kwargs)
    try:
        yield True
    finally:
        ray.shutdown()
        if link is not None:
            link.unlink(missing_ok=True)
        for hook in AFTER_SHUTDOWN:
            hook()
