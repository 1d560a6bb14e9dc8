//! Cohort's output read by independent tools: the calendar by Python's icalendar and
//! recurring-ical-events, the OpenAPI document by openapi-spec-validator.

mod common;

use common::http::call;
use common::{ADMIN_KEY, TestServer, db, python};
use serde_json::json;

fn temp_file(name: &str, body: &[u8]) -> String {
    let dir = std::env::temp_dir().join("cohort-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{}-{name}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, body).expect("write temp file");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendars_round_trip_through_an_independent_parser() {
    let Some(py) = python::python() else { return };
    let s = TestServer::start_api(&db::sqlite_url(), (44700, 44719)).await;
    let key = Some(ADMIN_KEY);
    // Two zones whose clocks change on different days, with a cancelled and a moved meeting.
    let cases = [
        (
            "Europe/Berlin",
            "FREQ=WEEKLY;BYDAY=TU",
            "2026-10-06T18:00",
            "2026-10-20T18:00",
            "2026-11-24T18:00",
        ),
        (
            "America/New_York",
            "FREQ=WEEKLY;BYDAY=MO,TH",
            "2026-10-01T07:30",
            "2026-10-29T07:30",
            "2026-12-24T07:30",
        ),
        // Meetings inside the hours the clocks skip or repeat: every other Sunday hour in Berlin
        // (02:00 on 25 October 2026 and 28 March 2027), and 02:30 every day in New York
        // (1 November 2026, and 14 March 2027, when 02:30 does not exist and is held at 03:30
        // EDT). Every other hour: recurring-ical-events drops the meetings next to a moved one
        // when they overlap it.
        (
            "Europe/Berlin",
            "FREQ=HOURLY;INTERVAL=2;BYDAY=SU",
            "2026-06-10T00:00",
            "2026-11-01T04:00",
            "2026-11-08T06:00",
        ),
        (
            "America/New_York",
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
            "2026-09-01T02:30",
            "2026-10-29T02:30",
            "2026-12-24T02:30",
        ),
    ];
    for (zone, rule, start, moved, cancelled) in cases {
        let r = call(
            s.addr,
            "POST",
            "/api/v1/rooms",
            key,
            Some(json!({"name": format!("Study group {zone}"), "time_zone": zone})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let schedule = json!({"rrule": rule, "start": start, "duration_minutes": 75,
                              "exdates": [cancelled]});
        let put = call(
            s.addr,
            "PUT",
            &format!("/api/v1/rooms/{id}/schedule"),
            key,
            Some(schedule),
        )
        .await;
        assert_eq!(put.status, 200, "{}", put.text());
        let patch = call(
            s.addr,
            "PATCH",
            &format!("/api/v1/rooms/{id}/occurrences/{moved}"),
            key,
            Some(json!({"start": "2026-10-31T10:00", "duration_minutes": 120})),
        )
        .await;
        assert_eq!(patch.status, 200, "{}", patch.text());

        let (from, to) = ("2026-10-01T00:00:00+00:00", "2027-05-01T00:00:00+00:00");
        let range = format!(
            "from={}&to={}",
            from.replace('+', "%2B"),
            to.replace('+', "%2B")
        );
        let occ = call(
            s.addr,
            "GET",
            &format!("/api/v1/rooms/{id}/occurrences?{range}"),
            key,
            None,
        )
        .await;
        assert_eq!(occ.status, 200, "{}", occ.text());
        let ics = call(
            s.addr,
            "GET",
            &format!("/api/v1/rooms/{id}/calendar.ics"),
            key,
            None,
        )
        .await;
        assert_eq!(ics.status, 200, "{}", ics.text());
        assert_eq!(
            ics.header("content-type"),
            Some("text/calendar; charset=utf-8")
        );
        let ics_file = temp_file("room.ics", &ics.body);
        let occ_file = temp_file("occurrences.json", &occ.body);
        python::check(&py, "check_ics.py", &[&ics_file, &occ_file, from, to]);

        // The UID is stable from one fetch to the next.
        let again = call(
            s.addr,
            "GET",
            &format!("/api/v1/rooms/{id}/calendar.ics"),
            key,
            None,
        )
        .await;
        let uid = |t: &str| t.lines().find(|l| l.starts_with("UID:")).map(str::to_owned);
        assert_eq!(uid(&ics.text()), uid(&again.text()));

        // Participants subscribe with their invite: the join link then carries it.
        let inv = call(
            s.addr,
            "POST",
            &format!("/api/v1/rooms/{id}/invites"),
            key,
            Some(json!({"role": "participant"})),
        )
        .await
        .json();
        let token = inv["token"].as_str().unwrap();
        let mine = call(
            s.addr,
            "GET",
            &format!("/api/v1/rooms/{id}/calendar.ics?t={token}"),
            None,
            None,
        )
        .await;
        assert_eq!(mine.status, 200, "{}", mine.text());
        let unfolded = mine.text().replace("\r\n ", "");
        assert!(unfolded.contains(&format!("?t={token}")));
        // Neither a key nor an invite: refused; another room's invite: refused.
        call(
            s.addr,
            "GET",
            &format!("/api/v1/rooms/{id}/calendar.ics"),
            None,
            None,
        )
        .await
        .problem(401);
        call(
            s.addr,
            "GET",
            &format!("/api/v1/rooms/{id}/calendar.ics?t=x.y.z"),
            None,
            None,
        )
        .await
        .problem(403);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_validates() {
    let Some(py) = python::python() else { return };
    let s = TestServer::start_api(&db::sqlite_url(), (44720, 44739)).await;
    let doc = call(s.addr, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    let file = temp_file("openapi.json", &doc.body);
    python::check(&py, "check_openapi.py", &[&file]);
}
