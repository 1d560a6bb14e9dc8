//! The HTTP API in-process, on SQLite and on PostgreSQL: rooms, schedules across a clock change,
//! single changes, keys, and bad bodies, each answered with a problem document.

mod common;

use common::http::{Resp, call, raw};
use common::{ADMIN_KEY, TestServer, db};
use serde_json::json;
use signaling::ratelimit::Rate;

/// Runs `case` once per database, each with a server of its own.
macro_rules! on_every_database {
    ($ports:expr, $case:ident) => {
        for (i, (name, url)) in db::all().await.into_iter().enumerate() {
            let base = $ports + (i as u16) * 20;
            let server = TestServer::start_api(&url, (base, base + 19)).await;
            eprintln!("-- {} on {name}", stringify!($case));
            $case(&server).await;
        }
    };
}

async fn post(s: &TestServer, path: &str, body: serde_json::Value) -> Resp {
    call(s.addr, "POST", path, Some(ADMIN_KEY), Some(body)).await
}

async fn get(s: &TestServer, path: &str) -> Resp {
    call(s.addr, "GET", path, Some(ADMIN_KEY), None).await
}

async fn new_room(s: &TestServer, body: serde_json::Value) -> serde_json::Value {
    let r = post(s, "/api/v1/rooms", body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

async fn rooms_crud_and_pages(s: &TestServer) {
    let room = new_room(
        s,
        json!({"name": "Tuesday Maths", "time_zone": "Europe/Berlin", "capacity": 12,
               "description": "Year 9"}),
    )
    .await;
    assert_eq!(room["slug"], "tuesday-maths");
    assert_eq!(room["capacity"], 12);
    let join_url = format!("http://{}/r/tuesday-maths", s.addr);
    assert_eq!(room["join_url"], join_url.as_str());
    let id = room["id"].as_str().unwrap().to_owned();

    // A slug made from a taken name gets a suffix; a taken slug asked for is a conflict.
    let again = new_room(s, json!({"name": "Tuesday maths", "time_zone": "UTC"})).await;
    assert_eq!(again["slug"], "tuesday-maths-2");
    let clash = post(
        s,
        "/api/v1/rooms",
        json!({"name": "x", "slug": "tuesday-maths", "time_zone": "UTC"}),
    )
    .await;
    assert_eq!(clash.problem_fields(409), vec!["slug"]);

    for n in 0..5 {
        new_room(s, json!({"name": format!("Group {n}"), "time_zone": "UTC"})).await;
    }
    // Pages of 3 in slug order, every room once.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/rooms?limit=3&after={a}"),
            None => "/api/v1/rooms?limit=3".to_owned(),
        };
        let page = get(s, &path).await.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|r| r["slug"].as_str().unwrap().to_owned()));
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 7);
    assert_eq!(
        get(s, "/api/v1/rooms?limit=0").await.problem_fields(422),
        vec!["limit"]
    );

    // PATCH changes what it names; null clears the description.
    let path = format!("/api/v1/rooms/{id}");
    let patched = call(
        s.addr,
        "PATCH",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"name": "Maths, Tuesdays", "description": null, "grace_minutes": 5})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let got = get(s, &path).await.json();
    assert_eq!(got["name"], "Maths, Tuesdays");
    assert_eq!(got["description"], serde_json::Value::Null);
    assert_eq!(got["grace_minutes"], 5);
    assert_eq!(got["capacity"], 12);
    // null on a field that cannot be cleared is refused, naming it, and changes nothing.
    for name in [
        "name",
        "slug",
        "time_zone",
        "capacity",
        "early_join_minutes",
        "grace_minutes",
    ] {
        let r = call(
            s.addr,
            "PATCH",
            &path,
            Some(ADMIN_KEY),
            Some(json!({ name: null })),
        )
        .await;
        assert_eq!(r.problem_fields(422), vec![name], "{}", r.text());
    }
    assert_eq!(get(s, &path).await.json(), got);

    assert_eq!(
        call(s.addr, "DELETE", &path, Some(ADMIN_KEY), None)
            .await
            .status,
        204
    );
    get(s, &path).await.problem(404);
    call(s.addr, "DELETE", &path, Some(ADMIN_KEY), None)
        .await
        .problem(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_can_be_created_listed_changed_and_deleted() {
    on_every_database!(44000, rooms_crud_and_pages);
}

async fn weekly_schedule(s: &TestServer) {
    let room = new_room(
        s,
        json!({"name": "Berlin evening", "time_zone": "Europe/Berlin"}),
    )
    .await;
    let id = room["id"].as_str().unwrap();
    let path = format!("/api/v1/rooms/{id}/schedule");
    let put = call(
        s.addr,
        "PUT",
        &path,
        Some(ADMIN_KEY),
        Some(
            json!({"rrule": "FREQ=WEEKLY;BYDAY=TU", "start": "2026-10-06T18:00",
                    "duration_minutes": 90, "exdates": ["2026-11-03T18:00"]}),
        ),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["time_zone"], "Europe/Berlin");

    // Tuesday 18:00 Berlin stays 18:00 local on both sides of the October change.
    let range = "from=2026-10-12T00:00:00Z&to=2026-11-05T00:00:00Z";
    let occ = get(s, &format!("/api/v1/rooms/{id}/occurrences?{range}")).await;
    assert_eq!(occ.status, 200, "{}", occ.text());
    let list: Vec<(String, String)> = occ
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["start"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want = [
        ("2026-10-13T18:00:00+02:00", "scheduled"),
        ("2026-10-20T18:00:00+02:00", "scheduled"),
        ("2026-10-27T18:00:00+01:00", "scheduled"),
        ("2026-11-03T18:00:00+01:00", "cancelled"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(list, want);

    // One meeting moves to Wednesday; the listing and the stored schedule both show it.
    let moved = call(
        s.addr,
        "PATCH",
        &format!("/api/v1/rooms/{id}/occurrences/2026-10-20T18:00"),
        Some(ADMIN_KEY),
        Some(json!({"start": "2026-10-21T17:00", "duration_minutes": 60})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.text());
    let occ = get(s, &format!("/api/v1/rooms/{id}/occurrences?{range}"))
        .await
        .json();
    assert_eq!(occ[1]["start"], "2026-10-21T17:00:00+02:00");
    assert_eq!(occ[1]["end"], "2026-10-21T18:00:00+02:00");
    assert_eq!(occ[1]["status"], "moved");
    assert_eq!(occ[1]["original_start"], "2026-10-20T18:00:00+02:00");
    let stored = get(s, &path).await.json();
    assert_eq!(stored["moves"][0]["occurrence"], "2026-10-20T18:00:00");
    assert_eq!(stored["exdates"], json!(["2026-11-03T18:00:00"]));

    // Not a meeting of this schedule: named as such.
    let bad = call(
        s.addr,
        "PATCH",
        &format!("/api/v1/rooms/{id}/occurrences/2026-10-22T18:00"),
        Some(ADMIN_KEY),
        Some(json!({"status": "cancelled"})),
    )
    .await;
    assert_eq!(bad.problem_fields(422), vec!["occurrence"]);

    // Bad schedules name their field.
    for (body, field) in [
        (
            json!({"rrule": "FREQ=FORTNIGHTLY", "start": "2026-10-06T18:00", "duration_minutes": 60}),
            "rrule",
        ),
        (
            json!({"rrule": "FREQ=SECONDLY", "start": "2026-10-06T18:00", "duration_minutes": 60}),
            "rrule",
        ),
        (
            json!({"rrule": "FREQ=WEEKLY", "start": "Tuesday", "duration_minutes": 60}),
            "start",
        ),
        (
            json!({"rrule": "FREQ=WEEKLY", "start": "2026-10-06T18:00", "duration_minutes": 60, "time_zone": "Europe/Atlantis"}),
            "time_zone",
        ),
        (
            json!({"rrule": "FREQ=WEEKLY", "start": "2026-10-06T18:00", "duration_minutes": -5}),
            "duration_minutes",
        ),
        (
            json!({"rrule": "FREQ=WEEKLY", "start": "2026-10-06T18:00", "duration_minutes": 60, "every": 2}),
            "every",
        ),
    ] {
        let r = call(s.addr, "PUT", &path, Some(ADMIN_KEY), Some(body.clone())).await;
        assert_eq!(r.problem_fields(422), vec![field.to_string()], "{body}");
    }
    let bad_range = get(s, &format!("/api/v1/rooms/{id}/occurrences?from=yesterday")).await;
    assert_eq!(bad_range.problem_fields(422), vec!["from"]);

    // Deleting the schedule leaves an always-open room with no occurrences to list.
    assert_eq!(
        call(s.addr, "DELETE", &path, Some(ADMIN_KEY), None)
            .await
            .status,
        204
    );
    get(s, &path).await.problem(404);
    get(s, &format!("/api/v1/rooms/{id}/occurrences"))
        .await
        .problem(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weekly_schedules_hold_across_the_clock_change_and_take_single_changes() {
    on_every_database!(44100, weekly_schedule);
}

async fn keys_and_auth(s: &TestServer) {
    // No key, a malformed header, a wrong key: 401 with a Bearer challenge.
    let none = call(s.addr, "GET", "/api/v1/rooms", None, None).await;
    none.problem(401);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    call(s.addr, "GET", "/api/v1/rooms", Some("not-a-key"), None)
        .await
        .problem(401);

    // An organiser key manages rooms but not keys.
    let made = post(
        s,
        "/api/v1/keys",
        json!({"name": "Ms Rivera", "role": "organiser"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.text());
    let made = made.json();
    let key = made["key"].as_str().unwrap().to_owned();
    let key_id = made["id"].as_str().unwrap().to_owned();
    let r = call(
        s.addr,
        "POST",
        "/api/v1/rooms",
        Some(&key),
        Some(json!({"name": "Rivera's room", "time_zone": "America/Mexico_City"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["owner_key_id"], key_id.as_str());
    call(s.addr, "GET", "/api/v1/keys", Some(&key), None)
        .await
        .problem(403);

    // Listing never shows a secret; revoking takes effect at once.
    let list = get(s, "/api/v1/keys").await.json();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key").is_none())
    );
    let del = call(
        s.addr,
        "DELETE",
        &format!("/api/v1/keys/{key_id}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(del.status, 204);
    call(s.addr, "GET", "/api/v1/rooms", Some(&key), None)
        .await
        .problem(401);

    // The last admin key cannot be revoked.
    let admin = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "admin")
        .unwrap();
    let path = format!("/api/v1/keys/{}", admin["id"].as_str().unwrap());
    call(s.addr, "DELETE", &path, Some(ADMIN_KEY), None)
        .await
        .problem(409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_checked_made_and_revoked() {
    on_every_database!(44200, keys_and_auth);
}

async fn bad_bodies(s: &TestServer) {
    let json = Some("application/json");
    let rooms = "/api/v1/rooms";
    let key = Some(ADMIN_KEY);
    // Not JSON, not JSON at all by its type, and far too large.
    raw(s.addr, "POST", rooms, key, json, b"{\"name\": ")
        .await
        .problem(400);
    raw(s.addr, "POST", rooms, key, Some("text/plain"), b"name=x")
        .await
        .problem(415);
    let huge = format!(
        "{{\"name\": \"{}\", \"time_zone\": \"UTC\"}}",
        "x".repeat(200_000)
    );
    raw(s.addr, "POST", rooms, key, json, huge.as_bytes())
        .await
        .problem(413);
    // Unknown fields, wrong types and bad values, each named.
    for (body, fields) in [
        (
            json!({"name": "a", "time_zone": "UTC", "colour": "red"}),
            vec!["colour"],
        ),
        (
            json!({"name": "a", "time_zone": "UTC", "capacity": "ten"}),
            vec!["capacity"],
        ),
        (json!({"time_zone": "UTC"}), vec!["name"]),
        (
            json!({"name": "a", "time_zone": "Mars/Olympus"}),
            vec!["time_zone"],
        ),
        (
            json!({"name": "a", "slug": "Not A Slug", "time_zone": "UTC"}),
            vec!["slug"],
        ),
        (
            json!({"name": " ", "slug": "-x", "time_zone": "UTC", "capacity": 0}),
            vec!["name", "slug", "capacity"],
        ),
    ] {
        let r = post(s, rooms, body.clone()).await;
        assert_eq!(r.problem_fields(422), fields, "{body}");
    }
    // Invites: an unknown role, a silly expiry.
    let room = new_room(s, json!({"name": "Invites", "time_zone": "UTC"})).await;
    let path = format!("/api/v1/rooms/{}/invites", room["id"].as_str().unwrap());
    assert_eq!(
        post(s, &path, json!({"role": "king"}))
            .await
            .problem_fields(422),
        vec!["role"]
    );
    let r = post(s, &path, json!({"role": "host", "expires_in_seconds": 0})).await;
    assert_eq!(r.problem_fields(422), vec!["expires_in_seconds"]);
    // Unknown API paths are problems too.
    get(s, "/api/v1/nothing-here").await.problem(404);
    get(s, "/api/v1/rooms/no-such-id").await.problem(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_problem_documents_naming_the_field() {
    on_every_database!(44300, bad_bodies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let server = TestServer::start_api(&db::sqlite_url(), (44400, 44419)).await;
    let doc = get(&server, "/api/v1/openapi.json").await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            // Fill path parameters with something; the route must exist either way (no 404
            // from the router's fallback, no 405).
            let concrete = path
                .replace("{id}", "00000000-0000-0000-0000-000000000000")
                .replace("{room}", "some-room")
                .replace("{slug}", "some-room")
                .replace("{participant}", "someone")
                .replace("{track}", "some-track")
                .replace("{name}", "style.css")
                .replace("{path}", "marked/LICENSE")
                .replace("{occurrence}", "2026-10-06T18:00");
            let r = call(
                server.addr,
                &method.to_uppercase(),
                &concrete,
                Some(ADMIN_KEY),
                None,
            )
            .await;
            assert_ne!(r.status, 405, "{method} {path}");
            let router_404 = r.status == 404 && r.text().contains("API route not found");
            assert!(!router_404, "{method} {path} is documented but not served");
        }
    }
    // Every route the router serves is in the document.
    for &(method, path) in common::routes::ROUTES {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} undocumented"
        );
    }
    assert_eq!(
        operations,
        common::routes::ROUTES.len(),
        "a route was added: list it in tests/common/routes.rs"
    );
    // Vendored browser libraries are served from the binary, as their packages have them.
    let marked = call(
        server.addr,
        "GET",
        "/static/vendor/marked/lib/marked.esm.js",
        None,
        None,
    )
    .await;
    assert_eq!(marked.status, 200);
    assert_eq!(
        marked.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let on_disk = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../web/vendor/marked/lib/marked.esm.js"
    ))
    .unwrap();
    assert_eq!(marked.body, on_disk);
    for missing in [
        "/static/vendor/marked/../../Cargo.toml",
        "/static/vendor/nothing.js",
        "/static/vendor/marked/package.json",
    ] {
        let r = call(server.addr, "GET", missing, None, None).await;
        assert_eq!(r.status, 404, "{missing}");
    }
    // The docs page is served, from the binary.
    let page = call(server.addr, "GET", "/api/v1/docs/", None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("swagger"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_from_one_address_get_429_with_retry_after() {
    let api = Rate {
        per_minute: 6,
        burst: 5,
    };
    let join = Rate {
        per_minute: 6,
        burst: 3,
    };
    let s = TestServer::start_limited(&db::sqlite_url(), (44440, 44459), api, join).await;
    for _ in 0..5 {
        assert_eq!(get(&s, "/api/v1/rooms").await.status, 200);
    }
    let refused = get(&s, "/api/v1/rooms").await;
    refused.problem(429);
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "Retry-After: {wait}");
    // Pages are not API calls: still served.
    assert_eq!(
        call(s.addr, "GET", "/healthz", None, None).await.status,
        200
    );
    // Joins have their own limit: the fourth connection attempt in a row is refused.
    for _ in 0..3 {
        assert_ne!(
            call(s.addr, "GET", "/api/v1/rtc", None, None).await.status,
            429
        );
    }
    let refused = call(s.addr, "GET", "/api/v1/rtc", None, None).await;
    refused.problem(429);
    assert!(refused.header("retry-after").is_some());
}
