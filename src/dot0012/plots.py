"""The PNG plots of `dot0012 bench`: memory and wall time against N, log-log, per backend and token length."""

from dot0012.variants import FLOOR


LEGEND_INCHES = 4.4  # room on the right for the longest variant label
METRICS = (
    ("memory", "median_rss_growth_mib", "peak RSS growth (MiB)", 0.05),
    ("memray", "memray_peak_mib", "memray peak (MiB)", 0.05),
    ("time", "median_seconds", "wall time (s)", 0.001),
)


def plot(results, out):
    """memory.png, memray.png and time.png for 0012; the same with -0015 for 0015, if it was measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    backends = results["settings"]["backends"]
    lengths = results["settings"]["token_lengths"]
    for migration in dict.fromkeys(row["migration"] for row in rows):
        # The variants in the order they ran, with their labels.
        labels = {row["variant"]: row["label"] for row in rows if row["migration"] == migration}
        suffix = "" if migration == "0012" else f"-{migration}"
        for name, field, ylabel, lowest in METRICS:
            width = 4.2 * len(backends) + LEGEND_INCHES
            figure, axes = plt.subplots(
                len(lengths), len(backends), figsize=(width, 3.4 * len(lengths)), squeeze=False, sharey=True
            )
            for row_index, length in enumerate(lengths):
                for column, backend in enumerate(backends):
                    axis = axes[row_index][column]
                    for index, key in enumerate(labels):
                        points = sorted(
                            (row["tokens"], row[field])
                            for row in rows
                            if (row["migration"], row["backend"], row["token_length"], row["variant"])
                            == (migration, backend, length, key)
                            and row.get(field) is not None
                        )
                        if not points:
                            continue
                        xs, ys = zip(*points, strict=True)
                        # A log axis has no room for growth that rounds to 0 or below.
                        ys = [max(y, lowest) for y in ys]
                        is_floor = key == FLOOR or key.startswith("floor-")
                        axis.plot(
                            xs,
                            ys,
                            marker="o",
                            color="black" if key == FLOOR else "grey" if is_floor else f"C{index}",
                            linestyle="--" if is_floor else "-",
                            label=labels[key],
                        )
                    axis.set_xscale("log")
                    axis.set_yscale("log")
                    axis.grid(True, which="both", alpha=0.3)
                    axis.set_title(f"{backend}, tokens of {length} chars", fontsize=10)
                    if row_index == len(lengths) - 1:
                        axis.set_xlabel("tokens (N)")
                    if column == 0:
                        axis.set_ylabel(ylabel)
            handles, names = axes[0][0].get_legend_handles_labels()
            figure.legend(handles, names, loc="center right", fontsize=9)
            figure.suptitle(
                f"migration {migration}: {ylabel} vs N (log-log; values below {lowest} drawn at {lowest})"
            )
            figure.tight_layout(rect=(0, 0, 1 - LEGEND_INCHES / width, 0.95))
            figure.savefig(out / f"{name}{suffix}.png", dpi=110)
            plt.close(figure)
