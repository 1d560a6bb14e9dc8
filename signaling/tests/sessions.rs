//! Organisers' browser sessions: one-time sign-in links an admin makes, the session cookie they
//! open, what that cookie may do (its owner's rooms, and only from this server's own pages),
//! and signing out.

mod common;

use common::http::{Resp, call, try_raw_with};
use common::{ADMIN_KEY, TestServer, db};
use serde_json::json;

/// The test client's `Host` is `test`, so this is the server's own origin.
const OWN: &str = "http://test";
const EVIL: &str = "http://evil.example";

async fn req(
    s: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> Resp {
    let bytes = body
        .as_ref()
        .map(|b| b.to_string().into_bytes())
        .unwrap_or_default();
    let ct = body.as_ref().map(|_| "application/json");
    try_raw_with(s.addr, method, path, headers, ct, &bytes)
        .await
        .expect("a complete response")
}

/// A new organiser key: (id, key).
async fn organiser(s: &TestServer, name: &str) -> (String, String) {
    let v = common::http::organiser_key(s.addr, name).await;
    (
        v["id"].as_str().unwrap().into(),
        v["key"].as_str().unwrap().into(),
    )
}

/// A sign-in link's path for the key `id`.
async fn link(s: &TestServer, id: &str) -> String {
    let r = call(
        s.addr,
        "POST",
        &format!("/api/v1/keys/{id}/sign-in-links"),
        Some(ADMIN_KEY),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let url = r.json()["url"].as_str().unwrap().to_owned();
    let public = format!("http://{}", s.addr);
    url.strip_prefix(&public)
        .unwrap_or_else(|| panic!("{url} is on {public}"))
        .to_owned()
}

/// Posts the sign-in form as the page's button does; the response.
async fn press(s: &TestServer, path: &str, origin: &str) -> Resp {
    req(s, "POST", path, &[("Origin", origin)], None).await
}

/// Signs in with a fresh link; the `Cookie` header value that carries the session.
async fn sign_in(s: &TestServer, id: &str) -> String {
    let path = link(s, id).await;
    let r = press(s, &path, OWN).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").expect("a session cookie").to_owned();
    set.split(';').next().unwrap().to_owned()
}

async fn room(s: &TestServer, key: &str, name: &str) -> String {
    let r = call(
        s.addr,
        "POST",
        "/api/v1/rooms",
        Some(key),
        Some(json!({"name": name, "time_zone": "Europe/Berlin"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn a_link_signs_in_once(s: &TestServer) {
    let (id, _) = organiser(s, "Ms <Rivera> & co").await;
    let path = link(s, &id).await;
    assert!(path.starts_with("/organise/sign-in/"), "{path}");
    // Opening the link changes nothing: it names whom it signs in (as text), with a button.
    for _ in 0..2 {
        let page = req(s, "GET", &path, &[], None).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let html = page.text();
        assert!(html.contains("Ms &lt;Rivera&gt; &amp; co"), "{html}");
        assert!(!html.contains("<Rivera>"), "{html}");
        assert!(html.contains("method=\"post\""), "{html}");
    }
    // A form posted from another site, or with no origin at all, changes nothing.
    for origin in [EVIL, "null"] {
        let r = press(s, &path, origin).await;
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.header("set-cookie").is_none());
    }
    let r = req(s, "POST", &path, &[], None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    // `Origin: null` (a page whose referrer policy is no-referrer) counts only with the
    // browser's word that the request is same-origin.
    let null_same_site = [("Origin", "null"), ("Sec-Fetch-Site", "same-site")];
    let r = req(s, "POST", &path, &null_same_site, None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(req(s, "GET", &path, &[], None).await.status, 200);
    // From the page itself: a session, and on to the console.
    let r = press(s, &path, OWN).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/organise"));
    let set = r.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Max-Age=43200", "Path=/"] {
        assert!(set.contains(attr), "{set} has {attr}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = set.split(';').next().unwrap();
    let me = req(s, "GET", "/api/v1/session", &[("Cookie", cookie)], None).await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.json()["name"], "Ms <Rivera> & co");
    assert_eq!(me.json()["via"], "session");
    assert!(me.json()["expires_at"].is_string());
    // Used: refused with a page that says so, whether opened or posted again.
    for r in [
        req(s, "GET", &path, &[], None).await,
        press(s, &path, OWN).await,
    ] {
        assert_eq!(r.status, 410, "{}", r.text());
        assert!(r.text().contains("has been used"), "{}", r.text());
        assert!(r.header("set-cookie").is_none());
    }
    // Unknown, and expired.
    let r = req(s, "GET", "/organise/sign-in/not-a-link", &[], None).await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("not valid"), "{}", r.text());
    let now = chrono::Utc::now().timestamp_millis();
    s.store
        .insert_sign_in_link(
            &signaling::api::extract::hash_key("old-link"),
            &id,
            now - 3_600_000,
            now - 1,
        )
        .await
        .unwrap();
    for r in [
        req(s, "GET", "/organise/sign-in/old-link", &[], None).await,
        press(s, "/organise/sign-in/old-link", OWN).await,
    ] {
        assert_eq!(r.status, 410, "{}", r.text());
        assert!(r.text().contains("has expired"), "{}", r.text());
    }
}

async fn a_session_is_its_keys(s: &TestServer) {
    let (a, a_key) = organiser(s, "Teacher A").await;
    let (_, b_key) = organiser(s, "Teacher B").await;
    let mine = room(s, &a_key, "Year 10 Physics").await;
    let theirs = room(s, &b_key, "Year 11 Chemistry").await;
    let cookie = sign_in(s, &a).await;
    let c = [("Cookie", cookie.as_str())];
    let list = req(s, "GET", "/api/v1/rooms", &c, None).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let ids: Vec<String> = list.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, vec![mine.clone()]);
    let r = req(s, "GET", &format!("/api/v1/rooms/{theirs}"), &c, None).await;
    assert_eq!(r.status, 404, "{}", r.text());
    // Without a session or key: 401 on the console's data routes.
    for path in [
        "/api/v1/rooms",
        "/api/v1/session",
        &format!("/api/v1/rooms/{mine}"),
    ] {
        let r = req(s, "GET", path, &[], None).await;
        r.problem(401);
    }
    // Changes by cookie need this server's own origin; from elsewhere nothing changes.
    let new_room = json!({"name": "Forged", "time_zone": "UTC"});
    for headers in [
        vec![("Cookie", cookie.as_str()), ("Origin", EVIL)],
        vec![("Cookie", cookie.as_str())],
        vec![("Cookie", cookie.as_str()), ("Origin", "null")],
        vec![
            ("Cookie", cookie.as_str()),
            ("Origin", EVIL),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        vec![("Cookie", cookie.as_str()), ("Sec-Fetch-Site", "same-site")],
    ] {
        let r = req(s, "POST", "/api/v1/rooms", &headers, Some(new_room.clone())).await;
        r.problem(403);
        let r = req(
            s,
            "DELETE",
            &format!("/api/v1/rooms/{mine}"),
            &headers,
            None,
        )
        .await;
        r.problem(403);
    }
    let list = req(s, "GET", "/api/v1/rooms", &c, None).await;
    assert_eq!(
        list.json()["items"].as_array().unwrap().len(),
        1,
        "{}",
        list.text()
    );
    let own = [("Cookie", cookie.as_str()), ("Origin", OWN)];
    let r = req(
        s,
        "POST",
        "/api/v1/rooms",
        &own,
        Some(json!({"name": "Made here", "time_zone": "UTC"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // The routes a room's invite links also read (its attendance, chat, board) take the
    // session as they take its key: the register's marks can be set from the console.
    let m = req(
        s,
        "POST",
        &format!("/api/v1/rooms/{mine}/members"),
        &own,
        Some(json!({"display_name": "Ada"})),
    )
    .await;
    assert_eq!(m.status, 201, "{}", m.text());
    let excuse = json!({"meeting": "2026-10-06T18:00:00+02:00",
        "identity": format!("member:{}", m.json()["id"].as_str().unwrap()),
        "status": "excused", "note": "ill"});
    let overrides = format!("/api/v1/rooms/{mine}/attendance/overrides");
    let r = req(s, "PUT", &overrides, &own, Some(excuse.clone())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["set_by"], format!("key:{a}"));
    let evil = [("Cookie", cookie.as_str()), ("Origin", EVIL)];
    req(s, "PUT", &overrides, &evil, Some(excuse))
        .await
        .problem(403);
    let r = req(s, "GET", &format!("/api/v1/rooms/{mine}/chat"), &c, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = req(s, "GET", &format!("/api/v1/rooms/{theirs}/chat"), &c, None).await;
    assert_eq!(r.status, 404, "not another organiser's: {}", r.text());
    // A session cannot make sign-in links: that needs an admin.
    let r = req(
        s,
        "POST",
        &format!("/api/v1/keys/{a}/sign-in-links"),
        &own,
        Some(json!({})),
    )
    .await;
    r.problem(403);
    // Signing out ends the session on the server: the cookie no longer works, even if kept.
    let r = req(s, "DELETE", "/api/v1/session", &own, None).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    req(s, "GET", "/api/v1/rooms", &c, None).await.problem(401);
    // Revoking a key ends its sessions, and its links stop working.
    let cookie = sign_in(s, &a).await;
    let path = link(s, &a).await;
    let r = call(
        s.addr,
        "DELETE",
        &format!("/api/v1/keys/{a}"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    req(
        s,
        "GET",
        "/api/v1/rooms",
        &[("Cookie", cookie.as_str())],
        None,
    )
    .await
    .problem(401);
    let r = req(s, "GET", &path, &[], None).await;
    assert_eq!(r.status, 410, "{}", r.text());
}

async fn links_are_for_admins_to_make(s: &TestServer) {
    let (id, key) = organiser(s, "Teacher C").await;
    let path = format!("/api/v1/keys/{id}/sign-in-links");
    call(s.addr, "POST", &path, Some(&key), Some(json!({})))
        .await
        .problem(403);
    for minutes in [0, 1441] {
        let r = call(
            s.addr,
            "POST",
            &path,
            Some(ADMIN_KEY),
            Some(json!({"expires_minutes": minutes})),
        )
        .await;
        assert_eq!(r.problem_fields(422), vec!["expires_minutes"]);
    }
    let r = call(
        s.addr,
        "POST",
        "/api/v1/keys/nope/sign-in-links",
        Some(ADMIN_KEY),
        Some(json!({})),
    )
    .await;
    r.problem(404);
    let r = call(
        s.addr,
        "POST",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"expires_minutes": 5})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let at =
        chrono::DateTime::parse_from_rfc3339(r.json()["expires_at"].as_str().unwrap()).unwrap();
    let left = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    assert!((4 * 60_000..=5 * 60_000).contains(&left), "{left} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organisers_sign_in_by_link_into_a_session_of_their_own() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        let base = 46780 + (i as u16) * 10;
        let server = TestServer::start_api(&url, (base, base + 9)).await;
        eprintln!("-- sessions on {name}");
        a_link_signs_in_once(&server).await;
        a_session_is_its_keys(&server).await;
        links_are_for_admins_to_make(&server).await;
    }
}
