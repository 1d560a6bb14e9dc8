//! What an adversarial campaign found, each as a test that failed before its fix: schedules that
//! stalled the server, metrics labels that anyone could grow, slow and idle clients that held
//! connections for ever.

mod common;

use std::time::{Duration, Instant};

use common::http::{call, raw};
use common::raw::{Next, Raw};
use common::{ADMIN_KEY, TestServer, db};
use serde_json::json;
use sfu::SfuConfig;
use signaling::config::Limits;
use signaling::serve::ConnLimits;
use signaling::store::ScheduleRow;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn room(s: &TestServer, name: &str) -> (String, String) {
    let r = call(
        s.addr,
        "POST",
        "/api/v1/rooms",
        Some(ADMIN_KEY),
        Some(json!({"name": name, "time_zone": "UTC"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["slug"].as_str().unwrap().to_owned(),
    )
}

async fn invite(s: &TestServer, id: &str, role: &str) -> String {
    let r = call(
        s.addr,
        "POST",
        &format!("/api/v1/rooms/{id}/invites"),
        Some(ADMIN_KEY),
        Some(json!({"role": role})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_that_would_stall_the_server_is_refused_and_a_stored_one_is_reported() {
    let s = TestServer::start_api(&db::sqlite_url(), (46000, 46019)).await;
    let (id, slug) = room(&s, "Attack room").await;
    let path = format!("/api/v1/rooms/{id}/schedule");
    // The campaign's rule: every second of December, from 2000. Refused, naming the rule.
    for rule in [
        "FREQ=SECONDLY;BYMONTH=12",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=0,2,4,6,8,10,12,14,16,18,19,20,21,22,23",
    ] {
        let r = call(
            s.addr,
            "PUT",
            &path,
            Some(ADMIN_KEY),
            Some(json!({"rrule": rule, "start": "2000-01-01T00:00", "duration_minutes": 1})),
        )
        .await;
        assert_eq!(r.problem_fields(422), vec!["rrule"], "{rule}: {}", r.text());
    }
    assert_eq!(
        call(s.addr, "GET", "/healthz", None, None).await.status,
        200
    );
    // Nothing was stored.
    call(s.addr, "GET", &path, Some(ADMIN_KEY), None)
        .await
        .problem(404);

    // A database written before these checks may hold such a rule: it is reported, not run.
    for (rule, says) in [
        ("FREQ=SECONDLY;BYMONTH=12", ""),
        ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL"),
    ] {
        let row = ScheduleRow {
            rrule: rule.into(),
            start_local: "2000-01-01T00:00:00".into(),
            duration_minutes: 1,
            time_zone: None,
            exdates: "[]".into(),
            moves: "[]".into(),
            updated_at: 0,
        };
        s.store.put_schedule(&id, &row).await.unwrap();
        // A range that needs more than the budget, in a month the rule meets every second.
        let occ = call(
            s.addr,
            "GET",
            &format!(
                "/api/v1/rooms/{id}/occurrences?from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z"
            ),
            Some(ADMIN_KEY),
            None,
        )
        .await;
        match rule {
            // Dense but bounded: the first thousand, marked as cut short.
            "FREQ=SECONDLY;BYMONTH=12" => {
                assert_eq!(occ.status, 200, "{}", occ.text());
                assert_eq!(occ.header("cohort-truncated"), Some("true"));
                assert_eq!(occ.json().as_array().unwrap().len(), 1000);
            }
            _ => {
                let p = occ.problem(409);
                let message = p["errors"][0]["message"].as_str().unwrap();
                assert!(message.contains(says), "{p}");
            }
        }
        let view = call(s.addr, "GET", &path, Some(ADMIN_KEY), None).await;
        assert_eq!(view.status, 200, "{}", view.text());
        // The lobby answers at once; participants learn why they cannot get in, hosts can.
        let participant = invite(&s, &id, "participant").await;
        let lobby = call(
            s.addr,
            "GET",
            &format!("/api/v1/lobby/{slug}?t={participant}"),
            None,
            None,
        )
        .await;
        assert_eq!(lobby.status, 200, "{}", lobby.text());
        if rule.contains("INTERVAL=0") {
            assert_eq!(lobby.json()["open"], false);
            let problem = lobby.json()["schedule_problem"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(problem.contains("INTERVAL"), "{problem}");
            assert!(
                view.json()["problem"]
                    .as_str()
                    .unwrap()
                    .contains("INTERVAL")
            );
            let host = invite(&s, &id, "host").await;
            let lobby = call(
                s.addr,
                "GET",
                &format!("/api/v1/lobby/{slug}?t={host}"),
                None,
                None,
            )
            .await;
            assert_eq!(lobby.json()["open"], true, "{}", lobby.text());
        }
        assert_eq!(
            call(s.addr, "GET", "/healthz", None, None).await.status,
            200
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_http_methods_add_no_metrics_labels() {
    let s = TestServer::start_api(&db::sqlite_url(), (46020, 46039)).await;
    for i in 0..50 {
        let r = raw(s.addr, &format!("ADV{i}"), "/healthz", None, None, b"").await;
        assert!(r.status >= 400 || r.status == 200, "{}", r.status);
    }
    let scrape = call(s.addr, "GET", "/metrics", None, None).await.text();
    assert!(!scrape.contains("ADV"), "a made-up method became a label");
    let other = scrape
        .lines()
        .find(|l| l.starts_with("cohort_http_requests_total") && l.contains("method=\"other\""))
        .unwrap_or_else(|| panic!("no method=\"other\" series in\n{scrape}"));
    let count: f64 = other.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(count, 50.0, "{other}");
}

/// A TCP connection from `from` (another loopback address) that sends part of a request head.
async fn half_request(from: &str, to: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    stream
}

/// What the server did with a connection within `limit`: its first bytes, or "" for a close.
async fn answer(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    let mut buf = vec![0u8; 512];
    match tokio::time::timeout(limit, stream.read(&mut buf)).await {
        Err(_) => None,
        Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Ok(Err(_)) => Some(String::new()),
    }
}

/// One whole response (its head, and the body its content-length gives), however many reads it
/// takes: a response may reach the client in more than one segment.
async fn whole_response(stream: &mut tokio::net::TcpStream, limit: Duration) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    let mut got = String::new();
    loop {
        if let Some((head, body)) = got.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return got;
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match answer(stream, left).await {
            Some(part) if !part.is_empty() => got.push_str(&part),
            other => panic!("the response ended early: {got:?}, then {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_and_others_are_still_served() {
    common::init_tracing();
    let conn = ConnLimits {
        header_timeout: Duration::from_secs(2),
        max_connections: 1000,
        max_per_ip: 40,
    };
    let s = TestServer::start_with_conn_limits(&db::sqlite_url(), (46040, 46059), conn).await;
    // A slowloris from 127.0.0.2: 60 heads that never end. 40 are taken, 20 told at once.
    let opened = Instant::now();
    let mut all = Vec::new();
    for _ in 0..60 {
        all.push(half_request("127.0.0.2", s.addr).await);
    }
    let replies = futures::future::join_all(
        all.iter_mut()
            .map(|c| answer(c, Duration::from_millis(500))),
    )
    .await;
    assert!(
        opened.elapsed() < Duration::from_secs(2),
        "the check outlived the timeout"
    );
    let mut held = Vec::new();
    let mut refused = 0;
    for (c, reply) in all.into_iter().zip(replies) {
        match reply {
            None => held.push(c),
            Some(reply) => {
                assert!(reply.starts_with("HTTP/1.1 503"), "{reply:?}");
                assert!(reply.contains("too many connections from your address"));
                refused += 1;
            }
        }
    }
    assert_eq!((held.len(), refused), (40, 20));
    // Everyone else is served meanwhile.
    let started = Instant::now();
    assert_eq!(
        call(s.addr, "GET", "/healthz", None, None).await.status,
        200
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // Past the header timeout the slow ones are closed, and their address may connect again.
    for c in &mut held {
        let got = answer(c, Duration::from_secs(3)).await;
        assert!(
            got.is_some(),
            "a slow client was still open after the header timeout"
        );
    }
    drop(held);
    let mut again = half_request("127.0.0.2", s.addr).await;
    assert_eq!(answer(&mut again, Duration::from_millis(200)).await, None);
    // An idle keep-alive connection is closed after the same time.
    let mut idle = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let first = whole_response(&mut idle, Duration::from_secs(1)).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first:?}");
    let since = Instant::now();
    assert_eq!(
        answer(&mut idle, Duration::from_secs(4)).await.as_deref(),
        Some("")
    );
    assert!(
        since.elapsed() >= Duration::from_millis(1500),
        "closed before the timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signaling_socket_that_never_joins_is_closed_even_when_it_answers_pings() {
    let limits = Limits {
        join_within: Duration::from_secs(1),
        ping_every: Duration::from_millis(200),
        ..Limits::default()
    };
    let cfg = SfuConfig {
        udp_port: 46060,
        engines: 1,
        ..SfuConfig::default()
    };
    let s = TestServer::start_with(cfg, limits).await;
    let mut idle = Raw::connect(&s.ws_url()).await;
    // The client library answers every ping; the deadline still closes it, with 1008.
    let started = Instant::now();
    assert_eq!(idle.next().await, Next::Closed(Some(1008)));
    assert!(started.elapsed() >= Duration::from_millis(900));
    // One that joins in time stays.
    let mut joined = Raw::connect(&s.ws_url()).await;
    joined.join("deadline").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    joined.assert_alive().await;
}

/// A room's zone change is checked against its whole schedule, as a new schedule would be: a
/// start that the new zone's clocks skip is refused, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_change_that_would_break_the_schedule_is_refused() {
    let s = TestServer::start_api(&db::sqlite_url(), (46070, 46079)).await;
    let (id, _) = room(&s, "Zone room").await;
    let put = call(
        s.addr,
        "PUT",
        &format!("/api/v1/rooms/{id}/schedule"),
        Some(ADMIN_KEY),
        Some(
            json!({"rrule": "FREQ=WEEKLY;BYDAY=SU", "start": "2026-03-29T02:30",
                    "duration_minutes": 30}),
        ),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let path = format!("/api/v1/rooms/{id}");
    let patch = call(
        s.addr,
        "PATCH",
        &path,
        Some(ADMIN_KEY),
        Some(json!({"time_zone": "Europe/Berlin"})),
    )
    .await;
    let p = patch.problem(422);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("schedule breaks"),
        "{p}"
    );
    let room = call(s.addr, "GET", &path, Some(ADMIN_KEY), None)
        .await
        .json();
    assert_eq!(room["time_zone"], "UTC");
}
