"""Shared by the benchmark scripts: timing, and their results as a Markdown table."""

from __future__ import annotations

import time


def timed(function, *args, **kwargs):
    """(what ``function`` returned, its wall-clock seconds)."""
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


def best_of(repeats, function, *args, **kwargs):
    """The shortest of ``repeats`` timed calls, in seconds."""
    return min(timed(function, *args, **kwargs)[1] for _ in range(repeats))


def print_table(columns, rows):
    """``columns``: (header, key, format); text left-aligned, numbers right-aligned, '—' for None."""
    cells = [[("—" if r[key] is None else fmt.format(r[key])) for _, key, fmt in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _, _) in enumerate(columns)]

    def line(values):
        return "| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w)
                                 for i, (v, w) in enumerate(zip(values, widths))) + " |"

    print(line([h for h, _, _ in columns]))
    print("|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|")
    for values in cells:
        print(line(values))
