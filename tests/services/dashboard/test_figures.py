"""The arithmetic the dashboard's figures share."""

from app.services.dashboard.figures import percent


def test_percentages_round_half_up_to_one_decimal():
    assert [percent(1, 8), percent(1, 3), percent(2, 3), percent(5, 14), percent(0, 3)] == [
        12.5, 33.3, 66.7, 35.7, 0.0]
    assert percent(3, 0) is None
