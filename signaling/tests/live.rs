//! The organiser's "now" card (`GET /api/v1/rooms/{id}/live`): who is in the call, as whom,
//! for how long, who speaks, and what they publish; the meeting under way; and nobody left
//! listed after they go.

mod common;

use std::time::Duration;

use common::class::class;
use common::http::{call, organiser_key};
use common::{ADMIN_KEY, TestServer, db};
use loadtest::client::{Client, ClientConfig};
use serde_json::{Value, json};

async fn live(s: &TestServer, id: &str, key: &str) -> Value {
    let r = call(
        s.addr,
        "GET",
        &format!("/api/v1/rooms/{id}/live"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Asks until `check` holds of the answer, for up to `secs`; whether it did, and the last answer.
async fn live_until(
    s: &TestServer,
    id: &str,
    secs: u64,
    check: impl Fn(&Value) -> bool,
) -> (bool, Value) {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let now = live(s, id, ADMIN_KEY).await;
        if check(&now) {
            return (true, now);
        }
        if std::time::Instant::now() > until {
            return (false, now);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn person<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v["people"].as_array()?.iter().find(|p| p["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_now_card_shows_who_is_in_and_who_speaks() {
    common::init_tracing();
    let s = TestServer::start_api(&db::sqlite_url(), (46840, 46869)).await;
    let c = class(&s, json!({"attendance_mode": "talk_time"})).await;
    let empty = live(&s, &c.id, ADMIN_KEY).await;
    assert_eq!(empty["people"], json!([]), "nobody in yet: {empty}");
    assert_eq!(
        empty["under_way"], false,
        "a room without a schedule has no meeting"
    );

    let peer = |index: u32, name: &str, token: &str, level: u8| {
        let mut cfg = ClientConfig::new(s.ws_url(), c.slug.clone(), index);
        cfg.name = name.into();
        cfg.token = Some(token.to_owned());
        cfg.publish_video = false;
        cfg.audio_level = Some(level);
        cfg
    };
    // Ada speaks (-20 dBov); the host's microphone is on and silent.
    let ada = Client::connect(peer(1, "Ada", &c.ada, 20)).await.unwrap();
    let mut host_cfg = peer(2, "Hana Host", &c.host, 127);
    host_cfg.device = Some("hana-device-0002".into());
    let host = Client::connect(host_cfg).await.unwrap();

    let (speaking, now) = live_until(&s, &c.id, 10, |now| {
        person(now, "Ada")
            .is_some_and(|p| p["speaking"] == true && p["seconds_talking"].as_i64() > Some(0))
            && person(now, "Hana Host").is_some()
    })
    .await;
    assert!(speaking, "Ada is shown speaking, with talk time: {now}");
    let a = person(&now, "Ada").unwrap();
    assert_eq!(a["identity"], format!("member:{}", c.ada_id));
    assert_eq!(a["participant_id"], ada.participant_id.as_str());
    assert_eq!(
        (
            a["host"].clone(),
            a["microphone"].clone(),
            a["camera"].clone()
        ),
        (json!(false), json!(true), json!(false))
    );
    assert!(
        a["seconds_in"].as_i64().is_some() && a["joined_at"].is_string(),
        "{a}"
    );
    let h = person(&now, "Hana Host").expect("the host is listed");
    assert_eq!(
        (h["host"].clone(), h["speaking"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(h["identity"], "guest:hana-device-0002");
    assert_eq!(now["people"].as_array().unwrap().len(), 2);
    assert_eq!(now["people"][0]["name"], "Ada", "the longest-present first");

    // Another organiser cannot see it, and nobody without a key.
    let other = organiser_key(s.addr, "Other").await;
    let path = format!("/api/v1/rooms/{}/live", c.id);
    assert_eq!(
        call(s.addr, "GET", &path, other["key"].as_str(), None)
            .await
            .status,
        404
    );
    assert_eq!(call(s.addr, "GET", &path, None, None).await.status, 401);

    ada.leave().await;
    let (gone, now) = live_until(&s, &c.id, 5, |now| person(now, "Ada").is_none()).await;
    assert!(gone, "Ada is not listed once she has left: {now}");
    host.leave().await;
    let (empty, now) = live_until(&s, &c.id, 5, |now| now["people"] == json!([])).await;
    assert!(empty, "nobody is left listed: {now}");
}
