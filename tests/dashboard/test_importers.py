"""Alert-table import: column mappings, bad rows reported by line and skipped, nothing valid dropped."""

from __future__ import annotations

import json

import pytest

from dashboard.importers import load_mapping, read_alert_table
from dashboard.sources import import_table
from dashboard.store import DashboardStore
from salvo.errors import ConfigError, InputError
from salvo.utc import parse_utc_ns

SF_HEADER = "Type,ID,Date,Time,Rnds,Beat,DISPO,returned address,Latitude,Longitude\n"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_sf_format_local_time_becomes_utc_and_bad_rows_are_reported(tmp_path):
    csv_path = _write(
        tmp_path / "sf.csv",
        SF_HEADER
        + 'Single_Gunshot,1,4-Jul-14,21:30:00,1,,,"1 A St, SF",37.75,-122.41\n'  # line 2, PDT (UTC-7)
        + ',,15-Jan-14,23:05:10,3,,,"2 B St",37.73,-122.39\n'  # line 3, PST (UTC-8), no id
        + "Single_Gunshot,3,31-Feb-14,1:00:00,1,,,x,37.7,-122.4\n"  # line 4: no such date
        + "Single_Gunshot,4,1-Mar-14,1:00:00,two,,,x,37.7,-122.4\n"  # line 5: bad rounds
        + "Single_Gunshot,5,1-Mar-14,1:00:00,1,,,x,,-122.4\n"  # line 6: no latitude
        + 'Multiple_Gunshots,6,2-Mar-14,2:00:00,4,,,"multi\nline",37.71,-122.45\n'  # lines 7-8, valid
        + "Single_Gunshot,7,1-Mar-14,1:00:00,1,,,x,37.7,-222.4\n",  # line 9: longitude out of range
    )
    table = read_alert_table(csv_path, load_mapping("sf-shotspotter"))
    assert [r.ext_id for r in table.rows] == ["1", "L3", "6"]
    assert table.rows[0].t_ns == parse_utc_ns("2014-07-05T04:30:00Z")
    assert table.rows[1].t_ns == parse_utc_ns("2014-01-16T07:05:10Z")
    assert table.rows[2].rounds == 4 and table.rows[2].kind == "Multiple_Gunshots"
    assert [e.line for e in table.errors] == [4, 5, 6, 9]
    assert [e.field for e in table.errors] == ["Date", "Rnds", "Latitude", "Longitude"]
    assert table.error_lines()[0].startswith(f"{csv_path}:4: Date:")


def test_other_city_loads_through_a_json_mapping_without_code(tmp_path):
    mapping = _write(
        tmp_path / "city.json",
        json.dumps(
            {
                "name": "othercity",
                "timezone": "America/Chicago",
                "datetime_format": "%m/%d/%Y %I:%M %p",
                "default_rounds": 1,
                "columns": {"datetime": "When", "lat": "Y", "lon": "X", "rounds": "Shots", "id": "Incident"},
            }
        ),
    )
    csv_path = _write(
        tmp_path / "c.csv",
        "Incident,When,X,Y,Shots\nA1,07/04/2020 11:15 PM,-87.63,41.88,\nA2,13/04/2020 11:15 PM,-87.6,41.8,2\n",
    )
    table = read_alert_table(csv_path, load_mapping(mapping))
    assert len(table.rows) == 1 and table.rows[0].rounds == 1  # empty rounds -> default
    assert table.rows[0].t_ns == parse_utc_ns("2020-07-05T04:15:00Z")  # CDT = UTC-5
    assert table.errors[0].line == 3 and table.errors[0].field == "When"


def test_mapping_errors_name_the_field(tmp_path):
    bad = _write(tmp_path / "m.toml", '[columns]\nlat = "a"\nlon = "b"\nwhen = "c"\n')
    with pytest.raises(ConfigError, match=r"columns\.when"):
        load_mapping(bad)
    with pytest.raises(ConfigError, match="datetime"):
        load_mapping(_write(tmp_path / "m2.toml", '[columns]\nlat = "a"\nlon = "b"\n'))
    with pytest.raises(ConfigError, match="no such mapping"):
        load_mapping("atlantis")


def test_missing_column_is_an_input_error_naming_it(tmp_path):
    csv_path = _write(tmp_path / "x.csv", "Date,Time,Latitude\n1-Jan-13,0:00:00,37.7\n")
    with pytest.raises(InputError, match="Longitude"):
        read_alert_table(csv_path, load_mapping("sf-shotspotter"))


def test_reimport_is_idempotent(tmp_path):
    csv_path = _write(tmp_path / "sf.csv", SF_HEADER + ',,1-Jan-13,0:01:47,6,,,"a",37.7366,-122.3908\n')
    with DashboardStore(tmp_path / "d.db") as store:
        first = import_table(store, csv_path, load_mapping("sf-shotspotter"), "sf")
        again = import_table(store, csv_path, load_mapping("sf-shotspotter"), "sf")
        assert (first.n_added, again.n_added, again.n_duplicate) == (1, 0, 1)
        assert store.count() == 1


@pytest.mark.realdata
def test_sf_release_imports_every_row(sf_alerts, tmp_path):
    with DashboardStore(tmp_path / "d.db") as store:
        rep = import_table(store, sf_alerts / "San_Francisco_ShotSpotter.csv", load_mapping("sf-shotspotter"), "sf")
        assert rep.errors == () and rep.n_added == 4385 and store.count() == 4385


def test_builtin_iso_utc_mapping(tmp_path):
    csv_path = _write(tmp_path / "x.csv", "id,t_utc,lat,lon,rounds,class\n"
                                          "i1,2026-07-04T21:15:03.5Z,41.88,-87.63,3,gunfire\n"
                                          "i2,2026-07-04 21:15,41.88,-87.63,3,gunfire\n")
    table = read_alert_table(csv_path, load_mapping("iso-utc"))
    assert [(r.ext_id, r.t_ns, r.rounds, r.kind) for r in table.rows] == \
        [("i1", parse_utc_ns("2026-07-04T21:15:03.5Z"), 3, "gunfire")]
    assert [(e.line, e.field) for e in table.errors] == [(3, "t_utc")]
