//! The term's register (`GET /api/v1/rooms/{id}/register`): the roster by the meetings that
//! have begun, each mark the host's override or the suggested status, totals per member, the
//! guests apart, a session held off the schedule, and the CSV a spreadsheet reads. Presence
//! is written straight into the store, at times in the past, as the call would have.

mod common;

use chrono::{Duration, Utc};
use common::http::{call, organiser_key};
use common::{ADMIN_KEY, TestServer, db};
use serde_json::{Value, json};
use signaling::store::{Store, rfc3339_ms};

const MIN: i64 = 60_000;

async fn member(s: &TestServer, room: &str, name: &str) -> String {
    let r = call(
        s.addr,
        "POST",
        &format!("/api/v1/rooms/{room}/members"),
        Some(ADMIN_KEY),
        Some(json!({"display_name": name})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    format!("member:{}", r.json()["id"].as_str().unwrap())
}

/// A stretch from `from` to `to` minutes after `start`, closed.
async fn came(store: &Store, room: &str, start: i64, who: &str, name: &str, from: i64, to: i64) {
    let meeting = meeting_name(start);
    let id = store
        .open_presence(room, &meeting, who, name, start + from * MIN)
        .await
        .unwrap();
    store
        .close_presence(&id, start + to * MIN, Some(20_000))
        .await
        .unwrap();
}

/// A meeting's name as the server keeps it: its start in the room's zone (UTC here).
fn meeting_name(start: i64) -> String {
    chrono::DateTime::from_timestamp_millis(start)
        .unwrap()
        .to_rfc3339()
}

fn statuses(line: &Value) -> Vec<Value> {
    line["marks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].clone())
        .collect()
}

async fn run(url: &str, ports: (u16, u16)) {
    let s = TestServer::start_api(url, ports).await;
    let teacher = organiser_key(s.addr, "Teacher").await;
    let key = teacher["key"].as_str().unwrap().to_owned();
    let room = call(
        s.addr,
        "POST",
        "/api/v1/rooms",
        Some(&key),
        Some(json!({"name": "Chemistry", "time_zone": "UTC", "attendance_mode": "talk_time"})),
    )
    .await
    .json();
    let id = room["id"].as_str().unwrap().to_owned();
    // Daily at a whole minute, an hour long; the first meeting four days ago, so that four
    // are over and the fifth (today's) is under way.
    let first = Utc::now() - Duration::days(4) - Duration::minutes(10);
    let first = first.timestamp_millis() / MIN * MIN;
    let local = chrono::DateTime::from_timestamp_millis(first)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:00")
        .to_string();
    let put = call(
        s.addr,
        "PUT",
        &format!("/api/v1/rooms/{id}/schedule"),
        Some(&key),
        Some(json!({"rrule": "FREQ=DAILY", "start": local, "duration_minutes": 60})),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let day = Duration::days(1).num_milliseconds();
    // The third meeting is cancelled: it is not listed, and counts for no one.
    let third = chrono::DateTime::from_timestamp_millis(first + 2 * day)
        .unwrap()
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let cancel = call(
        s.addr,
        "PATCH",
        &format!("/api/v1/rooms/{id}/occurrences/{third}"),
        Some(&key),
        Some(json!({"status": "cancelled"})),
    )
    .await;
    assert_eq!(cancel.status, 200, "{}", cancel.text());

    let ada = member(&s, &id, "Ada").await;
    let ben = member(&s, &id, "Ben").await;
    let cy = member(&s, &id, "=Cy").await;
    let store = &s.store;
    let meetings = [first, first + day, first + 3 * day, first + 4 * day];
    for &m in &meetings[..3] {
        came(store, &id, m, &ada, "Ada", -2, 60).await;
    }
    came(store, &id, meetings[0], &ben, "Ben", 20, 60).await; // late
    came(
        store,
        &id,
        meetings[0],
        "guest:visitor-0001",
        "Visitor",
        0,
        45,
    )
    .await;
    // Today's, under way: Ada came on time and is in it now.
    store
        .open_presence(&id, &meeting_name(meetings[3]), &ada, "Ada", meetings[3])
        .await
        .unwrap();
    // A session off the schedule, yesterday evening.
    let session = first + 3 * day + 300 * MIN;
    came(store, &id, session, &ben, "Ben", 0, 30).await;
    // Cy was excused from the first meeting.
    let excuse = call(
        s.addr,
        "PUT",
        &format!("/api/v1/rooms/{id}/attendance/overrides"),
        Some(&key),
        Some(
            json!({"meeting": meeting_name(first), "identity": cy, "status": "excused",
            "note": "ill, told us in advance"}),
        ),
    )
    .await;
    assert_eq!(excuse.status, 200, "{}", excuse.text());

    let path = format!("/api/v1/rooms/{id}/register");
    let r = call(s.addr, "GET", &path, Some(&key), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reg = r.json();
    let starts: Vec<i64> = reg["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            chrono::DateTime::parse_from_rfc3339(m["start"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    assert_eq!(
        starts,
        [meetings[0], meetings[1], meetings[2], session, meetings[3]],
        "the meetings that began, oldest first, the cancelled one left out: {reg}"
    );
    let over: Vec<bool> = reg["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["over"].as_bool().unwrap())
        .collect();
    assert_eq!(over, [true, true, true, true, false]);
    assert_eq!(
        reg["meetings"][3]["scheduled"], false,
        "the session is off the schedule"
    );
    let members = reg["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    let line = |who: &str| members.iter().find(|l| l["identity"] == who).unwrap();
    assert_eq!(
        statuses(line(&ada)),
        ["present", "present", "present", "absent", "present"]
    );
    assert_eq!(
        line(&ada)["totals"],
        json!({"held": 4, "attended": 3, "late": 0, "excused": 0, "absent": 1,
            "minutes_present": 180, "seconds_talking": 60}),
        "today's meeting is not counted yet"
    );
    assert_eq!(
        statuses(line(&ben)),
        ["late", "absent", "absent", "present", "absent"]
    );
    let cy_line = line(&cy);
    assert_eq!(cy_line["marks"][0]["status"], "excused");
    assert_eq!(cy_line["marks"][0]["suggested"], "absent");
    assert_eq!(
        cy_line["marks"][0]["host_override"]["note"],
        "ill, told us in advance"
    );
    assert_eq!(cy_line["totals"]["excused"], 1);
    let guests = reg["guests"].as_array().unwrap();
    assert_eq!(guests.len(), 1, "the visitor is listed apart: {reg}");
    assert_eq!(guests[0]["name"], "Visitor");
    assert_eq!(
        guests[0]["marks"][1],
        Value::Null,
        "a guest has no mark where they did not come"
    );

    // The CSV: one line per person, a column per meeting, the note, formulas neutralised.
    let doc = call(
        s.addr,
        "GET",
        &format!("{path}?format=csv"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(doc.status, 200);
    assert!(
        doc.header("content-type").unwrap().starts_with("text/csv"),
        "{:?}",
        doc.header("content-type")
    );
    let mut reader = csv::Reader::from_reader(doc.body.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[..10],
        [
            "name",
            "identity",
            "kind",
            "attended",
            "held",
            "late",
            "excused",
            "absent",
            "minutes_present",
            "seconds_talking"
        ]
    );
    assert_eq!(header.len(), 10 + 5 + 1, "{header:?}");
    let first_local = chrono::DateTime::from_timestamp_millis(first)
        .unwrap()
        .format("%Y-%m-%d %H:%M")
        .to_string();
    assert_eq!(header[10], first_local);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4, "three members and the guest");
    let cy_row = rows.iter().find(|r| &r[1] == cy.as_str()).unwrap();
    assert_eq!(
        &cy_row[0], "'=Cy",
        "a name that looks like a formula is text"
    );
    assert_eq!(&cy_row[10], "excused");
    assert_eq!(
        &cy_row[15],
        format!("{first_local}: ill, told us in advance")
    );
    assert_eq!(&rows[3][2], "guest");

    // A range: only the first two meetings.
    let q = format!(
        "{path}?from={}&to={}",
        rfc3339_ms(first).replace('+', "%2B"),
        rfc3339_ms(first + day + 1).replace('+', "%2B")
    );
    let two = call(s.addr, "GET", &q, Some(&key), None).await.json();
    assert_eq!(two["meetings"].as_array().unwrap().len(), 2, "{two}");

    // Bad input, another organiser's room, and no key.
    let bad = call(
        s.addr,
        "GET",
        &format!("{path}?format=xls"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(bad.problem_fields(422), ["format"]);
    let bad = call(
        s.addr,
        "GET",
        &format!("{path}?from=monday"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(bad.problem_fields(422), ["from"]);
    let backwards = format!(
        "{path}?from={}&to={}",
        rfc3339_ms(first + day).replace('+', "%2B"),
        rfc3339_ms(first).replace('+', "%2B")
    );
    let bad = call(s.addr, "GET", &backwards, Some(&key), None).await;
    assert_eq!(bad.problem_fields(422), ["to"]);
    let other = organiser_key(s.addr, "Other").await;
    let theirs = call(s.addr, "GET", &path, other["key"].as_str(), None).await;
    assert_eq!(theirs.status, 404, "another organiser cannot see the room");
    assert_eq!(call(s.addr, "GET", &path, None, None).await.status, 401);
    let admin = call(s.addr, "GET", &path, Some(ADMIN_KEY), None).await;
    assert_eq!(admin.status, 200, "an admin sees every room's register");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_is_the_roster_by_the_meetings_held() {
    common::init_tracing();
    for (i, (_, url)) in db::all().await.into_iter().enumerate() {
        let base = 46820 + 10 * i as u16;
        run(&url, (base, base + 9)).await;
    }
}
