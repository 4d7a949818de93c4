"""Writing evaluation reports: ``report.json``, ``report.md`` and plots, atomically.

``report.json`` holds no timestamps or timings, so the same evaluation gives the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write via a temporary file in the same folder and ``os.replace`` (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; reports are ordinary files
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def kinds_of(report: dict[str, Any]) -> list[str]:
    return sorted({k for s in report["agents"].values() for k in s["per_kind"]})


def markdown_table(report: dict[str, Any]) -> str:
    """One row per agent: QA ± 95% CI, ratio to the oracle, per-kind QA, memory, ops."""
    kinds = kinds_of(report)
    head = ["agent", "QA", "± 95% CI", "/ oracle", "evidence", "recall@k", *kinds,
            "mean memory", "memory tokens", "invalid / ep", "action success", "format valid"]
    lines = [
        f"# {report['env_id']} — {report['split']}, {report['episodes']} episodes, "
        f"seed {report['seed']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, s in report["agents"].items():
        ratio = f"{s['oracle_ratio']:.2f}" if s.get("oracle_ratio") is not None else "-"
        per_kind = [f"{s['per_kind'][k]:.3f}" if k in s["per_kind"] else "-" for k in kinds]
        rates = ["-" if s.get(k) is None else f"{s[k]:.3f}"
                 for k in ("action_success_rate", "format_valid_rate")]
        evidence = ["-" if s.get(k) is None else f"{s[k]:.3f}"
                    for k in ("evidence_retention", "evidence_recall")]
        row = [name, f"{s['qa_score']:.3f}", f"{s['qa_ci95']:.3f}", ratio, *evidence, *per_kind,
               f"{s['memory_mean']:.1f}", f"{s.get('memory_tokens', 0.0):.0f}",
               f"{s['invalid_per_episode']:.2f}", *rates]
        lines.append("| " + " | ".join(row) + " |")
    names = ("extraction_recall", "final_retention", "stale_fact_rate", "wrong_delete_rate",
             "planted_stored_rate", "obey_rate")
    lines += ["", "Operation-level diagnostics (- where the data has no labels for it):", "",
              "| agent | " + " | ".join(n.replace("_", " ") for n in names) + " | ops / episode |",
              "|" + "---|" * (len(names) + 2)]
    for name, s in report["agents"].items():
        diag = s.get("diagnostics", {})
        cells = ["-" if diag.get(n) is None else f"{diag[n]:.3f}" for n in names]
        ops = ", ".join(f"{k} {v:.1f}" for k, v in s["ops_per_episode"].items())
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ops} |")
    return "\n".join(lines) + "\n"


def plot_report(report: dict[str, Any], path: str | Path) -> None:
    """Bars of QA per agent (with 95% CI), grouped by question kind, and memory over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = list(report["agents"])
    kinds = kinds_of(report)
    fig, (ax, ax_mem) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    groups = ["all", *kinds]
    width = 0.8 / max(len(agents), 1)
    for i, name in enumerate(agents):
        s = report["agents"][name]
        values = [s["qa_score"], *[s["per_kind"].get(k, 0.0) for k in kinds]]
        xs = [g + i * width for g in range(len(groups))]
        ax.bar(xs, values, width, label=name)
        ax.errorbar(xs[0], values[0], yerr=s["qa_ci95"], color="black", capsize=2)
    ax.set_xticks([g + width * (len(agents) - 1) / 2 for g in range(len(groups))], groups)
    ax.set_ylabel("QA score")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{report['env_id']} ({report['split']})")
    ax.legend(fontsize=8, ncol=2)
    for name in agents:
        traces = [d["memory_trace"] for d in report.get("details", {}).get(name, [])]
        traces = [t for t in traces if t]
        if traces:
            length = min(len(t) for t in traces)
            mean = [sum(t[j] for t in traces) / len(traces) for j in range(length)]
            ax_mem.plot(range(length), mean, label=name)
    ax_mem.set_xlabel("chunk")
    ax_mem.set_ylabel("entries in memory")
    ax_mem.set_title("memory size over the stream")
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def write_report(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.md`` and ``report.png`` under ``out_dir``."""
    out = Path(out_dir)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "plot": out / "report.png"}
    atomic_write_text(paths["json"], report_json(report))
    atomic_write_text(paths["markdown"], markdown_table(report))
    plot_report(report, paths["plot"])
    return paths
