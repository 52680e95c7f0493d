"""Charts drawn on the server as SVG (no script: they print, work offline and pass the CSP). This module
works out where every shape goes; the macros of templates/components/charts.html only draw it.

A function per kind of chart (bars, columns, a running total against the pace to its target, a weekday ×
hour heat map, a funnel, a progress bar) returns a frozen dataclass of plain `Box`, `Line` and `Text` shapes
in the units of the chart's viewBox, rounded to a tenth. The same charts go into pages, the printed report
and standalone .svg files, so each carries its font and every colour is an attribute from the one palette:
Okabe–Ito's, which people with any common colour-vision deficiency can tell apart. Colour never carries a
figure alone: values are written beside bars and columns, the pace line is dashed, every shape has a
tooltip and every chart has its figures in a table next to it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# The palette -------------------------------------------------------------------------------------------

BLUE = "#0072B2"  # the figures themselves
SKY_BLUE = "#56B4E9"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"  # the pace to a target
GREEN = "#009E73"  # a target reached, the last step of a funnel
INK = "#1d2624"  # text (15.5:1 on white), target marks, axis marks
GREY = "#8c8c8c"  # a muted bar, the middle of a 1–5 scale (3.4:1 on white)
GRID = "#d9d9d9"
TRACK = "#e8eeec"  # the empty part of a bar that has a fixed length
EMPTY = "#f0f0f0"  # a heat-map cell with nothing in it
PAPER = "#ffffff"
DIVERGING_5 = (VERMILLION, ORANGE, GREY, SKY_BLUE, BLUE)  # answers 1 to 5, from bad to good
FONT = "system-ui, 'Noto Sans JP', 'Noto Sans CJK JP', 'Hiragino Sans', Meiryo, sans-serif"


def tint(color: str, strength: float) -> str:
    """`color` laid over white at `strength` (0 = white, 1 = the colour itself), as #rrggbb."""
    return "#" + "".join(f"{round(255 - (255 - int(color[i:i + 2], 16)) * strength):02x}" for i in (1, 3, 5))


HEAT = tuple(tint(BLUE, strength) for strength in (0.25, 0.5, 0.75, 1))  # a heat map's bins, fewer to more

# Shapes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # the baseline
    text: str
    anchor: str = "start"  # SVG text-anchor: start, middle or end
    bold: bool = False
    color: str = INK
    halo: str = ""  # a colour drawn around the letters, so a gridline behind them does not cross them


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float
    fill: str
    radius: float = 0


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str = GRID
    width: float = 1
    dash: str = ""  # SVG stroke-dasharray


@dataclass(frozen=True)
class Tick:
    line: Line  # a gridline, a mark on an axis, or a sample of a line in a legend
    label: Text | None


@dataclass(frozen=True, kw_only=True)
class Chart:
    width: float
    height: float
    font_size: float = 11
    font: str = FONT
    background: str = PAPER


# Measures and scales -----------------------------------------------------------------------------------


def _r(value: float) -> float:
    return round(value, 1)  # a tenth of a unit: finer than any screen or printer shows


def number(value: float | None) -> str:
    """1,234 as a chart writes it; "—" when there is no figure."""
    return "—" if value is None else f"{value:,}"


def text_width(text: str, font_size: float, bold: bool = False) -> float:
    """About how wide `text` is drawn: a full-width (Japanese) character or a wide one (% @ M W m) 1 em, any
    other 0.6 em and bold a tenth more, a little over most sans-serif fonts, so that it errs towards room."""
    ems = sum(1.0 if unicodedata.east_asian_width(char) in "WF" or char in "%@MWm" else 0.6 for char in text)
    return font_size * ems * (1.1 if bold else 1)


def wrap(text: str, width: float, font_size: float, max_lines: int) -> list[str]:
    """`text` in lines of at most `width`, broken at a space where a line has one and otherwise between any
    two characters (Japanese has none to break at); beyond `max_lines` the last line ends in "…"."""
    lines, line = [], ""
    for char in text.strip():
        if line and text_width(line + char, font_size) > width:
            cut = line.rfind(" ")
            lines.append(line if char == " " or cut <= 0 else line[:cut])
            line = "" if char == " " or cut <= 0 else line[cut + 1:]
        if line or char != " ":
            line += char
    lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and text_width(last + "…", font_size) > width:
            last = last[:-1]
        lines = lines[:max_lines - 1] + [last.rstrip() + "…"]
    return lines


def axis_ticks(top: float, count: int = 4) -> list[int]:
    """Gridlines from 0 to the first at or past `top`, in the smallest round step that needs at most `count`."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude // 2, 5 * magnitude):
            if step * count >= top:
                return [step * i for i in range(max(math.ceil(top / step), 1) + 1)]
        magnitude *= 10


@dataclass(frozen=True)
class Scale:
    """0…`top` onto `start`…`start + length` (a negative length runs upwards, for a y axis). Values beyond
    either end, and a missing value (as 0), are drawn at the nearer end."""

    start: float
    length: float
    top: float

    def at(self, value: float | None) -> float:
        share = min(max((value or 0) / self.top, 0), 1) if self.top > 0 else 0
        return _r(self.start + self.length * share)


# Horizontal bars and columns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """A figure to chart: `value` sets the length (None: nothing drawn, written "—"), `note` is written at
    its end (the value by default), a `target` is a black mark across it, a `muted` one is grey."""

    label: str
    value: float | None
    note: str = ""
    target: float | None = None
    muted: bool = False

    @property
    def text(self) -> str:
        return self.note or number(self.value)


@dataclass(frozen=True)
class Item:  # a figure as drawn: a bar, a column or a funnel step
    title: str  # "label: note", its tooltip
    label: tuple[Text, ...]  # its name, on one or more lines
    bar: Box
    value: Text  # its figure (the note)
    track: Box | None = None  # the full length behind the bar, on a chart with a fixed maximum
    target: Line | None = None  # a black mark across the bar


@dataclass(frozen=True, kw_only=True)
class BarChart(Chart):
    rows: tuple[Item, ...]
    ticks: tuple[Tick, ...]  # vertical gridlines labelled below the bars


def bar_chart(bars: Sequence[Bar], *, width: float = 360, font_size: float = 11, label_width: float = 130,
              maximum: float | None = None, color: str = BLUE, max_lines: int = 3) -> BarChart:
    """One horizontal bar per figure. Without a `maximum` the bars run along round gridlines (reaching every
    value and target) labelled below, each value written just past its bar or target; with one (1 for
    shares), each bar lies on a track as long as the maximum, its note right-aligned at the edge.

    Labels stand in a column `label_width` wide beside their bars when every one fits on a line there;
    otherwise each goes on lines of its own above its bar, up to `max_lines`."""
    f = font_size  # the rest in proportion to it
    pad, line, bar_h, gap = _r(f * 0.4), _r(f * 1.3), _r(f * 1.25), _r(f * 0.8)
    beside = all(text_width(b.label, f) <= label_width - pad for b in bars)
    left = label_width if beside else (_r(text_width("0", f) / 2 + 2) if maximum is None else 0)  # room for a tick "0"
    halo, radius = (PAPER, 0) if maximum is None else ("", 3)  # haloed text across gridlines; round ends on tracks
    note_room = max([text_width(b.text, f, bold=True) for b in bars], default=0) + pad
    if maximum is None:
        ticks_at = axis_ticks(max([b.value or 0 for b in bars] + [b.target or 0 for b in bars], default=0))
        right = max(note_room + pad, text_width(number(ticks_at[-1]), f) / 2 + 2)  # room for a value or the last tick
        scale = Scale(left, width - left - right, ticks_at[-1])
    else:
        ticks_at, scale = [], Scale(left, width - left - note_room - pad, maximum)
    y, rows = (pad if maximum is None else 0), []
    for bar in bars:
        if beside:
            bar_y = y
            label = (Text(_r(left - pad), _r(bar_y + bar_h / 2 + f * 0.35), bar.label, "end", halo=halo),)
        else:
            lines = wrap(bar.label, width - left, f, max_lines)
            label = tuple(Text(left, _r(y + line * i + f), text, halo=halo) for i, text in enumerate(lines))
            bar_y = _r(y + line * len(lines) + f * 0.3)
        middle = _r(bar_y + bar_h / 2 + f * 0.35)
        track = None if maximum is None else Box(left, bar_y, _r(scale.length), bar_h, TRACK, radius)
        value = (Text(_r(scale.at(max(bar.value or 0, bar.target or 0)) + pad), middle, bar.text, bold=True, halo=halo)
                 if maximum is None else Text(width, middle, bar.text, "end", bold=True))
        target = None if bar.target is None else Line(
            scale.at(bar.target), _r(bar_y - 4), scale.at(bar.target), _r(bar_y + bar_h + 4), INK, 3)
        box = Box(left, bar_y, _r(scale.at(bar.value) - left), bar_h, GREY if bar.muted else color, radius)
        rows.append(Item(f"{bar.label}: {bar.text}", label, box, value, track, target))
        y = _r(bar_y + bar_h + gap)
    bottom = _r(y - gap + pad)  # of the gridlines, which are labelled below
    ticks = tuple(Tick(Line(scale.at(v), 0, scale.at(v), bottom), Text(scale.at(v), _r(bottom + f + 3), number(v), "middle"))
                  for v in ticks_at)
    height = _r(bottom + f + 7) if ticks else max(_r(y - gap), 1)
    return BarChart(width=width, height=height, font_size=f, rows=tuple(rows), ticks=ticks)


@dataclass(frozen=True, kw_only=True)
class ColumnChart(Chart):
    baseline: Line
    columns: tuple[Item, ...]  # each with its value above and its label below


def column_chart(bars: Sequence[Bar], *, width: float = 640, font_size: float = 16, plot_height: float = 140,
                 maximum: float = 1, colors: Sequence[str] = (BLUE,)) -> ColumnChart:
    """Columns side by side in equal slots (e.g. the answers 1 to 5), `colors` taken in turn; a column of
    `maximum` is `plot_height` tall. Labels are wrapped to their slot, two lines at most."""
    f = font_size
    line, slot, base = _r(f * 1.25), width / max(len(bars), 1), _r(plot_height + f * 1.5)  # room above for a value
    column, scale = min(slot * 0.6, f * 5), Scale(base, -plot_height, maximum)
    labels = [wrap(bar.label, slot - f / 2, f, 2) for bar in bars]
    columns = []
    for i, (bar, lines) in enumerate(zip(bars, labels, strict=True)):
        middle, top = _r(slot * i + slot / 2), scale.at(bar.value)
        columns.append(Item(
            f"{bar.label}: {bar.text}",
            tuple(Text(middle, _r(base + line * (k + 1)), text, "middle") for k, text in enumerate(lines)),
            Box(_r(middle - column / 2), top, _r(column), _r(base - top), colors[i % len(colors)], radius=3),
            Text(middle, _r(top - f * 0.4), bar.text, "middle", bold=True),
        ))
    lines = max([len(lines) for lines in labels], default=1)
    return ColumnChart(width=width, height=_r(base + f * 0.5 + line * lines), font_size=f,
                       baseline=Line(0, base, width, base, INK), columns=tuple(columns))


# A running total against the pace to its target ---------------------------------------------------------

ACTUAL = {"color": BLUE, "width": 3, "dash": ""}  # the running total: thick and solid
PACE = {"color": VERMILLION, "width": 2, "dash": "5 3"}  # the pace: thinner and dashed, so it reads in grey print


@dataclass(frozen=True)
class Polyline:
    points: tuple[tuple[float, float], ...]
    color: str
    width: float
    dash: str = ""


@dataclass(frozen=True, kw_only=True)
class LineChart(Chart):
    legend: tuple[Tick, ...]  # a sample of each line and its name
    grid: tuple[Tick, ...]  # horizontal gridlines labelled on the left
    marks: tuple[Tick, ...]  # the time axis: a mark per period, every other one named
    pace: Line | None  # from 0 at the start to the target at the end
    total: Polyline  # the running total, from 0 at the start


def line_chart(values: Sequence[int | None], target: int | None, marks: Sequence[tuple[str, float]], *,
               actual_label: str, target_label: str, width: float = 360, height: float = 220) -> LineChart:
    """`values` are running totals at the end of equal periods (None: not begun, not drawn), `marks` (name,
    where it starts as a share of the time axis); the `target` is reached at the end."""
    left, right, top, bottom, f = 40, 16, 30, 26, 11
    plot_w, base = width - left - right, height - bottom
    ticks_at = axis_ticks(max([v for v in values if v is not None] + [target or 0]))
    x, y = Scale(left, plot_w, max(len(values), 1)), Scale(base, -(base - top), ticks_at[-1])
    legend = [Tick(Line(left, 12, left + 22, 12, **ACTUAL), Text(left + 27, 16, actual_label))]
    if target:
        start = _r(left + 27 + text_width(actual_label, f) + 20)
        legend.append(Tick(Line(start, 12, start + 22, 12, **PACE), Text(start + 27, 16, target_label)))
    return LineChart(
        width=width, height=height, font_size=f, legend=tuple(legend),
        grid=tuple(Tick(Line(left, y.at(v), width - right, y.at(v)), Text(left - 5, _r(y.at(v) + 4), number(v), "end"))
                   for v in ticks_at),
        marks=tuple(Tick(Line(_r(left + plot_w * share), base, _r(left + plot_w * share), base + 4, INK),
                         Text(_r(left + plot_w * share), height - 8, name) if i % 2 == 0 else None)
                    for i, (name, share) in enumerate(marks)),
        pace=Line(left, base, width - right, y.at(target), **PACE) if target else None,
        total=Polyline(((left, base), *((x.at(i), y.at(v)) for i, v in enumerate(values, start=1) if v is not None)), **ACTUAL),
    )


# A weekday × hour heat map -----------------------------------------------------------------------------


def heat_bin(count: int, top: int) -> int | None:
    """Which of the four HEAT colours a cell of `count` takes when the busiest has `top`: each bin holds a
    quarter of 1…top, so the darkest is the busiest quarter. None (the EMPTY colour) for nothing at all."""
    return None if count <= 0 or top <= 0 else min(-(-count * len(HEAT) // top), len(HEAT)) - 1


@dataclass(frozen=True)
class Cell:
    box: Box
    title: str  # "Mon 9h: 3"


@dataclass(frozen=True, kw_only=True)
class HeatMap(Chart):
    columns: tuple[Text, ...]  # hour names above, every third hour
    rows: tuple[Text, ...]  # day names on the left
    cells: tuple[Cell, ...]
    legend: tuple[tuple[Box, Text], ...]  # a swatch per colour used and the counts it stands for


def heat_map(grid: Sequence[Sequence[int]], row_labels: Sequence[str], hour_suffix: str) -> HeatMap:
    """`grid` has a row per day (as `row_labels`) of 24 counts, one per hour; darker is more."""
    cell_w, cell_h, left, top, f = 14, 18, 34, 20, 11
    most = max((count for counts in grid for count in counts), default=0)
    cells = tuple(
        Cell(Box(left + cell_w * hour, top + cell_h * day, cell_w - 1, cell_h - 1,
                 EMPTY if heat_bin(count, most) is None else HEAT[heat_bin(count, most)]),
             f"{row_labels[day]} {hour}{hour_suffix}: {count:,}")
        for day, counts in enumerate(grid) for hour, count in enumerate(counts)
    )
    legend_y = top + cell_h * len(grid) + 10
    ranges = [(0, 0, EMPTY)] + [(most * k // len(HEAT) + 1, most * (k + 1) // len(HEAT), HEAT[k]) for k in range(len(HEAT))]
    legend, x = [], left
    for low, high, fill in (r for r in ranges if r[0] <= r[1]):  # not a bin no count can fall in (the busiest < 4)
        name = f"{low:,}" if low == high else f"{low:,}–{high:,}"
        legend.append((Box(x, legend_y, cell_w - 1, cell_h - 1, fill), Text(x + cell_w + 3, legend_y + 13, name)))
        x = _r(x + cell_w + 3 + text_width(name, f) + 12)
    return HeatMap(
        width=left + 24 * cell_w + 6, height=legend_y + cell_h + 6, font_size=f,
        columns=tuple(Text(left + cell_w * hour + 1, top - 6, f"{hour}{hour_suffix}") for hour in range(0, 24, 3)),
        rows=tuple(Text(left - 6, top + cell_h * day + 13, str(name), "end") for day, name in enumerate(row_labels)),
        cells=cells, legend=tuple(legend),
    )


# A funnel and a progress bar ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Funnel(Chart):
    steps: tuple[Item, ...]  # each with its name and, below it, its value on the left


def funnel(steps: Sequence[Bar], *, width: float = 360, label_width: float = 150) -> Funnel:
    """Steps in order, each bar centred and as wide as its value against the first step's (at least 2, so an
    empty step still shows), its name and note on the left. The last step, the goal, is green."""
    f, line, right = 11, 13, 8
    plot_w, y, drawn = width - label_width - right, 6, []
    scale = Scale(0, plot_w, (steps[0].value if steps else 0) or 1)
    names = [wrap(step.label, label_width - 10, f, 2) for step in steps]
    height = max([40] + [line * (len(lines) + 1) + 14 for lines in names])  # every step as tall as the tallest
    for i, (step, lines) in enumerate(zip(steps, names, strict=True)):
        first = _r(y + (height - line * (len(lines) + 1)) / 2 + f)  # the name and value centred on the bar
        bar_w = max(scale.at(step.value), 2)
        drawn.append(Item(
            f"{step.label}: {step.text}",
            tuple(Text(label_width - 8, _r(first + line * k), text, "end") for k, text in enumerate(lines)),
            Box(_r(label_width + (plot_w - bar_w) / 2), y + 6, bar_w, height - 12, GREEN if i == len(steps) - 1 else BLUE),
            Text(label_width - 8, _r(first + line * len(lines)), step.text, "end", bold=True),
        ))
        y += height
    return Funnel(width=width, height=y + 4, font_size=f, steps=tuple(drawn))


@dataclass(frozen=True, kw_only=True)
class Progress(Chart):
    track: Box
    bar: Box


def progress(actual: float | None, target: float | None, *, width: float = 240, height: float = 14) -> Progress:
    """Actual against target: the track is the target, the bar the actual (full and green once reached)."""
    reached = bool(target) and (actual or 0) >= (target or 0)
    return Progress(width=width, height=height, track=Box(0, 0, width, height, TRACK, radius=height / 2),
                    bar=Box(0, 0, Scale(0, width, target or 0).at(actual), height, GREEN if reached else BLUE, radius=height / 2))
