"""Writers of the waveform track's fixture inputs: a CSV catalogue, a GSE2.0 bulletin and 3-C records.

A plain module (not conftest.py) so test modules can import it: several conftest.py files
share the module name `conftest`."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from obspy import Stream, Trace, UTCDateTime

# Column templates from the GSE2.0 standard's example bulletin (fixed-width fields)
ORIGIN = "1995/01/16 07:26:52.4     39.4500   20.4400     66.8       9    8 322  mb 3.6  3  ML 4.0  1             GSE_IDC     282672"
PICK = "GERES  10.56 150.3 m E P       1995/01/16 07:29:20.7  -0.2 163.7   13.4  13.8   0.1 T     6.8       0.6   0.3 ML 4.0         3586432"
EVENT_HEADER = [
    "   Date       Time       Latitude Longitude    Depth    Ndef Nsta Gap    Mag1  N    Mag2  N    Mag3  N  Author          ID",
    "       rms   OT_Error      Smajor Sminor Az        Err   mdist  Mdist     Err        Err        Err     Quality",
]
ORIGIN_ERRORS = "      0.53   +- 12.69      93.6   83.7   27    +- 83.8   10.56  78.21   +-0.2                           m i ke"
PICK_HEADER = "Sta    Dist   EvAz     Phase       Date      Time     TRes  Azim  AzRes  Slow  SRes Def  SNR        Amp   Per   Mag1   Mag2 Arr ID"


def _put(line: str, start: int, text: str) -> str:
    return line[:start] + text + line[start + len(text) :]


def _date_time(time: UTCDateTime) -> tuple[str, str]:
    return time.strftime("%Y/%m/%d"), time.strftime("%H:%M:%S.") + f"{time.microsecond // 100000}"


@dataclass
class FixtureEvent:
    event_id: str
    time: UTCDateTime
    latitude: float
    longitude: float
    depth_km: float
    magnitude: float
    picks: dict  # station -> {"P": UTCDateTime, "S": UTCDateTime}


def write_gse2_bulletin(path: Path, events: list[FixtureEvent]) -> Path:
    lines = ["BEGIN GSE2.0", "MSG_TYPE DATA", "MSG_ID fixture GSE_IDC", "DATA_TYPE BULLETIN GSE2.0",
             "Reviewed Event Bulletin (REB) of the GSE_IDC for a test"]  # fmt: skip
    pick_id = 1000
    for event in events:
        date, time = _date_time(event.time)
        origin = _put(_put(ORIGIN, 0, date), 11, time)
        origin = _put(_put(origin, 26, f"{event.latitude:7.4f}"), 36, f"{event.longitude:7.4f}")
        origin = _put(_put(origin, 48, f"{event.depth_km:4.1f}"), 71, f"ML {event.magnitude:3.1f}")
        origin = _put(origin, 82, f"ML {event.magnitude:3.1f}")
        lines += [
            f"EVENT {event.event_id}",
            *EVENT_HEADER,
            "",
            origin,
            ORIGIN_ERRORS,
            "",
            "SEA OF MARMARA",
            PICK_HEADER,
        ]
        for station, arrivals in event.picks.items():
            for phase, arrival in arrivals.items():
                date, time = _date_time(arrival)
                pick_id += 1
                line = _put(_put(_put(PICK, 0, f"{station:<5s}"), 23, f"{phase:<7s}"), 31, date)
                lines.append(_put(_put(line, 42, time), 125, f"{pick_id:7d}"))
        lines += ["", ""]  # two blank lines end an event
    lines.append("STOP")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_catalog_csv(path: Path, events: list[FixtureEvent], drop: str | None = None) -> Path:
    columns = [c for c in ("event_id", "time", "latitude", "longitude", "depth", "magnitude") if c != drop]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for e in events:
            values = dict(event_id=e.event_id, time=str(e.time), latitude=e.latitude, longitude=e.longitude,
                          depth=e.depth_km, magnitude=e.magnitude)  # fmt: skip
            writer.writerow([values[c] for c in columns])
    return path


def record(
    station: str, start: UTCDateTime, waveform: np.ndarray, rate: float = 100.0, band: str = "HH"
) -> Stream:
    """A 3-C Stream (E, N, Z rows of `waveform`) in int32 counts."""
    header = {"network": "KO", "station": station, "location": "", "sampling_rate": rate, "starttime": start}
    return Stream([Trace(data=np.round(c).astype(np.int32), header={**header, "channel": band + name})
                   for c, name in zip(waveform, "ENZ", strict=True)])  # fmt: skip
