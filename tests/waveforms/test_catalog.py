"""Catalogues (CSV, QuakeML) and picks (GSE2.0 bulletin, CSV) through ObsPy, with their errors."""

from __future__ import annotations

import pytest
from obspy import UTCDateTime
from obspy.core.event import Catalog, Event, Magnitude, Origin, ResourceIdentifier
from waveform_fixtures import FixtureEvent, write_catalog_csv, write_gse2_bulletin

from seismic_diffusers.waveforms import read_catalog, read_picks


def test_csv_catalogue_and_gse2_picks(marmara):
    events = read_catalog(marmara.catalog_csv)
    assert list(events) == ["20210000", "20210001", "20210002"]
    first = events["20210000"]
    assert first.magnitude == 1.5 and first.depth_km == 8.0 and first.latitude == pytest.approx(40.7)
    attached = read_picks(marmara.bulletin, events)
    assert attached == 8  # (2 + 1 + 1) records x (P, S)
    assert set(first.picks) == {"ISK", "BALB"}
    assert abs(first.picks["ISK"]["P"] - marmara.events[0].picks["ISK"]["P"]) < 0.1  # GSE2 keeps 0.1 s


def test_quakeml_catalogue(marmara, tmp_path):
    catalog = Catalog()
    for e in marmara.events:
        origin = Origin(time=e.time, latitude=e.latitude, longitude=e.longitude, depth=e.depth_km * 1000)
        catalog.append(Event(resource_id=ResourceIdentifier(f"smi:kandilli/event/{e.event_id}"), origins=[origin],
                             magnitudes=[Magnitude(mag=e.magnitude, magnitude_type="ML")]))  # fmt: skip
    catalog.write(str(tmp_path / "catalog.xml"), format="QUAKEML")
    events = read_catalog(tmp_path / "catalog.xml")
    assert list(events) == ["20210000", "20210001", "20210002"]
    assert events["20210002"].depth_km == pytest.approx(10.0) and events["20210002"].magnitude == 3.5
    assert read_picks(marmara.bulletin, events) == 8


def test_csv_picks_and_phase_names(marmara, tmp_path):
    events = read_catalog(marmara.catalog_csv)
    (tmp_path / "picks.csv").write_text(
        "event_id,station,phase,time\n"
        "20210000,ISK,Pg,2021-03-01T12:00:10.00\n"
        "20210000,ISK,Pn,2021-03-01T12:00:09.50\n"  # the earlier P wins
        "20210000,ISK,Sg,2021-03-01T12:00:15.00\n"
        "20210000,ISK,Lg,2021-03-01T12:00:25.00\n"  # neither P nor S: ignored
    )
    read_picks(tmp_path / "picks.csv", events)
    assert events["20210000"].picks["ISK"] == {
        "P": UTCDateTime("2021-03-01T12:00:09.50"),
        "S": UTCDateTime("2021-03-01T12:00:15.00"),
    }


def test_bulletin_ids_that_differ_match_by_origin_time(marmara, tmp_path):
    renumbered = [FixtureEvent(f"9{e.event_id}", e.time, e.latitude, e.longitude, e.depth_km, e.magnitude, e.picks)
                  for e in marmara.events]  # fmt: skip
    events = read_catalog(marmara.catalog_csv)
    assert read_picks(write_gse2_bulletin(tmp_path / "other.gse", renumbered), events) == 8


@pytest.mark.parametrize("drop", ["magnitude", "depth", "time"])
def test_catalogue_with_missing_columns_is_refused(marmara, tmp_path, drop):
    path = write_catalog_csv(tmp_path / "bad.csv", marmara.events, drop=drop)
    with pytest.raises(ValueError, match=f"lacks the column\\(s\\) {drop}; it needs time, latitude"):
        read_catalog(path)


def test_catalogue_with_nan_or_garbage_is_refused(tmp_path):
    (tmp_path / "nan.csv").write_text(
        "time,latitude,longitude,depth,magnitude\n2021-03-01T12:00:00,40.7,28.9,8,nan\n"
    )
    with pytest.raises(ValueError, match=r"row 2 \(event ev0\): magnitude is 'nan'"):
        read_catalog(tmp_path / "nan.csv")
    (tmp_path / "time.csv").write_text("time,latitude,longitude,depth,magnitude\nyesterday,40.7,28.9,8,2\n")
    with pytest.raises(ValueError, match="is not a date-time"):
        read_catalog(tmp_path / "time.csv")
    with pytest.raises(ValueError, match="does not exist"):
        read_catalog(tmp_path / "missing.csv")
    (tmp_path / "junk.xml").write_text("<not quakeml/>")
    with pytest.raises(ValueError, match="neither CSV nor readable by ObsPy"):
        read_catalog(tmp_path / "junk.xml")


def test_picks_for_events_not_in_the_catalogue_are_refused(marmara, tmp_path):
    events = read_catalog(marmara.catalog_csv)
    stranger = FixtureEvent("77777", UTCDateTime(2022, 1, 1), 40.0, 29.0, 5.0, 2.0,
                            {"ISK": {"P": UTCDateTime(2022, 1, 1, 0, 0, 5)}})  # fmt: skip
    bulletin = write_gse2_bulletin(tmp_path / "extra.gse", [*marmara.events, stranger])
    with pytest.raises(ValueError, match=r"picks for 1 event\(s\) that are not in the catalogue .*: 77777"):
        read_picks(bulletin, events)
    (tmp_path / "picks.csv").write_text("event_id,station,time\n1,ISK,2021-03-01T12:00:10\n")
    with pytest.raises(ValueError, match="lacks the column\\(s\\) phase"):
        read_picks(tmp_path / "picks.csv", events)
    (tmp_path / "junk.gse").write_text("BEGIN GSE2.0\nnonsense\n")
    with pytest.raises(ValueError, match="not a readable GSE2.0 bulletin"):
        read_picks(tmp_path / "junk.gse", events)
