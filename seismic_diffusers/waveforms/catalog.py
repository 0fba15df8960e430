"""Earthquake catalogues (QuakeML or CSV) and phase picks (GSE2.0 bulletins or CSV), read with ObsPy."""

from __future__ import annotations

import csv
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from obspy import UTCDateTime

PathLike = str | os.PathLike
CATALOG_COLUMNS = ("time", "latitude", "longitude", "depth", "magnitude")
PICK_COLUMNS = ("event_id", "station", "phase", "time")
# A bulletin event whose id is not in the catalogue matches the catalogue event with the same
# origin time within this many seconds (bulletins and catalogues often number events differently).
ORIGIN_TIME_TOLERANCE_S = 2.0


@dataclass
class CatalogEvent:
    """One catalogue event: origin time, epicentre (degrees), depth (km), magnitude, and its picks
    as `{station: {"P": UTCDateTime, "S": UTCDateTime}}`."""

    event_id: str
    time: UTCDateTime
    latitude: float
    longitude: float
    depth_km: float
    magnitude: float
    picks: dict[str, dict[str, UTCDateTime]] = field(default_factory=dict)


def _event_id(resource_id) -> str:
    return str(resource_id).rstrip("/").split("/")[-1]


def _finite(value, name: str, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} {value!r} is not a number.") from None
    if not math.isfinite(number):
        raise ValueError(f"{where}: {name} is {value!r}; it must be finite.")
    return number


def read_catalog(path: PathLike) -> dict[str, CatalogEvent]:
    r"""
    Read an earthquake catalogue: QuakeML (any format `obspy.read_events` knows) or CSV.

    A CSV needs the columns `time` (ISO 8601, UTC), `latitude`, `longitude` (degrees), `depth`
    (km) and `magnitude`; an `event_id` column is used when present (else `ev0`, `ev1`, ...). For
    QuakeML, each event's preferred (else first) origin and magnitude are used, depth is
    converted from metres to km, and the id is the last part of the event's resource id.

    Returns:
        `dict` of `CatalogEvent` by event id, in file order.

    Raises:
        ValueError: a missing file, missing CSV columns (listed), non-numeric or NaN values,
            events without origin or magnitude, or duplicate ids.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Catalogue {path} does not exist.")
    events: dict[str, CatalogEvent] = {}
    if path.suffix.lower() == ".csv":
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in CATALOG_COLUMNS if c not in columns]
            if missing:
                raise ValueError(
                    f"Catalogue {path} lacks the column(s) {', '.join(missing)}; it needs "
                    f"{', '.join(CATALOG_COLUMNS)} (and optionally event_id). Found: {', '.join(columns) or 'none'}."
                )
            for row_number, row in enumerate(reader):
                row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
                event_id = row.get("event_id") or f"ev{row_number}"
                where = f"{path} row {row_number + 2} (event {event_id})"
                try:
                    time = UTCDateTime(row["time"])
                except Exception as error:
                    raise ValueError(f"{where}: time {row['time']!r} is not a date-time ({error}).") from None
                event = CatalogEvent(
                    event_id,
                    time,
                    *(_finite(row[c], c, where) for c in ("latitude", "longitude", "depth", "magnitude")),
                )
                if event_id in events:
                    raise ValueError(f"{where}: duplicate event id {event_id!r}.")
                events[event_id] = event
    else:
        from obspy import read_events

        try:
            catalog = read_events(str(path))
        except Exception as error:
            raise ValueError(f"Catalogue {path} is neither CSV nor readable by ObsPy ({error}).") from error
        for event in catalog:
            event_id = _event_id(event.resource_id)
            origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
            magnitude = event.preferred_magnitude() or (event.magnitudes[0] if event.magnitudes else None)
            if origin is None or magnitude is None:
                raise ValueError(f"Catalogue {path}: event {event_id} has no origin or no magnitude.")
            where = f"{path} event {event_id}"
            depth_m = origin.depth if origin.depth is not None else float("nan")
            events[event_id] = CatalogEvent(
                event_id,
                origin.time,
                _finite(origin.latitude, "latitude", where),
                _finite(origin.longitude, "longitude", where),
                _finite(depth_m, "depth", where) / 1000.0,
                _finite(magnitude.mag, "magnitude", where),
            )
    if not events:
        raise ValueError(f"Catalogue {path} holds no events.")
    return events


def _match_event(
    events: dict[str, CatalogEvent], event_id: str, origin_time: UTCDateTime | None
) -> str | None:
    if event_id in events:
        return event_id
    if origin_time is not None:
        for candidate in events.values():
            if abs(candidate.time - origin_time) <= ORIGIN_TIME_TOLERANCE_S:
                return candidate.event_id
    return None


def read_picks(path: PathLike, events: dict[str, CatalogEvent]) -> int:
    r"""
    Attach phase picks to catalogue events (in place): a GSE2.0 bulletin read through
    `obspy.read_events(format="GSE2")`, or a CSV with columns `event_id`, `station`, `phase`,
    `time`.

    A bulletin event matches the catalogue event with the same id (its `EVENT` number), else
    the one whose origin time is within 2 s. Phases are reduced to `P` or `S` by their first
    letter (`Pg`, `Pn` -> `P`); the earliest pick of each wins.

    Returns:
        `int`: the number of picks attached.

    Raises:
        ValueError: a missing or unreadable file, missing CSV columns, or picks for events that
            are not in the catalogue (their ids are listed).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Pick file {path} does not exist.")
    rows: list[tuple[str, UTCDateTime | None, str, str, UTCDateTime]] = []
    if path.suffix.lower() == ".csv":
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in PICK_COLUMNS if c not in columns]
            if missing:
                raise ValueError(
                    f"Pick file {path} lacks the column(s) {', '.join(missing)}; it needs {', '.join(PICK_COLUMNS)}."
                )
            for row in reader:
                row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
                rows.append((row["event_id"], None, row["station"], row["phase"], UTCDateTime(row["time"])))
    else:
        from obspy import read_events

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the bulletin reader warns about optional fields
                bulletin = read_events(str(path), format="GSE2")
        except Exception as error:
            raise ValueError(f"Pick file {path} is not a readable GSE2.0 bulletin ({error}).") from error
        for event in bulletin:
            origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
            for pick in event.picks:
                phase = pick.phase_hint or ""
                rows.append(
                    (_event_id(event.resource_id), origin.time if origin else None,
                     pick.waveform_id.station_code, phase, pick.time)
                )  # fmt: skip
    unknown, attached = [], 0
    for event_id, origin_time, station, phase, time in rows:
        matched = _match_event(events, event_id, origin_time)
        if matched is None:
            unknown.append(event_id)
            continue
        kind = phase[:1].upper()
        if kind not in ("P", "S"):
            continue
        station_picks = events[matched].picks.setdefault(station, {})
        if kind not in station_picks or time < station_picks[kind]:
            station_picks[kind] = time
        attached += 1
    if unknown:
        names = sorted(set(unknown))
        raise ValueError(
            f"Pick file {path} has picks for {len(names)} event(s) that are not in the catalogue "
            f"(by id, or by origin time within {ORIGIN_TIME_TOLERANCE_S:g} s): {', '.join(names[:10])}"
            + (" ..." if len(names) > 10 else "")
        )
    return attached
