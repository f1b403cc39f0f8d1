"""bench/results/matching.png: cost per arrival against queue size, every matcher."""

from __future__ import annotations

from typing import Any

from bench.common import save_figure


def plot(rows: list[dict[str, Any]]) -> str:
    """Draw the figure and return its path relative to the repository."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 6.5), dpi=110)
    styles = {
        ("engine", "popular"): ("tab:blue", "o", "-"),
        ("engine", "niche"): ("tab:blue", "s", "--"),
        ("naive", "popular"): ("tab:red", "o", "-"),
        ("naive", "niche"): ("tab:red", "s", "--"),
        ("engine_scan_limit_8", "popular"): ("tab:cyan", "o", ":"),
        ("engine_scan_limit_8", "niche"): ("tab:cyan", "s", ":"),
        ("redis", "popular"): ("tab:green", "o", "-"),
        ("redis", "niche"): ("tab:green", "s", "--"),
        ("engine_familiar", "popular"): ("tab:purple", "^", "-."),
        ("engine_familiar", "niche"): ("tab:purple", "v", "-."),
        ("redis_familiar", "popular"): ("tab:olive", "^", "-."),
        ("redis_familiar", "niche"): ("tab:olive", "v", "-."),
    }
    names = {
        "engine": "interest-indexed engine",
        "naive": "naive linear scan",
        "engine_scan_limit_8": "engine, scan_limit=8 (diagnostic)",
        "redis": "Redis matcher (wall time, network call)",
        "engine_familiar": "engine, familiar-faces rule at work",
        "redis_familiar": "Redis matcher, familiar-faces rule at work",
    }
    for (kind, vocabulary), (colour, marker, line) in styles.items():
        points = sorted(
            (row["size"], row[kind]["us_per_arrival"])
            for row in rows
            if row["vocabulary"] == vocabulary and kind in row
        )
        if not points:
            continue
        label = f"{names[kind]}, {vocabulary} interests"
        axes.plot(
            *zip(*points, strict=True), color=colour, marker=marker, linestyle=line, label=label
        )
    axes.axhline(20, color="grey", linestyle=":", linewidth=1, label="target: 20 µs at 100,000")
    if any("redis" in row for row in rows):
        axes.axhline(
            150,
            color="tab:green",
            linestyle=":",
            linewidth=1,
            label="Redis target: 150 µs at 100,000",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("people waiting in the sphere")
    axes.set_ylabel("µs per arrival: CPU; wall for Redis (median of 3 means)")
    axes.set_title("Matching: cost of deciding one arrival")
    axes.grid(True, which="both", alpha=0.3)
    # Below the plot: a dozen lines leave no corner free inside it.
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    return save_figure(figure, "matching")
