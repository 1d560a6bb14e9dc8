//! A room's roster: members added one by one or from a class list, each with personal links
//! that admit them with their current role and can be revoked on their own.

mod common;

use common::http::{call, raw};
use common::raw::Raw;
use common::{ADMIN_KEY, TestServer, db};
use serde_json::{Value, json};

async fn api(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> common::http::Resp {
    call(s.addr, method, path, Some(ADMIN_KEY), body).await
}

/// A new invite's token, from `POST path` with `body`.
async fn new_token(s: &TestServer, path: &str, body: Value) -> String {
    let r = api(s, "POST", path, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["token"].as_str().unwrap().to_owned()
}

/// What a join with `token` gets: `joined`, or the error code and message.
async fn join(s: &TestServer, slug: &str, token: &str) -> (String, String) {
    let mut ws = Raw::connect(&s.ws_url()).await;
    let v = ws.try_join(slug, Some(token)).await;
    match v["type"].as_str() {
        Some("joined") => ("joined".into(), String::new()),
        _ => (
            v["code"].as_str().unwrap_or("?").to_owned(),
            v["message"].as_str().unwrap_or("").to_owned(),
        ),
    }
}

async fn roster(s: &TestServer) {
    let room = api(
        s,
        "POST",
        "/api/v1/rooms",
        Some(json!({"name": "Year 9 maths", "time_zone": "UTC"})),
    )
    .await
    .json();
    let (id, slug) = (room["id"].as_str().unwrap(), room["slug"].as_str().unwrap());
    let members = format!("/api/v1/rooms/{id}/members");

    // One by one: checked field by field, emails unique in the room.
    let ada = api(
        s,
        "POST",
        &members,
        Some(json!({"display_name": " Ada Lovelace ",
        "email": "ada@Example.org", "role": "host"})),
    )
    .await;
    assert_eq!(ada.status, 201, "{}", ada.text());
    let ada = ada.json();
    assert_eq!(ada["display_name"], "Ada Lovelace");
    assert_eq!(ada["email"], "ada@example.org");
    assert_eq!(
        ada["identity"],
        format!("member:{}", ada["id"].as_str().unwrap())
    );
    let again = api(
        s,
        "POST",
        &members,
        Some(json!({"display_name": "Ada 2", "email": "ada@example.org"})),
    )
    .await;
    assert_eq!(again.problem_fields(409), ["email"]);
    let bad = api(
        s,
        "POST",
        &members,
        Some(json!({"display_name": "\u{200B}", "email": "nope"})),
    )
    .await;
    assert_eq!(bad.problem_fields(422), ["display_name", "email"]);

    // A class list: good rows added, bad ones refused with their line and reason.
    let csv = "name,email,role\nBea Brown,bea@example.org,\nCai Chen,,participant\n\
               Dan,not-an-email,\nAda Again,ADA@example.org,\nEve,eve@example.org,teacher\n";
    let import = format!("{members}/import");
    // A dry run (the console's preview) answers as the import will, and keeps nothing.
    let before = api(s, "GET", &members, None).await.json();
    let dry = raw(
        s.addr,
        "POST",
        &format!("{import}?dry_run=true"),
        Some(ADMIN_KEY),
        Some("text/csv"),
        csv.as_bytes(),
    )
    .await;
    assert_eq!(dry.status, 200, "{}", dry.text());
    assert_eq!(api(s, "GET", &members, None).await.json(), before);
    let dry = dry.json();
    let r = raw(
        s.addr,
        "POST",
        &import,
        Some(ADMIN_KEY),
        Some("text/csv"),
        csv.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    let added: Vec<&str> = report["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(added, ["Bea Brown", "Cai Chen"]);
    let refused: Vec<(u64, String)> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        refused.iter().map(|r| r.0).collect::<Vec<_>>(),
        [4, 5, 6],
        "{refused:?}"
    );
    assert!(refused[0].1.contains("email"), "{refused:?}");
    assert!(refused[1].1.contains("already a member"), "{refused:?}");
    assert!(refused[2].1.contains("teacher"), "{refused:?}");
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["added"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["display_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(&dry),
        names(&report),
        "the dry run said what the import did"
    );
    assert_eq!(dry["refused"], report["refused"]);
    let json_body = raw(
        s.addr,
        "POST",
        &import,
        Some(ADMIN_KEY),
        Some("application/json"),
        b"{}",
    )
    .await;
    json_body.problem(415);
    let no_name = raw(
        s.addr,
        "POST",
        &import,
        Some(ADMIN_KEY),
        Some("text/csv"),
        b"email\nx@y.org\n",
    )
    .await;
    assert_eq!(no_name.problem_fields(422), ["body"]);
    let list = api(s, "GET", &members, None).await.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada Lovelace", "Bea Brown", "Cai Chen"]);

    // A personal link admits its member, with their role as it is now.
    let bea = report["added"][0]["id"].as_str().unwrap().to_owned();
    let bea_path = format!("{members}/{bea}");
    let link = api(s, "POST", &format!("{bea_path}/invites"), Some(json!({}))).await;
    assert_eq!(link.status, 201, "{}", link.text());
    let token = link.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(join(s, slug, &token).await.0, "joined");
    let lobby = |t: String| async move {
        call(
            s.addr,
            "GET",
            &format!("/api/v1/lobby/{slug}?t={t}"),
            None,
            None,
        )
        .await
    };
    assert_eq!(lobby(token.clone()).await.json()["role"], "participant");
    let promoted = api(
        s,
        "PATCH",
        &bea_path,
        Some(json!({"role": "host", "email": null})),
    )
    .await;
    assert_eq!(promoted.status, 200, "{}", promoted.text());
    assert_eq!(promoted.json()["email"], Value::Null);
    assert_eq!(lobby(token.clone()).await.json()["role"], "host");

    // Revoking her links refuses them everywhere; a new link works; others are untouched.
    let cai = report["added"][1]["id"].as_str().unwrap().to_owned();
    let cai_token = new_token(s, &format!("{members}/{cai}/invites"), json!({})).await;
    let revoked = api(s, "POST", &format!("{bea_path}/revoke-links"), None).await;
    assert_eq!(revoked.json()["link_version"], 2);
    let (code, why) = join(s, slug, &token).await;
    assert_eq!(code, "invite_invalid");
    assert!(why.contains("revoked"), "{why}");
    lobby(token.clone()).await.problem(403);
    call(
        s.addr,
        "GET",
        &format!("/api/v1/rooms/{id}/calendar.ics?t={token}"),
        None,
        None,
    )
    .await
    .problem(403);
    assert_eq!(join(s, slug, &cai_token).await.0, "joined");
    let fresh = new_token(s, &format!("{bea_path}/invites"), json!({})).await;
    assert_eq!(join(s, slug, &fresh).await.0, "joined");

    // Off the roster: her links stop working, and she is gone from the list.
    assert_eq!(api(s, "DELETE", &bea_path, None).await.status, 204);
    assert_eq!(join(s, slug, &fresh).await.0, "invite_invalid");
    api(s, "GET", &bea_path, None).await.problem(404);
    assert_eq!(
        api(s, "GET", &members, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_with_personal_links_that_can_be_revoked_on_their_own() {
    common::init_tracing();
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        let base = 46200 + (i as u16) * 20;
        let server = TestServer::start_api(&url, (base, base + 19)).await;
        eprintln!("-- roster on {name}");
        roster(&server).await;
    }
}

/// The identity a join is given: the member of a personal link (whatever device it came
/// from), a guest by the page's device id, or a fresh guest for a client that keeps none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_is_a_member_by_their_link_or_a_guest_by_device() {
    let s = TestServer::start_api(&db::sqlite_url(), (46240, 46259)).await;
    let room = api(
        &s,
        "POST",
        "/api/v1/rooms",
        Some(json!({"name": "Book club", "time_zone": "UTC"})),
    )
    .await
    .json();
    let (id, slug) = (room["id"].as_str().unwrap(), room["slug"].as_str().unwrap());
    let ada = api(
        &s,
        "POST",
        &format!("/api/v1/rooms/{id}/members"),
        Some(json!({"display_name": "Ada"})),
    )
    .await
    .json();
    let ada_id = ada["id"].as_str().unwrap();
    let personal = new_token(
        &s,
        &format!("/api/v1/rooms/{id}/members/{ada_id}/invites"),
        json!({}),
    )
    .await;
    let shared = new_token(
        &s,
        &format!("/api/v1/rooms/{id}/invites"),
        json!({"role": "participant"}),
    )
    .await;
    let joined = |token: String, device: Option<&'static str>| {
        let url = s.ws_url();
        async move {
            let mut ws = Raw::connect(&url).await;
            let mut join =
                json!({"type": "join", "v": 1, "room": slug, "name": "x", "token": token});
            if let Some(d) = device {
                join["device"] = d.into();
            }
            ws.send_json(join).await;
            match ws.next().await {
                common::raw::Next::Json(v) => v,
                other => panic!("no answer to join: {other:?}"),
            }
        }
    };
    let member = joined(personal.clone(), Some("laptop-0123456789")).await;
    assert_eq!(member["identity"], format!("member:{ada_id}"));
    let guest = joined(shared.clone(), Some("laptop-0123456789")).await;
    assert_eq!(guest["identity"], "guest:laptop-0123456789");
    let fresh = joined(shared.clone(), None).await;
    let fresh = fresh["identity"].as_str().unwrap().to_owned();
    assert!(fresh.starts_with("guest:") && fresh.len() > 20, "{fresh}");
    let again = joined(shared.clone(), None).await;
    assert_ne!(again["identity"].as_str().unwrap(), fresh);
    let bad = joined(shared, Some("<script>")).await;
    assert_eq!(bad["code"], "invalid_message", "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("device"), "{bad}");
}
