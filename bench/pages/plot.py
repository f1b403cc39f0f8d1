"""bench/results/pages.png: p50 and p99 server time per page, with the query counts."""

from __future__ import annotations

from typing import Any

from bench.common import save_figure


def plot(sizes: dict[str, dict[str, Any]]) -> str:
    """Draw the figure and return its path relative to the repository."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    large = sizes["large"]
    pages = list(large["pages"])
    modes = ["anonymous", "signed in"]
    figure, axes = plt.subplots(figsize=(7, 3.8), dpi=110)
    width = 0.38
    colours = {"anonymous": "tab:blue", "signed in": "tab:orange"}
    for offset, mode in enumerate(modes):
        xs = [index + (offset - 0.5) * width for index in range(len(pages))]
        p50 = [large["pages"][page][mode]["p50_ms"] for page in pages]
        p99 = [large["pages"][page][mode]["p99_ms"] for page in pages]
        bars = axes.bar(xs, p50, width, color=colours[mode], label=f"{mode}: p50")
        axes.scatter(xs, p99, color="black", marker="_", s=200, zorder=3)
        for bar, page in zip(bars, pages, strict=True):
            small_q = sizes["small"]["pages"][page][mode]["queries"]
            large_q = large["pages"][page][mode]["queries"]
            axes.annotate(
                f"{large_q} q" if small_q == large_q else f"{small_q}→{large_q} q",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    axes.scatter([], [], color="black", marker="_", s=200, label="p99")
    axes.axhline(10, color="grey", linestyle=":", linewidth=1, label="target: p50 < 10 ms")
    axes.set_xticks(range(len(pages)), pages)
    axes.set_ylabel("server time per request (ms)")
    data = large["data"]
    axes.set_title(
        f"Pages with {data['members']:,} members, {data['spheres']} spheres (q = SQL queries)",
        fontsize=10,
    )
    axes.legend(fontsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    return save_figure(figure, "pages")
