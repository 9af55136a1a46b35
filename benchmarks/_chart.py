"""Draw docs/benchmarks.png from a chart spec (run by _report.py in the tools venv, which has
matplotlib; the project's runtime dependencies stay untouched).

    python _chart.py spec.json out.png
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    out = sys.argv[2]
    names = spec["names"]
    labels = [spec["labels"][n] for n in names]
    panels = spec["panels"]
    ncols = 3
    nrows = (len(panels) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(19, 5.2 * nrows + 0.6))
    axes = axes.flatten()
    base_colors = spec["colors"]
    peer_palette = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#393b79"]
    colors = {}
    k = 0
    for n in names:
        if n in base_colors:
            colors[n] = base_colors[n]
        else:
            colors[n] = peer_palette[k % len(peer_palette)]
            k += 1
    for ax, panel in zip(axes, panels, strict=False):
        groups = panel["groups"]
        g = len(groups)
        height = 0.8 / g
        for gi, (gname, values) in enumerate(groups.items()):
            shade = 0.35 + 0.65 * (gi + 1) / g
            for i, (n, v) in enumerate(zip(names, values, strict=False)):
                y = i + (gi - (g - 1) / 2) * height
                if v is None:
                    if gi == 0 and all(vals[i] is None for vals in groups.values()):
                        ax.text(0, i, "  n/a", va="center", fontsize=8, color="#888888")
                    continue
                ax.barh(
                    y,
                    v,
                    height=height * 0.92,
                    color=colors[n],
                    alpha=shade,
                    edgecolor="black" if n.startswith("ours") else "none",
                    linewidth=0.6,
                )
                if g <= 2 or gi == g - 1:
                    txt = f"{v:,.0f}" if v >= 100 else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")
                    ax.text(
                        v,
                        y,
                        " " + txt + (f" ({gname})" if g > 1 else ""),
                        va="center",
                        fontsize=6.5,
                    )
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(labels, fontsize=8)
        for tick, n in zip(ax.get_yticklabels(), names, strict=False):
            if n.startswith("ours"):
                tick.set_fontweight("bold")
        ax.invert_yaxis()
        ax.set_title(
            panel["title"] + (f"   (bars: {', '.join(groups)})" if g > 1 else ""), fontsize=10
        )
        ax.set_xlabel(panel["xlabel"], fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
        xmax = max([v for vals in groups.values() for v in vals if v is not None] or [1])
        ax.set_xlim(0, xmax * 1.28)
    for ax in axes[len(panels) :]:
        ax.axis("off")
    fig.suptitle(spec["title"], fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
