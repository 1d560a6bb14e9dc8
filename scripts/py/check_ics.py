"""Reads a Cohort calendar with Python's icalendar, expands it with recurring-ical-events (an
implementation independent of Cohort's), and compares the meetings with what the API listed.

    check_ics.py CALENDAR.ics OCCURRENCES.json FROM TO

OCCURRENCES.json is the API's /occurrences answer for [FROM, TO). Exits non-zero on any
difference, printing both lists. Also checks the VTIMEZONE against the IANA database.
"""
import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events


def main():
    ics_path, occ_path, start, end = sys.argv[1:5]
    cal = icalendar.Calendar.from_ical(open(ics_path, "rb").read())
    api = json.load(open(occ_path))
    lo, hi = datetime.fromisoformat(start), datetime.fromisoformat(end)

    # Calendar-level properties that RFC 5545 allows once.
    raw = open(ics_path, "rb").read().decode()
    for prop in ("VERSION", "PRODID", "CALSCALE"):
        n = sum(1 for line in raw.split("\r\n") if line.startswith(prop + ":"))
        assert n == 1, f"{prop} appears {n} times"

    events = [c for c in cal.walk("VEVENT")]
    uids = {str(e["UID"]) for e in events}
    assert len(uids) == 1, f"one series, one UID: {uids}"
    assert all("/r/" in str(e["URL"]) for e in events), "every event has the join link"

    # The calendar's meetings, as instants. Two local times that land on one instant (an hourly
    # rule's skipped 02:00 and its 03:00) are one meeting: RFC 5545 3.8.5.3 drops duplicates.
    # recurring-ical-events adds a DURATION on the wall clock; RFC 5545 3.3.6 makes hours and
    # minutes exact, so across a clock change the end is the start's instant plus the duration.
    def span(e):
        start = e["DTSTART"].dt
        if "DURATION" in e:
            length = e["DURATION"].dt
        else:
            length = e["DTEND"].dt.replace(tzinfo=None) - start.replace(tzinfo=None)
        return start.isoformat(), (start.astimezone(timezone.utc) + length).isoformat()
    got = sorted(span(e) for e in recurring_ical_events.of(cal).between(lo, hi))
    # The API's, cancelled ones left out (a calendar simply does not have them).
    want = sorted((o["start"], o["end"]) for o in api if o["status"] != "cancelled")
    norm = lambda pairs: sorted({tuple(datetime.fromisoformat(x) for x in p) for p in pairs})
    if len(want) != len(norm(want)):
        print("the API lists a meeting twice:", *want, sep="\n  ")
        sys.exit(1)
    if norm(got) != norm(want):
        only_cal = sorted(set(norm(got)) - set(norm(want)))
        only_api = sorted(set(norm(want)) - set(norm(got)))
        show = lambda pairs: [f"{a.isoformat()} .. {b.isoformat()}" for a, b in pairs]
        print(f"{len(norm(got))} meetings in the calendar, {len(norm(want))} from the API")
        print("only in the calendar:", *show(only_cal), sep="\n  ")
        print("only from the API:", *show(only_api), sep="\n  ")
        sys.exit(1)

    # The VTIMEZONE must agree with the IANA zone at every meeting.
    zones = list(cal.walk("VTIMEZONE"))
    assert len(zones) == 1, "one VTIMEZONE"
    tzid = str(zones[0]["TZID"])
    from_vtimezone = zones[0].to_tz()
    iana = ZoneInfo(tzid)
    for start, _ in norm(want):
        local = start.astimezone(iana).replace(tzinfo=None)
        a = local.replace(tzinfo=from_vtimezone).utcoffset()
        b = local.replace(tzinfo=iana).utcoffset()
        assert a == b, f"VTIMEZONE says {a} at {local}, the IANA database {b}"
    print(f"ok: {len(got)} meetings agree; VTIMEZONE {tzid} matches the IANA database")


if __name__ == "__main__":
    main()
