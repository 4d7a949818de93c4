"""``memgym data``: check benchmark files and convert them to memgym's JSONL stream format.

Mounted in :mod:`memgym.cli` with ``app.add_typer(data_app, name="data")``::

    memgym data validate locomo10.json
    memgym data convert longmemeval_s.json streams.jsonl --chunking session --split heldout

A bad file prints one line naming the file, the record and the field, and exits 2.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from memgym.cli_common import UserError, console, fail, parse_pairs

data_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Validate and convert benchmark data files (LoCoMo, LongMemEval, "
                            "MemoryAgentBench, memgym JSONL).")

FORMAT_HELP = "auto, locomo, longmemeval, memoryagentbench or jsonl"
PARAM_HELP = "adapter parameter KEY=VALUE, e.g. chunk_chars=1000 or include_adversarial=true"


def _params(chunking: str | None, pairs: list[str] | None) -> dict[str, Any]:
    try:
        params = parse_pairs(pairs, "--param")
    except UserError as exc:
        raise ValueError(str(exc)) from None
    if chunking is not None:
        params["chunking"] = chunking
    return params


def _open(file: Path, fmt: str, params: dict[str, Any]) -> tuple[str, Any]:
    from memgym.tasks.datasets import detect_format, open_dataset

    resolved = detect_format(file) if fmt == "auto" else fmt
    return resolved, open_dataset(file, resolved, **params)


_ERRORS = (ValueError, TypeError, OSError)  # DataError is a ValueError


@data_app.command("validate")
def validate(
    file: Path = typer.Argument(..., help="the data file to check"),
    fmt: str = typer.Option("auto", "--format", "-f", help=FORMAT_HELP),
    chunking: str = typer.Option(None, help="turn or session (LoCoMo, LongMemEval)"),
    param: list[str] = typer.Option(None, "--param", "-p", help=PARAM_HELP),
) -> None:
    """Read FILE as memgym would; print records, splits, chunks and questions per kind."""
    try:
        resolved, task = _open(file, fmt, _params(chunking, param))
        n_chunks, kinds, n_records = 0, Counter(), 0
        for ep in task.episodes("all"):
            n_records += 1
            n_chunks += len(ep.chunks)
            kinds.update(q.kind for q in ep.questions)
    except _ERRORS as exc:
        fail(str(exc))
        return
    splits = ", ".join(f"{s} {len(ix)}" for s, ix in task.splits.items())
    for line in (f"{file.name}: format {resolved}, {n_records} records ({splits})",
                 f"chunks: {n_chunks} ({n_chunks / max(n_records, 1):.1f} per record)",
                 f"questions: {sum(kinds.values())}"):
        console.print(escape(line), soft_wrap=True)
    table = Table(title="questions per kind")
    table.add_column("kind")
    table.add_column("questions", justify="right")
    for kind, count in sorted(kinds.items()):
        table.add_row(escape(kind), str(count))
    console.print(table)


@data_app.command("convert")
def convert(
    file: Path = typer.Argument(..., help="the data file to convert"),
    out: Path = typer.Argument(..., help="the JSONL file to write (one episode per line)"),
    fmt: str = typer.Option("auto", "--format", "-f", help=FORMAT_HELP),
    chunking: str = typer.Option(None, help="turn or session (LoCoMo, LongMemEval)"),
    split: str = typer.Option("all", help="all, train, val or heldout"),
    param: list[str] = typer.Option(None, "--param", "-p", help=PARAM_HELP),
) -> None:
    """Write FILE's episodes in memgym's JSONL stream format (see docs/DATA.md)."""
    from memgym.episode import SPLITS

    try:
        if split != "all" and split not in SPLITS:
            raise ValueError(f"--split {split!r}: expected all or one of {', '.join(SPLITS)}")
        if out.resolve() == file.resolve():
            raise ValueError(f"{out}: the output would overwrite the input")
        _, task = _open(file, fmt, _params(chunking, param))
        episodes = list(task.episodes(split))  # build everything before writing anything
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for ep in episodes:
                f.write(ep.to_json() + "\n")
        tmp.replace(out)
    except _ERRORS as exc:
        fail(str(exc))
        return
    console.print(escape(f"wrote {len(episodes)} episode{'s' * (len(episodes) != 1)} to {out}"), soft_wrap=True)
