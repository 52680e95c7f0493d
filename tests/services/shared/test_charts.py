"""Chart geometry: scales and round gridlines, labels that fit, bars, columns, the running total against its
pace, heat-map colours, the funnel and the progress bar, for ordinary, empty, zero and missing figures."""

import pytest

from app.services.shared import charts
from app.services.shared.charts import Bar


def contrast(color: str, background: str = charts.PAPER) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""

    def luminance(hex_color: str) -> float:
        rgb = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted([luminance(color), luminance(background)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


# The palette


def test_text_is_dark_enough_to_read_and_every_line_or_bar_colour_stands_out_from_the_paper():
    assert contrast(charts.INK) >= 7
    for color in (charts.BLUE, charts.VERMILLION, charts.GREEN, charts.GREY):
        assert contrast(color) >= 3, color


def test_heat_colours_darken_step_by_step_up_to_the_palette_blue():
    assert charts.HEAT[-1] == charts.BLUE.lower()
    ratios = [contrast(color) for color in charts.HEAT]
    assert ratios == sorted(ratios) and len(set(charts.HEAT)) == 4
    assert charts.tint("#000000", 0) == "#ffffff" and charts.tint("#000000", 0.5) == "#808080"


# Measures and scales


def test_axis_ticks_are_round_steps_that_stop_at_the_first_one_reaching_the_top():
    assert charts.axis_ticks(5) == [0, 2, 4, 6]
    assert charts.axis_ticks(9) == [0, 5, 10]
    assert charts.axis_ticks(13) == [0, 5, 10, 15]
    assert charts.axis_ticks(23) == [0, 10, 20, 30]
    assert charts.axis_ticks(100) == [0, 25, 50, 75, 100]
    assert charts.axis_ticks(101) == [0, 50, 100, 150]
    assert charts.axis_ticks(9_999) == [0, 2_500, 5_000, 7_500, 10_000]


def test_axis_ticks_of_nothing_still_have_one_step_and_never_more_than_the_count():
    assert charts.axis_ticks(0) == [0, 1]
    assert charts.axis_ticks(0.4) == [0, 1]
    assert all(len(charts.axis_ticks(top)) <= 5 for top in range(0, 2_000, 7))
    assert all(charts.axis_ticks(top)[-1] >= top > charts.axis_ticks(top)[-2] for top in range(1, 2_000, 7))


def test_a_scale_maps_zero_to_its_start_and_the_top_to_its_end_in_either_direction():
    across = charts.Scale(start=10, length=200, top=40)
    assert (across.at(0), across.at(10), across.at(40)) == (10, 60, 210)
    upwards = charts.Scale(start=190, length=-160, top=100)
    assert (upwards.at(0), upwards.at(25), upwards.at(100)) == (190, 150, 30)


def test_a_scale_draws_missing_and_negative_values_at_zero_and_caps_values_beyond_the_top():
    scale = charts.Scale(start=0, length=100, top=10)
    assert scale.at(None) == scale.at(-5) == 0
    assert scale.at(12) == 100
    assert charts.Scale(start=5, length=100, top=0).at(3) == 5  # nothing to scale by: everything at the start


def test_japanese_characters_are_measured_a_full_em_and_latin_ones_narrower():
    assert charts.text_width("東京都", 10) == 30
    assert charts.text_width("Tokyo", 10) == 30
    assert charts.text_width("50%", 10) == 22
    assert charts.text_width("50%", 10, bold=True) == pytest.approx(24.2)


def test_english_wraps_at_spaces_and_japanese_between_any_two_characters():
    assert charts.wrap("I made a furusato tax donation", 110, 10, 3) == ["I made a furusato", "tax donation"]
    assert charts.wrap("二地域居住を具体的に考えている", 60, 10, 3) == ["二地域居住を", "具体的に考え", "ている"]
    assert charts.wrap("Tokyo", 100, 10, 3) == ["Tokyo"]
    assert charts.wrap("", 100, 10, 3) == [""]


def test_a_label_longer_than_its_lines_ends_in_an_ellipsis_that_still_fits():
    lines = charts.wrap("あ" * 20, 50, 10, 2)
    assert lines == ["あああああ", "ああああ…"]
    assert all(charts.text_width(line, 10) <= 50 for line in lines)


def test_numbers_are_written_with_thousands_separators_and_a_dash_when_missing():
    assert (charts.number(1234), charts.number(0), charts.number(None)) == ("1,234", "0", "—")


# Horizontal bars


def test_bars_run_along_round_gridlines_that_reach_the_largest_value_or_target():
    chart = charts.bar_chart([Bar("Tokyo", 23), Bar("Hokkaido", 11, target=30)])
    assert [tick.label.text for tick in chart.ticks] == ["0", "10", "20", "30"]
    zero, *_rest, thirty = chart.ticks
    assert zero.line.x1 == chart.rows[0].bar.x == 130  # the labels' column ends where the bars start
    assert chart.rows[0].bar.width == pytest.approx((thirty.line.x1 - zero.line.x1) * 23 / 30, abs=0.1)
    assert chart.rows[1].target.x1 == thirty.line.x1
    assert all(tick.line.y2 < tick.label.y < chart.height for tick in chart.ticks)


def test_short_labels_stand_beside_their_bars_and_a_long_one_puts_every_label_above_its_bar():
    beside = charts.bar_chart([Bar("Tokyo", 3), Bar("Osaka", 2)])
    assert [(row.label[0].text, row.label[0].anchor) for row in beside.rows] == [("Tokyo", "end"), ("Osaka", "end")]
    assert beside.rows[0].label[0].x < beside.rows[0].bar.x

    long = "I have family or relatives here and visit them every summer with my children"
    above = charts.bar_chart([Bar("Tokyo", 3), Bar(long, 2)])
    first, second = above.rows
    assert first.label[0].text == "Tokyo" and first.label[0].y < first.bar.y
    assert [t.text for t in second.label] == ["I have family or relatives here and visit them every", "summer with my children"]
    assert second.label[-1].y < second.bar.y and first.bar.y + first.bar.height < second.label[0].y
    assert above.rows[0].bar.x == above.ticks[0].line.x1 > 0  # room for the "0" under the first gridline


def test_each_value_is_written_past_its_bar_or_its_target_whichever_is_longer():
    chart = charts.bar_chart([Bar("A", 9, target=10), Bar("B", 10, target=5), Bar("C", 0)])
    marks = [row.target.x1 if row.target else None for row in chart.rows]
    assert chart.rows[0].value.x > marks[0] > chart.rows[0].bar.x + chart.rows[0].bar.width
    assert chart.rows[1].value.x > chart.rows[1].bar.x + chart.rows[1].bar.width > marks[1]
    assert chart.rows[2].bar.width == 0 and chart.rows[2].value.text == "0" and chart.rows[2].target is None
    assert all(row.value.x + charts.text_width(row.value.text, 11, bold=True) <= chart.width for row in chart.rows)


def test_a_target_is_a_thick_dark_mark_across_its_bar_and_a_muted_bar_is_grey():
    target, muted = charts.bar_chart([Bar("Area", 4, target=8), Bar("Not considering it", 3, muted=True)]).rows
    assert (target.target.color, target.target.width) == (charts.INK, 3)
    assert target.target.y1 < target.bar.y and target.target.y2 > target.bar.y + target.bar.height
    assert (target.bar.fill, muted.bar.fill) == (charts.BLUE, charts.GREY)
    assert target.title == "Area: 4"


def test_a_missing_value_draws_no_bar_and_writes_a_dash():
    (row,) = charts.bar_chart([Bar("Not counted", None)]).rows
    assert row.bar.width == 0 and row.value.text == "—" and row.title == "Not counted: —"


def test_bars_of_nothing_keep_an_axis_from_0_to_1_and_no_bars_leave_only_the_axis():
    zeros = charts.bar_chart([Bar("A", 0), Bar("B", 0)])
    assert [t.label.text for t in zeros.ticks] == ["0", "1"]
    assert all(row.bar.width == 0 for row in zeros.rows)
    empty = charts.bar_chart([])
    assert empty.rows == () and len(empty.ticks) == 2 and empty.height > 0


def test_bars_of_shares_lie_on_full_length_tracks_with_their_notes_at_the_right_edge():
    chart = charts.bar_chart([Bar("はい", 2 / 3, "2件（66.7%）"), Bar("いいえ", 1, "3件（100%）")], width=640, font_size=16, maximum=1)
    half, full = chart.rows
    assert chart.ticks == ()
    assert half.track.width == full.track.width == full.bar.width
    assert half.bar.width == pytest.approx(half.track.width * 2 / 3, abs=0.1)
    assert (half.value.x, half.value.anchor, half.value.text) == (640, "end", "2件（66.7%）")
    widest = charts.text_width("2件（66.7%）", 16, bold=True)
    assert full.track.x + full.track.width < 640 - widest  # the note never runs into the track


# Columns


def test_columns_rise_from_the_baseline_by_their_share_in_the_colours_given_in_turn():
    bars = [Bar(str(n), share, f"{n}") for n, share in enumerate((0, 0.25, 0, 0.25, 0.5), start=1)]
    chart = charts.column_chart(bars, plot_height=140, colors=charts.DIVERGING_5)
    base = chart.baseline.y1
    heights = [column.bar.height for column in chart.columns]
    assert heights == [0, 35, 0, 35, 70]
    assert all(column.bar.y + column.bar.height == base for column in chart.columns)
    assert [column.bar.fill for column in chart.columns] == list(charts.DIVERGING_5)
    assert all(column.value.y < column.bar.y and column.label[0].y > base for column in chart.columns)
    middles = [column.bar.x + column.bar.width / 2 for column in chart.columns]
    assert middles == pytest.approx([64, 192, 320, 448, 576], abs=0.1)  # five equal slots of 640


def test_a_long_column_label_wraps_to_two_lines_within_its_slot_and_the_chart_grows_for_them():
    short = charts.column_chart([Bar("1", 0.5), Bar("2", 0.5)], width=200)
    long = charts.column_chart([Bar("1（まったく満足できなかった）", 0.5), Bar("2", 0.5)], width=200)
    assert len(long.columns[0].label) == 2 and long.columns[0].label[1].text.endswith("…")
    assert long.height > short.height


# The running total against its pace


MONTHS = [("Apr", 0.0), ("May", 0.08), ("Jun", 0.17), ("Jul", 0.25)]


def test_the_running_total_starts_at_zero_and_stops_at_the_last_period_begun():
    chart = charts.line_chart([2, 5, 9, None], 20, MONTHS, actual_label="Actual", target_label="Pace")
    (x0, base), *points = chart.total.points
    assert base == chart.grid[0].line.y1 and x0 == chart.grid[0].line.x1  # 0 at the start
    assert len(points) == 3
    xs = [x for x, _y in points]
    assert xs == sorted(xs) and xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.1)
    assert [tick.label.text for tick in chart.grid] == ["0", "5", "10", "15", "20"]
    assert points[-1][1] == pytest.approx(base - (base - chart.grid[-1].line.y1) * 9 / 20, abs=0.1)


def test_the_pace_runs_from_zero_at_the_start_to_the_target_at_the_end_and_is_dashed():
    chart = charts.line_chart([2, 5, 9, None], 16, MONTHS, actual_label="Actual", target_label="Pace")
    assert (chart.pace.x1, chart.pace.y1) == chart.total.points[0]
    assert chart.pace.x2 == chart.grid[0].line.x2
    assert chart.pace.y2 == pytest.approx(chart.grid[0].line.y1 - (chart.grid[0].line.y1 - chart.grid[-1].line.y1) * 16 / 20, abs=0.1)
    assert chart.pace.dash and not chart.total.dash
    actual, pace = chart.legend
    assert pace.line.x1 > actual.label.x + charts.text_width("Actual", 11)  # the legends never overlap


def test_without_a_target_there_is_no_pace_nor_its_legend_and_the_axis_fits_the_figures():
    chart = charts.line_chart([0, 0, 0], None, MONTHS, actual_label="Actual", target_label="Pace")
    assert chart.pace is None and len(chart.legend) == 1
    assert [tick.label.text for tick in chart.grid] == ["0", "1"]
    assert [y for _x, y in chart.total.points] == [chart.grid[0].line.y1] * 4  # flat on the baseline


def test_every_period_is_marked_on_the_time_axis_and_every_other_one_named():
    chart = charts.line_chart([1], 4, MONTHS, actual_label="Actual", target_label="Pace")
    assert [mark.label.text if mark.label else None for mark in chart.marks] == ["Apr", None, "Jun", None]


def test_a_year_not_begun_draws_only_the_starting_point():
    chart = charts.line_chart([None, None], 10, MONTHS, actual_label="Actual", target_label="Pace")
    assert len(chart.total.points) == 1


# The heat map


def test_heat_bins_split_one_to_the_busiest_count_into_quarters_darkest_for_the_busiest():
    assert [charts.heat_bin(count, 8) for count in range(9)] == [None, 0, 0, 1, 1, 2, 2, 3, 3]
    assert [charts.heat_bin(count, 2) for count in range(3)] == [None, 1, 3]
    assert charts.heat_bin(0, 0) is None


def test_cells_take_their_bin_colour_and_say_their_count_and_empty_ones_are_pale_grey():
    grid = [[0] * 24 for _ in range(7)]
    grid[5][12] = 8
    grid[0][9] = 1
    chart = charts.heat_map(grid, ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "h")
    cells = {cell.title: cell.box for cell in chart.cells}
    assert len(chart.cells) == 7 * 24
    assert cells["Sat 12h: 8"].fill == charts.HEAT[3] and cells["Mon 9h: 1"].fill == charts.HEAT[0]
    assert cells["Sun 23h: 0"].fill == charts.EMPTY
    assert cells["Sat 12h: 8"].y > cells["Mon 9h: 1"].y and cells["Sat 12h: 8"].x > cells["Mon 9h: 1"].x
    assert [t.text for t in chart.columns] == ["0h", "3h", "6h", "9h", "12h", "15h", "18h", "21h"]


def test_the_heat_legend_names_the_counts_of_each_colour_a_count_can_take():
    grid = [[0] * 24 for _ in range(7)]
    grid[1][1] = 9
    chart = charts.heat_map(grid, ["月", "火", "水", "木", "金", "土", "日"], "時")
    assert [(swatch.fill, text.text) for swatch, text in chart.legend] == [
        (charts.EMPTY, "0"), (charts.HEAT[0], "1–2"), (charts.HEAT[1], "3–4"), (charts.HEAT[2], "5–6"), (charts.HEAT[3], "7–9")]
    few = [[0] * 24 for _ in range(7)]
    few[0][0] = 2
    legend = charts.heat_map(few, ["月", "火", "水", "木", "金", "土", "日"], "時").legend
    assert [text.text for _swatch, text in legend] == ["0", "1", "2"]
    assert legend[1][0].fill == charts.HEAT[1] and legend[2][0].fill == charts.HEAT[3]


def test_a_heat_map_of_nothing_is_all_grey_with_only_the_zero_swatch():
    chart = charts.heat_map([[0] * 24 for _ in range(7)], ["月", "火", "水", "木", "金", "土", "日"], "時")
    assert {cell.box.fill for cell in chart.cells} == {charts.EMPTY}
    assert [text.text for _swatch, text in chart.legend] == ["0"]


# The funnel and the progress bar


def test_funnel_bars_are_centred_as_wide_as_their_share_of_the_first_step_ending_in_green():
    chart = charts.funnel([Bar("Used an offer", 40, "40 (100.0%)"), Bar("Applied", 10, "10 (25.0%)"), Bar("Premium", 0, "0 (0.0%)")])
    first, second, last = (step.bar for step in chart.steps)
    assert second.width == pytest.approx(first.width / 4, abs=0.1)
    assert first.x + first.width / 2 == pytest.approx(second.x + second.width / 2, abs=0.1)
    assert last.width == 2  # an empty step still shows
    assert [bar.fill for bar in (first, second, last)] == [charts.BLUE, charts.BLUE, charts.GREEN]
    assert [step.value.text for step in chart.steps] == ["40 (100.0%)", "10 (25.0%)", "0 (0.0%)"]
    assert all(step.value.bold and step.value.y > step.label[-1].y for step in chart.steps)


def test_funnel_names_wrap_instead_of_being_cut_and_every_step_is_as_tall_as_the_tallest():
    chart = charts.funnel([Bar("Used an offer for the first time", 35), Bar("Premium tier", 4)])
    assert [t.text for t in chart.steps[0].label] == ["Used an offer for the", "first time"]
    assert chart.steps[0].bar.height == chart.steps[1].bar.height
    assert charts.funnel([]).steps == ()


def test_progress_fills_by_actual_against_target_and_turns_green_once_reached():
    halfway = charts.progress(50, 100)
    assert (halfway.bar.width, halfway.bar.fill, halfway.track.width) == (120, charts.BLUE, 240)
    beyond = charts.progress(63.6, 60)
    assert (beyond.bar.width, beyond.bar.fill) == (240, charts.GREEN)
    assert charts.progress(None, 100).bar.width == 0
    assert charts.progress(5, None).bar.width == 0 and charts.progress(5, None).bar.fill == charts.BLUE
