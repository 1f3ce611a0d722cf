"""Growth curves as PNG files (matplotlib, from the bench extra).

``draw(curves, folder)`` writes one ``<name>.png`` per curve: each series is
the median of the rounds at each point, with the spread (min-max) as error
bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(curves: dict[str, dict[str, Any]], folder: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, curve in curves.items():
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
        for label, points in curve["series"].items():
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            low = [max(0.0, p[1] - p[2]) for p in points]
            high = [max(0.0, p[3] - p[1]) for p in points]
            ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=label)
        if curve.get("log_x"):
            ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_title(curve["title"], fontsize=10)
        ax.set_xlabel(curve["x_label"])
        ax.set_ylabel(curve["y_label"])
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
