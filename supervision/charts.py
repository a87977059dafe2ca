"""The dashboards' charts, drawn on the server as SVG: bars beside the numbers they draw (the
numbers stay in a table, each a link to its list), and the weekly columns with a title, a
description and the same figures in a table below."""

import datetime as dt
from dataclasses import dataclass


def bar_width(value: int, largest: int) -> float:
    """A bar's length in percent of the longest; a non-zero value always shows."""
    if largest <= 0 or value <= 0:
        return 0.0
    return round(max(1.5, 100 * value / largest), 1)


@dataclass(frozen=True)
class Column:
    x: float
    y: float
    height: float
    value: int


@dataclass(frozen=True)
class WeekChart:
    width: int
    height: int
    baseline: float
    opened: list[Column]
    closed: list[Column]
    labels: list[tuple[float, str]]  # (x, "dd/mm")
    ticks: list[tuple[float, int]]  # (y, value)
    bar: float


def week_chart(weeks: list[tuple[dt.date, int, int]]) -> WeekChart:
    """Two columns a week (opened, closed) on a shared scale."""
    width, height, left, bottom, top = 720, 240, 44, 28, 12
    plot = height - bottom - top
    largest = max([1, *[max(o, c) for _, o, c in weeks]])
    step = _nice_step(largest)
    scale_top = step * -(-largest // step)
    slot = (width - left - 8) / len(weeks)
    bar = slot * 0.36
    opened, closed, labels = [], [], []
    for n, (monday, o, c) in enumerate(weeks):
        x = left + n * slot + slot * 0.12
        for value, target, dx in ((o, opened, 0), (c, closed, bar)):
            h = plot * value / scale_top
            target.append(Column(round(x + dx, 1), round(top + plot - h, 1), round(h, 1), value))
        labels.append((round(x + bar, 1), monday.strftime("%d/%m")))
    ticks = [
        (round(top + plot - plot * v / scale_top, 1), v) for v in range(0, scale_top + 1, step)
    ]
    return WeekChart(width, height, top + plot, opened, closed, labels, ticks, round(bar, 1))


def _nice_step(largest: int) -> int:
    """A round step giving at most five gridlines."""
    step = 1
    while largest / step > 5:
        for factor in (2, 5, 10):
            if largest / (step * factor) <= 5:
                return step * factor
        step *= 10
    return step
