"""``salvo dashboard ...`` through the real command dispatcher."""

from __future__ import annotations

import json

from salvo.cli import main

SQUARES = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"nhood": "West"},
     "geometry": {"type": "Polygon", "coordinates": [[[-122.5, 37.7], [-122.4, 37.7], [-122.4, 37.8], [-122.5, 37.8],
                                                      [-122.5, 37.7]]]}}]}


def test_import_zones_schools_and_partners(tmp_path, capsys):
    db = str(tmp_path / "d.db")
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("Type,ID,Date,Time,Rnds,Beat,DISPO,returned address,Latitude,Longitude\n"
                        ",,1-Jan-13,0:01:47,6,,,a,37.7366,-122.45\n,,1-Jan-13,bad,6,,,a,37.7366,-122.45\n")
    assert main(["dashboard", "import", str(csv_path), "--db", db]) == 0
    out = capsys.readouterr()
    assert "1 valid rows, 1 added" in out.out and f"{csv_path}:3: Time" in out.err
    zones = tmp_path / "z.geojson"
    zones.write_text(json.dumps(SQUARES))
    assert main(["dashboard", "zones", str(zones), "--name-property", "nhood", "--db", db]) == 0
    schools = tmp_path / "s.csv"
    schools.write_text("name,lat,lon\nA,37.75,-122.45\n")
    assert main(["dashboard", "schools", str(schools), "--db", db]) == 0
    capsys.readouterr()
    assert main(["dashboard", "partner", "add", "west-team", "--zone", "West", "--db", db]) == 0
    token = capsys.readouterr().out.strip()
    assert token.split(".")[0].isdigit()
    assert main(["dashboard", "partner", "list", "--db", db]) == 0
    assert "west-team\tpartner\tWest" in capsys.readouterr().out
    assert main(["dashboard", "partner", "add", "x", "--zone", "Nowhere", "--db", db]) == 2
    assert "Nowhere" in capsys.readouterr().err
    assert main(["dashboard", "partner", "remove", "west-team", "--db", db]) == 0
    assert main(["dashboard", "partner", "remove", "west-team", "--db", db]) == 1
    assert main(["dashboard", "import", str(tmp_path / "missing.csv"), "--db", db]) == 2
    out_csv = tmp_path / "west.csv"
    assert main(["dashboard", "report", "--db", db, "--zone", "West", "--hour", "0", "--out", str(out_csv)]) == 0
    assert len(out_csv.read_text().strip().split("\n")) == 2  # header + the 00:01 incident
    out_png = tmp_path / "school.png"
    assert main(["dashboard", "report", "--db", db, "--school", "A", "--out", str(out_png)]) == 0
    assert out_png.read_bytes()[:4] == b"\x89PNG"
    assert main(["dashboard", "report", "--db", db, "--zone", "East", "--out", str(out_png)]) == 2
    assert main(["dashboard", "report", "--db", db, "--out", str(tmp_path / "x.txt")]) == 2
