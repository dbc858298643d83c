"""The shadow evaluation per candidate version, plotted: of the faces the sites compared, how many
the candidate decided the same as the version in use, newly named, newly found Unknown, or named
as someone else (``edgeface.uplink.stats``; a changed name blocks a rollout, docs/fleet.md).

Used by the notebook (``model-training-pipeline/training-workflow.ipynb``) and by
``edgeface review --accuracy`` (``shadow.png``) on the rows of ``accuracy.accuracy_table``.
"""

from __future__ import annotations

from typing import Any

from edgeface.errors import EdgefaceError
from edgeface.uplink.stats import SHADOW_RESULTS

COLOURS = {"same": "tab:grey", "newly_named": "tab:green", "newly_unknown": "tab:orange", "changed_name": "tab:red"}


def shadow_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The versions the sites compared as a candidate, oldest first."""
    return [r for r in rows if r.get("shadow")]


def shadow_figure(rows: list[dict[str, Any]]):
    """One bar per candidate version, stacked by result, the number of faces compared and of changed
    names written above it. A matplotlib Figure (no pyplot: safe in threads and headless)."""
    from matplotlib.figure import Figure

    compared = shadow_rows(rows)
    if not compared:
        raise EdgefaceError("no version was compared on live faces yet",
                            "mark one as the sites' candidate: edgeface model push --candidate")
    x = list(range(len(compared)))
    fig = Figure(figsize=(max(6.0, 1.2 * len(compared) + 3), 4.0), layout="constrained")
    ax = fig.subplots()
    base = [0] * len(compared)
    for result in SHADOW_RESULTS:
        counts = [int(r["shadow"].get(result, 0)) for r in compared]
        ax.bar(x, counts, bottom=base, color=COLOURS[result], label=result.replace("_", " "))
        base = [b + c for b, c in zip(base, counts)]
    for i, r in enumerate(compared):
        changed = int(r["shadow"].get("changed_name", 0))
        ax.annotate(f"{r['shadow'].get('compared', base[i])} faces, {changed} changed name", (i, base[i]),
                    ha="center", va="bottom", fontsize="small", color="tab:red" if changed else "black")
    ax.set_ylim(0, max(base) * 1.2 + 1)
    ax.set_ylabel("faces compared at the edge")
    ax.set_xticks(x, [r["version"] for r in compared], rotation=20, fontsize="small")
    ax.set_xlabel("candidate version")
    ax.legend(loc="upper left", fontsize="small", ncol=4)
    return fig
