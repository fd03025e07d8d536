import pytest
from hypothesis import given, strategies as st

from salvo.errors import InputError
from salvo.utc import format_utc_ns, parse_utc_ns


def test_parse_known_time():
    # 2018-12-19T00:49:26Z is 1545180566 s after the epoch (date -u -d ... +%s).
    assert parse_utc_ns("2018-12-19T00:49:26.000Z") == 1545180566 * 10**9
    assert parse_utc_ns("2018-12-19T00:49:26.123456789Z") == 1545180566 * 10**9 + 123456789


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))
def test_round_trip_ns(t_ns):
    assert parse_utc_ns(format_utc_ns(t_ns, digits=9)) == t_ns


@pytest.mark.parametrize("bad", ["", "yesterday", "2018-13-01T00:00:00Z", "2018-12-19T00:49:26+02:00"])
def test_bad_times_name_the_field(bad):
    with pytest.raises(InputError, match="start_utc"):
        parse_utc_ns(bad, what="start_utc")
