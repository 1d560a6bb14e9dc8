//! The schedule preview the organiser console's form uses: a term becomes the rule and the
//! meetings the server then stores, and an expert's rule reads back as the form when it is one.

mod common;

use common::http::call;
use common::{ADMIN_KEY, TestServer, db};
use serde_json::{Value, json};

async fn physics_room(s: &TestServer) -> String {
    let r = call(
        s.addr,
        "POST",
        "/api/v1/rooms",
        Some(ADMIN_KEY),
        Some(json!({"name": "Year 10 Physics", "time_zone": "Europe/Berlin"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

fn starts(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["start"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_term_previews_as_it_is_stored(s: &TestServer) {
    let room = physics_room(s).await;
    let preview = format!("/api/v1/rooms/{room}/schedule/preview");
    let term = json!({"weekdays": ["TU"], "time": "18:00", "duration_minutes": 60,
        "first": "2026-09-01", "last": "2026-11-17", "every_weeks": 1});
    let r = call(
        s.addr,
        "POST",
        &preview,
        Some(ADMIN_KEY),
        Some(json!({"term": term})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(p["rrule"], "FREQ=WEEKLY;BYDAY=TU;UNTIL=20261117T225959Z");
    assert_eq!(p["start"], "2026-09-01T18:00:00");
    assert_eq!(p["time_zone"], "Europe/Berlin");
    assert_eq!(p["term"], term);
    assert_eq!(p["truncated"], false);
    let shown = starts(&p["occurrences"]);
    assert_eq!(shown.len(), 12);
    // 18:00 local on both sides of the clock change (25 October).
    assert_eq!(shown[0], "2026-09-01T18:00:00+02:00");
    assert_eq!(shown[11], "2026-11-17T18:00:00+01:00");
    // Nothing was stored by the preview.
    let r = call(
        s.addr,
        "GET",
        &format!("/api/v1/rooms/{room}/schedule"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    // Stored as previewed, the room's meetings are the preview's.
    let put = json!({"rrule": p["rrule"], "start": p["start"], "duration_minutes": 60});
    let r = call(
        s.addr,
        "PUT",
        &format!("/api/v1/rooms/{room}/schedule"),
        Some(ADMIN_KEY),
        Some(put),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let range = "from=2026-08-01T00:00:00Z&to=2027-01-01T00:00:00Z";
    let r = call(
        s.addr,
        "GET",
        &format!("/api/v1/rooms/{room}/occurrences?{range}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(starts(&r.json()), shown);
    // The stored rule, previewed, reads back as the same form.
    let r = call(
        s.addr,
        "POST",
        &preview,
        Some(ADMIN_KEY),
        Some(json!({
        "rrule": p["rrule"], "start": p["start"], "duration_minutes": 60})),
    )
    .await;
    assert_eq!(r.json()["term"], term);
    // Every other week on Tuesdays and Thursdays.
    let biweekly = json!({"weekdays": ["TH", "TU"], "time": "09:30", "duration_minutes": 45,
        "first": "2026-09-01", "last": "2026-09-30", "every_weeks": 2});
    let r = call(
        s.addr,
        "POST",
        &preview,
        Some(ADMIN_KEY),
        Some(json!({"term": biweekly})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        starts(&r.json()["occurrences"]),
        [
            "2026-09-01T09:30:00+02:00",
            "2026-09-03T09:30:00+02:00",
            "2026-09-15T09:30:00+02:00",
            "2026-09-17T09:30:00+02:00",
            "2026-09-29T09:30:00+02:00"
        ]
    );
    assert_eq!(r.json()["term"]["weekdays"], json!(["TU", "TH"]));
    // A rule the form cannot state previews, with no term.
    let r = call(
        s.addr,
        "POST",
        &preview,
        Some(ADMIN_KEY),
        Some(json!({
        "rrule": "FREQ=MONTHLY;BYDAY=1MO", "start": "2026-09-07T18:00", "duration_minutes": 60,
        "limit": 3})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["term"], Value::Null);
    assert_eq!(r.json()["occurrences"].as_array().unwrap().len(), 3);
    assert_eq!(r.json()["truncated"], true);
}

async fn bad_terms_name_their_field(s: &TestServer) {
    let room = physics_room(s).await;
    let preview = format!("/api/v1/rooms/{room}/schedule/preview");
    let base = json!({"weekdays": ["TU"], "time": "18:00", "duration_minutes": 60,
        "first": "2026-09-01", "last": "2026-11-17", "every_weeks": 1});
    let with = |k: &str, v: Value| {
        let mut t = base.clone();
        t[k] = v;
        json!({"term": t})
    };
    for (body, field) in [
        (with("weekdays", json!(["XX"])), "term.weekdays[0]"),
        (with("weekdays", json!([])), "term.weekdays"),
        (with("time", json!("6pm")), "term.time"),
        (with("first", json!("01/09/2026")), "term.first"),
        (with("last", json!("2026-08-01")), "term.last"),
        (with("every_weeks", json!(3)), "term.every_weeks"),
        (with("duration_minutes", json!(0)), "term.duration_minutes"),
        (json!({"term": base, "rrule": "FREQ=WEEKLY"}), "rrule"),
        (json!({}), "term"),
        (json!({"rrule": "FREQ=WEEKLY"}), "start"),
        (
            json!({"rrule": "FREQ=SECONDLY", "start": "2026-09-01T18:00", "duration_minutes": 5}),
            "rrule",
        ),
        (json!({"term": base, "limit": 0}), "limit"),
        (
            json!({"term": base, "time_zone": "Mars/Olympus"}),
            "time_zone",
        ),
    ] {
        let r = call(
            s.addr,
            "POST",
            &preview,
            Some(ADMIN_KEY),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.problem_fields(422), vec![field.to_owned()], "{body}");
    }
    // Another organiser's room does not exist for them.
    let r = common::http::organiser_key(s.addr, "Other").await;
    let other = r["key"].as_str().unwrap().to_owned();
    let r = call(
        s.addr,
        "POST",
        &preview,
        Some(&other),
        Some(json!({"term": base})),
    )
    .await;
    r.problem(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_previews_a_term_as_the_server_stores_it() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        let base = 46800 + (i as u16) * 10;
        let server = TestServer::start_api(&url, (base, base + 9)).await;
        eprintln!("-- schedule preview on {name}");
        a_term_previews_as_it_is_stored(&server).await;
        bad_terms_name_their_field(&server).await;
    }
}
