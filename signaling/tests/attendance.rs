//! Attendance as recorded from the call: joins and leaves of a stored room's meeting, merged so
//! that reconnects and two tabs count once; the host's register with the roster's absentees
//! and its CSV; a participant's own record only; and stretches a dead server left open, closed
//! at its last heartbeat.

mod common;

use common::class::{BEA, add_member, class, join, leave, row};
use common::http::{call, call_as};
use common::{ADMIN_KEY, TestServer, db};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_merges_reconnects_and_tabs_and_lists_who_did_not_come() {
    let s = TestServer::start_api(&db::sqlite_url(), (46540, 46569)).await;
    let c = class(&s, json!({})).await;
    let (cai_id, _) = add_member(&s, &c, "Cai Absent").await;
    let att = format!("/api/v1/rooms/{}/attendance", c.id);

    // Ada comes, drops, and comes back; Bea opens two tabs and closes one.
    let ada = join(&s, &c, &c.ada, "Ada", None).await;
    let tab1 = join(&s, &c, &c.shared, "Bea", Some(BEA)).await;
    let tab2 = join(&s, &c, &c.shared, "Bea", Some(BEA)).await;
    leave(ada).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let ada = join(&s, &c, &c.ada, "Ada", None).await;
    leave(tab2).await;

    let meetings = call(s.addr, "GET", &att, Some(ADMIN_KEY), None)
        .await
        .json();
    let meetings = meetings["meetings"].as_array().unwrap().clone();
    assert_eq!(
        meetings.len(),
        1,
        "a room without a schedule: one session while someone is in"
    );
    let meeting = meetings[0].as_str().unwrap().to_owned();
    let q = |extra: &str| format!("{att}?meeting={}{extra}", meeting.replace('+', "%2B"));
    let register = call_as(
        s.addr,
        "GET",
        &q(""),
        &c.host,
        Some("hal-device-0001"),
        None,
    )
    .await;
    assert_eq!(register.status, 200, "{}", register.text());
    let register = register.json();
    let ada_row = row(&register, &format!("member:{}", c.ada_id));
    assert_eq!(
        ada_row["intervals"].as_array().unwrap().len(),
        2,
        "a drop and a return: {ada_row}"
    );
    assert_eq!(ada_row["member"], true);
    let bea = row(&register, &format!("guest:{BEA}"));
    assert_eq!(
        bea["intervals"].as_array().unwrap().len(),
        1,
        "two tabs count once: {bea}"
    );
    assert_eq!(
        (bea["member"].clone(), bea["name"].clone()),
        (json!(false), json!("Bea"))
    );
    let cai = row(&register, &format!("member:{cai_id}"));
    assert_eq!(
        (cai["status"].clone(), cai["first_join"].clone()),
        (json!("absent"), Value::Null)
    );

    // A participant sees only their own record, and exports nothing.
    let own = call_as(s.addr, "GET", &q(""), &c.shared, Some(BEA), None)
        .await
        .json();
    assert_eq!(own["people"].as_array().unwrap().len(), 1);
    assert_eq!(own["people"][0]["identity"], format!("guest:{BEA}"));
    let other = format!("&identity=member:{}", c.ada_id);
    assert_eq!(
        call_as(s.addr, "GET", &q(&other), &c.shared, Some(BEA), None)
            .await
            .status,
        403
    );
    assert_eq!(
        call_as(s.addr, "GET", &q("&format=csv"), &c.ada, None, None)
            .await
            .status,
        403
    );
    let mine = call_as(s.addr, "GET", &att, &c.ada, None, None)
        .await
        .json();
    assert_eq!(
        mine["meetings"],
        json!([meeting]),
        "a participant lists the meetings they came to"
    );

    // The host's CSV, read back by a CSV reader.
    let doc = call(s.addr, "GET", &q("&format=csv"), Some(ADMIN_KEY), None).await;
    assert_eq!(doc.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut reader = csv::Reader::from_reader(doc.body.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let header: Vec<&str> = reader.headers().unwrap().iter().collect();
    assert_eq!(
        header,
        [
            "name",
            "identity",
            "status",
            "suggested",
            "note",
            "first_join",
            "last_leave",
            "minutes_present",
            "minutes_late"
        ]
    );
    let names: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert!(
        names.contains(&"Cai Absent") && names.contains(&"Ada") && names.contains(&"Bea"),
        "{names:?}"
    );
    let r = call(
        s.addr,
        "GET",
        &format!("{att}?meeting=yesterday"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(r.problem_fields(422), ["meeting"]);
    drop((ada, tab1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_meeting_counts_lateness_and_ends_by_the_schedule() {
    let s = TestServer::start_api(&db::sqlite_url(), (46570, 46579)).await;
    let c = class(&s, json!({"time_zone": "UTC", "early_join_minutes": 10})).await;
    // A daily meeting that started 7 minutes ago, for an hour.
    let start = chrono::Utc::now() - chrono::Duration::minutes(7);
    let local = start.format("%Y-%m-%dT%H:%M:00").to_string();
    let r = call(
        s.addr,
        "PUT",
        &format!("/api/v1/rooms/{}/schedule", c.id),
        Some(ADMIN_KEY),
        Some(json!({"rrule": "FREQ=DAILY", "start": local, "duration_minutes": 60})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ada = join(&s, &c, &c.ada, "Ada", None).await;
    let att = format!("/api/v1/rooms/{}/attendance", c.id);
    let meetings = call(s.addr, "GET", &att, Some(ADMIN_KEY), None)
        .await
        .json();
    let meeting = meetings["meetings"][0].as_str().unwrap().to_owned();
    let begun = chrono::DateTime::parse_from_rfc3339(&meeting).unwrap();
    assert_eq!(
        begun.format("%Y-%m-%dT%H:%M:00").to_string(),
        local,
        "tagged with the meeting on now"
    );
    let register = call(
        s.addr,
        "GET",
        &format!("{att}?meeting={}", meeting.replace('+', "%2B")),
        Some(ADMIN_KEY),
        None,
    )
    .await
    .json();
    let ada_row = row(&register, &format!("member:{}", c.ada_id));
    assert_eq!(
        ada_row["status"], "late",
        "7 minutes after the start: {ada_row}"
    );
    assert!(
        matches!(ada_row["minutes_late"].as_i64(), Some(6..=7)),
        "{ada_row}"
    );
    let end = chrono::DateTime::parse_from_rfc3339(register["end"].as_str().unwrap()).unwrap();
    assert_eq!(
        (end - begun).num_minutes(),
        60,
        "the meeting ends by the schedule"
    );
    drop(ada);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stretches_a_dead_server_left_open_end_at_its_last_heartbeat() {
    let s = TestServer::start_api(&db::sqlite_url(), (46580, 46589)).await;
    let c = class(&s, json!({})).await;
    let store = &s.store;
    let t0 = signaling::store::now_ms() - 600_000;
    let meeting = signaling::store::rfc3339_ms(t0);
    let id = store
        .open_presence(&c.id, &meeting, "member:x", "X", t0)
        .await
        .unwrap();
    store.presence_alive(t0 + 120_000).await.unwrap();
    // The server dies here; at the next start:
    assert_eq!(store.close_dangling_presence().await.unwrap(), 1);
    assert_eq!(
        store.close_dangling_presence().await.unwrap(),
        0,
        "closed once, never left open"
    );
    let p = store
        .presence(&c.id, &meeting, signaling::store::now_ms())
        .await
        .unwrap();
    assert_eq!(
        p[0].intervals[0].end,
        t0 + 120_000,
        "ended at the last heartbeat, not now"
    );
    store.close_presence(&id, t0 + 999_999, None).await.unwrap();
    let p = store
        .presence(&c.id, &meeting, signaling::store::now_ms())
        .await
        .unwrap();
    assert_eq!(
        p[0].intervals[0].end,
        t0 + 120_000,
        "a closed stretch stays as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_keeps_what_its_settings_say() {
    let s = TestServer::start_api(&db::sqlite_url(), (46590, 46599)).await;
    let c = class(&s, json!({"attendance_mode": "off"})).await;
    let room = format!("/api/v1/rooms/{}", c.id);
    let view = call(s.addr, "GET", &room, Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(
        (
            view["attendance_mode"].clone(),
            view["late_after_minutes"].clone()
        ),
        (json!("off"), json!(5))
    );
    let lobby = call(
        s.addr,
        "GET",
        &format!("/api/v1/lobby/{}?t={}", c.slug, c.shared),
        None,
        None,
    )
    .await
    .json();
    assert_eq!(
        lobby["attendance_mode"], "off",
        "the page can say so before anyone joins"
    );
    let ada = join(&s, &c, &c.ada, "Ada", None).await;
    leave(ada).await;
    let att = format!("/api/v1/rooms/{}/attendance", c.id);
    let meetings = call(s.addr, "GET", &att, Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(
        meetings["meetings"],
        json!([]),
        "a room that records nothing keeps nothing"
    );

    let bad =
        json!({"attendance_mode": "always", "late_after_minutes": -1, "min_present_percent": 101});
    let r = call(s.addr, "PATCH", &room, Some(ADMIN_KEY), Some(bad)).await;
    assert_eq!(r.status, 422);
    let r = call(
        s.addr,
        "PATCH",
        &room,
        Some(ADMIN_KEY),
        Some(json!({"late_after_minutes": -1, "min_present_percent": 101})),
    )
    .await;
    assert_eq!(
        r.problem_fields(422),
        ["late_after_minutes", "min_present_percent"]
    );
    let r = call(
        s.addr,
        "PATCH",
        &room,
        Some(ADMIN_KEY),
        Some(json!({"attendance_mode": "attendance", "late_after_minutes": 0})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ada = join(&s, &c, &c.ada, "Ada", None).await;
    let meetings = call(s.addr, "GET", &att, Some(ADMIN_KEY), None)
        .await
        .json();
    let meeting = meetings["meetings"][0]
        .as_str()
        .unwrap()
        .replace('+', "%2B");
    let register = call(
        s.addr,
        "GET",
        &format!("{att}?meeting={meeting}"),
        Some(ADMIN_KEY),
        None,
    )
    .await
    .json();
    assert_eq!(
        register["thresholds"]["late_after_minutes"], 0,
        "the room's own thresholds"
    );
    drop(ada);
}
