"""The notebook's plot of the shadow evaluation: one stacked bar per candidate, from the rows
``accuracy_table`` makes of the sites' retained stats messages."""

import pytest

from edgeface.errors import EdgefaceError
from edgeface.evaluation import figure_png
from edgeface.uplink.accuracy import accuracy_table
from edgeface.uplink.shadowplot import shadow_figure, shadow_rows


def stats_message(same: int, newly_named: int, newly_unknown: int, changed_name: int) -> dict:
    shadow = {"same": same, "newly_named": newly_named, "newly_unknown": newly_unknown, "changed_name": changed_name}
    return {"named": 5, "unknown": 1, "near_threshold": 0, "shadow": {**shadow, "compared": sum(shadow.values())}}


def test_each_candidate_is_a_bar_of_its_four_counts():
    stats = {"store-1": {"v1": {"named": 9, "unknown": 3, "near_threshold": 1},
                         "v2-swapped": stats_message(7, 0, 1, 2), "v3-newcomer": stats_message(8, 3, 0, 0)},
             "store-2": {"v3-newcomer": stats_message(4, 1, 0, 0)}}
    rows = accuracy_table({"v1": {"evaluation": {"leave_one_out_accuracy": 1.0}}}, stats)
    assert [r["version"] for r in shadow_rows(rows)] == ["v2-swapped", "v3-newcomer"]     # v1 was never a candidate
    fig = shadow_figure(rows)
    ax = fig.axes[0]
    bars = [(p.get_x() + p.get_width() / 2, p.get_y(), p.get_height()) for p in ax.patches]
    # Stacked in SHADOW_RESULTS order; both sites' counts added up for v3.
    assert [h for x, _, h in bars if round(x) == 0] == [7, 0, 1, 2]
    assert [h for x, _, h in bars if round(x) == 1] == [12, 4, 0, 0]
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["10 faces, 2 changed name", "16 faces, 0 changed name"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["v2-swapped", "v3-newcomer"]
    assert figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_candidate_yet_says_how_to_get_one():
    with pytest.raises(EdgefaceError, match="no version was compared") as err:
        shadow_figure(accuracy_table({"v1": {}}, {}))
    assert "--candidate" in err.value.hint
