//! Talk time from the server's speaker detection, hosts' overrides with a note, deleting one
//! person's attendance on request, and attendance past its room's retention.

mod common;

use std::time::Duration;

use common::class::{BEA, add_member, class, join, leave, patch_room, row};
use common::http::{call, call_as};
use common::{ADMIN_KEY, TestServer, db};
use loadtest::client::{Client, ClientConfig};
use protocol::ServerMessage;
use serde_json::{Value, json};

/// The room's only meeting, as a query parameter.
async fn only_meeting(s: &TestServer, att: &str) -> String {
    let meetings = call(s.addr, "GET", att, Some(ADMIN_KEY), None).await.json();
    let list = meetings["meetings"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{meetings}");
    list[0].as_str().unwrap().to_owned()
}

async fn register(s: &TestServer, att: &str, meeting: &str) -> Value {
    let r = call(
        s.addr,
        "GET",
        &format!("{att}?meeting={}", meeting.replace('+', "%2B")),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// The meeting's register as CSV, read back: its header and rows.
async fn register_csv(
    s: &TestServer,
    att: &str,
    meeting: &str,
) -> (Vec<String>, Vec<csv::StringRecord>) {
    let path = format!("{att}?meeting={}&format=csv", meeting.replace('+', "%2B"));
    let doc = call(s.addr, "GET", &path, Some(ADMIN_KEY), None).await;
    let mut reader = csv::Reader::from_reader(doc.body.as_slice());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    (header, reader.records().map(Result::unwrap).collect())
}

fn speakers(events: &[(std::time::Instant, ServerMessage)]) -> Vec<Vec<String>> {
    events
        .iter()
        .filter_map(|(_, m)| match m {
            ServerMessage::ActiveSpeakers { participant_ids } => Some(participant_ids.clone()),
            _ => None,
        })
        .collect()
}

/// Whether `who` is told, within `secs`, that exactly `speaking` speak.
async fn told(who: &Client, speaking: &[String], secs: u64) -> bool {
    common::eventually(Duration::from_secs(secs), || {
        speakers(&who.events()).iter().any(|s| s == speaking)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talk_time_comes_from_the_audio_levels_and_the_muted_have_none() {
    common::init_tracing();
    let s = TestServer::start_api(&db::sqlite_url(), (46600, 46639)).await;
    let c = class(&s, json!({"attendance_mode": "talk_time"})).await;
    let peer = |index: u32, name: &str, token: &str, level: u8| {
        let mut cfg = ClientConfig::new(s.ws_url(), c.slug.clone(), index);
        cfg.name = name.into();
        cfg.token = Some(token.to_owned());
        cfg.publish_video = false;
        cfg.audio_level = Some(level);
        cfg
    };
    // Ada speaks (-20 dBov); Bea's microphone is on but silent (-127 dBov), as a muted
    // browser track sends.
    let ada = Client::connect(peer(1, "Ada", &c.ada, 20)).await.unwrap();
    let mut bea_cfg = peer(2, "Bea", &c.shared, 127);
    bea_cfg.device = Some(BEA.into());
    let bea = Client::connect(bea_cfg).await.unwrap();
    let only_ada = vec![ada.participant_id.clone()];
    assert!(
        told(&bea, &only_ada, 10).await,
        "Bea is told Ada speaks: {:?}",
        speakers(&bea.events())
    );
    // Someone who joins while Ada speaks is told at once, not at the next change.
    let mut cai_cfg = peer(3, "Cai", &c.shared, 127);
    cai_cfg.device = Some("cai-device-0003".into());
    let cai = Client::connect(cai_cfg).await.unwrap();
    assert!(
        told(&cai, &only_ada, 3).await,
        "a late joiner hears who speaks: {:?}",
        speakers(&cai.events())
    );
    cai.leave().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (who, c) in [("ada", &ada), ("bea", &bea)] {
        assert!(
            speakers(&c.events())
                .iter()
                .all(|s| !s.contains(&bea.participant_id)),
            "{who} never hears silent Bea as a speaker"
        );
    }
    ada.leave().await;
    bea.leave().await;

    let att = format!("/api/v1/rooms/{}/attendance", c.id);
    let meeting = only_meeting(&s, &att).await;
    let ada_id = format!("member:{}", c.ada_id);
    let mut reg = Value::Null;
    for _ in 0..50 {
        reg = register(&s, &att, &meeting).await;
        if row(&reg, &ada_id)["intervals"][0]["end"].is_string()
            && row(&reg, &ada_id)["seconds_talking"].as_i64() > Some(0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ada_row = row(&reg, &ada_id);
    let talked = ada_row["seconds_talking"].as_i64().unwrap();
    let present = ada_row["seconds_present"].as_i64().unwrap();
    assert!(
        (2..=present.max(2)).contains(&talked),
        "Ada spoke for about as long as she was there: {ada_row}"
    );
    let bea_row = row(&reg, &format!("guest:{BEA}"));
    assert_eq!(bea_row["seconds_talking"], 0, "{bea_row}");

    let (header, cells) = register_csv(&s, &att, &meeting).await;
    assert_eq!(header.last().map(String::as_str), Some("seconds_talking"));
    let bea_cells = cells.iter().find(|r| &r[0] == "Bea").unwrap();
    assert_eq!(&bea_cells[header.len() - 1], "0");
}

async fn overrides_forgetting_and_retention(s: &TestServer) {
    let c = class(s, json!({})).await;
    let (cai_id, _) = add_member(s, &c, "Cai").await;
    let cai = format!("member:{cai_id}");
    let ada_id = format!("member:{}", c.ada_id);
    leave(join(s, &c, &c.ada, "Ada", None).await).await;
    let att = format!("/api/v1/rooms/{}/attendance", c.id);
    let meeting = only_meeting(s, &att).await;
    let reg = register(s, &att, &meeting).await;
    assert!(
        row(&reg, &ada_id).get("seconds_talking").is_none(),
        "an attendance-only room keeps no talk time"
    );
    let overrides = format!("{att}/overrides");
    let excuse = json!({"meeting": meeting, "identity": cai, "status": "excused",
        "note": "  ill, told us in advance "});

    // A participant may not; a host may, and so may the organiser's key.
    let r = call_as(
        s.addr,
        "PUT",
        &overrides,
        &c.ada,
        None,
        Some(excuse.clone()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = call_as(
        s.addr,
        "PUT",
        &overrides,
        &c.host,
        Some(BEA),
        Some(excuse.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["note"], "ill, told us in advance");
    let reg = register(s, &att, &meeting).await;
    let cai_row = row(&reg, &cai);
    assert_eq!(
        (&cai_row["status"], &cai_row["suggested"]),
        (&json!("excused"), &json!("absent")),
        "{cai_row}"
    );
    assert_eq!(cai_row["host_override"]["note"], "ill, told us in advance");
    // Replaced, not added to.
    let mut late = excuse.clone();
    late["identity"] = ada_id.clone().into();
    late["status"] = "late".into();
    for _ in 0..2 {
        let r = call(
            s.addr,
            "PUT",
            &overrides,
            Some(ADMIN_KEY),
            Some(late.clone()),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let (_, cells) = register_csv(s, &att, &meeting).await;
    let cai_cells = cells.iter().find(|r| &r[0] == "Cai").unwrap();
    assert_eq!(
        (&cai_cells[2], &cai_cells[3], &cai_cells[4]),
        ("excused", "absent", "ill, told us in advance")
    );

    // Bad overrides: nobody of that name, an unknown status, a long note, a bad meeting.
    for (body, status, fields) in [
        (json!({"identity": "member:nobody"}), 404, vec![]),
        (json!({"status": "heroic"}), 422, vec!["status"]),
        (json!({"note": "x".repeat(501)}), 422, vec!["note"]),
        (json!({"meeting": "last week"}), 422, vec!["meeting"]),
        (json!({"identity": "robot"}), 422, vec!["identity"]),
    ] {
        let mut b = excuse.clone();
        b.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        let r = call(s.addr, "PUT", &overrides, Some(ADMIN_KEY), Some(b.clone())).await;
        assert_eq!(r.status, status, "{b}: {}", r.text());
        if status == 422 && !fields.is_empty() {
            assert_eq!(r.problem_fields(422), fields, "{b}");
        }
    }

    // Cleared: the suggestion stands again; clearing twice is a 404.
    let clear = format!(
        "{overrides}?meeting={}&identity={cai}",
        meeting.replace('+', "%2B")
    );
    assert_eq!(
        call(s.addr, "DELETE", &clear, Some(ADMIN_KEY), None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(s.addr, "DELETE", &clear, Some(ADMIN_KEY), None)
            .await
            .status,
        404
    );
    let reg = register(s, &att, &meeting).await;
    assert_eq!(row(&reg, &cai)["status"], "absent");
    assert!(row(&reg, &cai).get("host_override").is_none());

    // Forgetting Ada on her request: the organiser's key only; her stretches and overrides go,
    // she stays on the roster (absent).
    let forget = format!("{att}?identity={ada_id}");
    let r = call_as(s.addr, "DELETE", &forget, &c.host, Some(BEA), None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = call(s.addr, "DELETE", &forget, Some(ADMIN_KEY), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["deleted"], 2, "one stretch, one override");
    let meetings = call(s.addr, "GET", &att, Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(meetings["meetings"], json!([]), "nobody else came");
    let r = call(
        s.addr,
        "DELETE",
        &format!("{att}?identity=x"),
        Some(ADMIN_KEY),
        None,
    )
    .await;
    assert_eq!(r.problem_fields(422), ["identity"]);

    // Retention: a room that keeps attendance a day loses it after that; other rooms keep
    // theirs.
    let other = class(s, json!({"slug": "chemistry"})).await;
    leave(join(s, &c, &c.ada, "Ada", None).await).await;
    leave(join(s, &other, &other.ada, "Ada", None).await).await;
    let r = patch_room(s, &c, json!({"attendance_retention_days": 0})).await;
    assert_eq!(r.problem_fields(422), ["attendance_retention_days"]);
    let r = patch_room(s, &c, json!({"attendance_retention_days": 1})).await;
    assert_eq!(r.json()["attendance_retention_days"], 1);
    let now = signaling::store::now_ms();
    assert_eq!(
        s.store.purge_attendance(now).await.unwrap(),
        0,
        "not yet a day"
    );
    let later = now + 25 * 3_600_000;
    assert_eq!(s.store.purge_attendance(later).await.unwrap(), 1);
    let meetings = call(s.addr, "GET", &att, Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(meetings["meetings"], json!([]));
    let other_att = format!("/api/v1/rooms/{}/attendance", other.id);
    let kept = call(s.addr, "GET", &other_att, Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(
        kept["meetings"].as_array().unwrap().len(),
        1,
        "kept for ever"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_override_with_a_note_and_a_person_can_be_forgotten() {
    for (i, (name, url)) in db::all().await.into_iter().enumerate() {
        let base = 46640 + (i as u16) * 10;
        let server = TestServer::start_api(&url, (base, base + 9)).await;
        eprintln!("-- on {name}");
        overrides_forgetting_and_retention(&server).await;
    }
}
