//! deploy/ against the real thing: Debian's Prometheus, started on loopback, scrapes a server
//! with a live room and answers PromQL for its participants; it loads deploy/alerts.yml and
//! evaluates every rule without error; every expression of the Grafana dashboard runs on it;
//! and every metric any of them names is one the server really exports.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::call;
use common::{TestServer, eventually};
use loadtest::client::{Client, ClientConfig};
use serde_json::Value;

/// Stops the Prometheus it holds, by its PID, however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    l.local_addr().expect("bound").port()
}

/// Starts Prometheus scraping `target` every second, with deploy/alerts.yml loaded.
fn start_prometheus(target: SocketAddr, dir: &Path) -> Option<(Running, SocketAddr)> {
    let rules = deploy_dir().join("alerts.yml");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {}\n\
         scrape_configs:\n  - job_name: cohort\n    static_configs:\n      - targets: ['{target}']\n",
        rules.display()
    );
    std::fs::create_dir_all(dir).expect("temp dir");
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, config).expect("write the config");
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port())
        .parse()
        .expect("an address");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some((Running(child), listen))
}

/// `GET /api/v1/{what}` on Prometheus, with `query` form-encoded; the JSON answer.
async fn prom(addr: SocketAddr, what: &str, query: Option<&str>) -> Value {
    let path = match query {
        Some(q) => format!(
            "/api/v1/{what}?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("query", q)
                .finish()
        ),
        None => format!("/api/v1/{what}"),
    };
    call(addr, "GET", &path, None, None).await.json()
}

/// The metric names a PromQL expression reads (functions, keywords, label names, strings,
/// durations and numbers are not names).
fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    const LISTS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let skip_to = |i: usize, close: char| {
        let mut j = i;
        while j < chars.len() && chars[j] != close {
            j += 1;
        }
        j + 1
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = skip_to(i + 1, c);
        } else if c == '{' {
            i = skip_to(i, '}');
        } else if c == '[' {
            i = skip_to(i, ']');
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let call = j < chars.len() && chars[j] == '(';
            if LISTS.contains(&word.as_str()) {
                if call {
                    i = skip_to(j, ')');
                }
            } else if !call && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every `expr` in the dashboard, and the metric of every `label_values(metric, label)`
/// variable; Grafana variables become match-anything.
fn dashboard_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if let (true, Value::String(s)) = (k == "expr", x) {
                    out.push(s.replace("$room", ".*"));
                } else if let (true, Value::String(s)) = (k == "query", x)
                    && let Some(inner) = s.strip_prefix("label_values(")
                {
                    let metric = inner.split([',', ')']).next().unwrap_or("").trim();
                    out.push(metric.to_owned());
                } else {
                    dashboard_exprs(x, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| dashboard_exprs(x, out)),
        _ => {}
    }
}

#[test]
fn metric_names_are_told_from_functions_labels_and_keywords() {
    let e = r#"histogram_quantile(0.95, sum by (le, room) (rate(cohort_x_bucket{room=~".*"}[5m])))
        / on (room) group_left cohort_y > 0.5 and up{job="a"} == 0"#;
    assert_eq!(metric_names(e), vec!["cohort_x_bucket", "cohort_y", "up"]);
    assert_eq!(
        metric_names("sum(rate(a_total[1m])) by (kind) * 8"),
        vec!["a_total"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_cohort_and_every_deployed_query_names_real_metrics() {
    let server = TestServer::start((45200, 45249)).await;
    let room = "deploy-room";
    let a = Client::connect(ClientConfig::new(server.ws_url(), room, 1))
        .await
        .expect("joins");
    let b = Client::connect(ClientConfig::new(server.ws_url(), room, 2))
        .await
        .expect("joins");
    let flowing = eventually(Duration::from_secs(10), || {
        [&a, &b]
            .iter()
            .all(|c| c.received().iter().filter(|t| t.packets > 0).count() == 2)
    })
    .await;
    assert!(flowing, "media flows both ways");

    let dir = std::env::temp_dir().join(format!("cohort-prom-{}", uuid::Uuid::new_v4().simple()));
    let Some((_prometheus, prom_addr)) = start_prometheus(server.addr, &dir) else {
        common::missing_outside_ci(
            "prometheus",
            "scripts/setup.sh installs Debian's prometheus",
        );
        return;
    };

    // It listens before its storage is open, and answers 503 until then: wait for `/-/ready`.
    let up = async {
        while tokio::net::TcpStream::connect(prom_addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        while call(prom_addr, "GET", "/-/ready", None, None).await.status != 200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), up)
        .await
        .expect("Prometheus is ready within 30 s");

    // Prometheus scrapes and answers PromQL for the participant count.
    let query = format!("cohort_room_participants{{room=\"{room}\"}}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut answer = Value::Null;
    while Instant::now() < deadline {
        answer = prom(prom_addr, "query", Some(&query)).await;
        if answer["data"]["result"][0]["value"][1] == "2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        answer["data"]["result"][0]["value"][1], "2",
        "Prometheus answers {query}: {answer}"
    );
    // Let RTCP histograms appear and a few scrapes land, so every family has been seen.
    let rtt = "cohort_rtcp_rtt_seconds_count";
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let v = prom(prom_addr, "query", Some(rtt)).await;
        if v["data"]["result"][0]["value"][1]
            .as_str()
            .is_some_and(|n| n != "0")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let names: BTreeSet<String> = prom(prom_addr, "label/__name__/values", None).await["data"]
        .as_array()
        .expect("metric names")
        .iter()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    assert!(
        names.contains("cohort_rtcp_rtt_seconds_bucket"),
        "{names:?}"
    );

    // Every alert rule loaded and evaluates without error.
    let rules = prom(prom_addr, "rules", None).await;
    let mut exprs: Vec<(String, String)> = Vec::new();
    let groups = rules["data"]["groups"].as_array().expect("rule groups");
    for rule in groups.iter().flat_map(|g| g["rules"].as_array().unwrap()) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut rule = rule.clone();
        while rule["lastEvaluation"]
            .as_str()
            .is_none_or(|t| t.starts_with("0001"))
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let again = prom(prom_addr, "rules", None).await;
            rule = again["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .find(|r| r["name"] == rule["name"])
                .unwrap_or(rule);
        }
        assert_eq!(rule["health"], "ok", "rule {}: {rule}", rule["name"]);
        exprs.push((
            format!("alert {}", rule["name"]),
            rule["query"].as_str().unwrap().to_owned(),
        ));
    }
    assert!(exprs.len() >= 4, "the four alerts the issue names: {rules}");
    for alert in [
        "CohortDown",
        "CohortHighCpu",
        "CohortRoomPacketLoss",
        "CohortRoomNearCapacity",
    ] {
        assert!(
            exprs
                .iter()
                .any(|(n, _)| n == &format!("alert \"{alert}\"")),
            "{alert} missing"
        );
    }

    // Every dashboard expression runs on the real server.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(deploy_dir().join("grafana/dashboards/cohort.json"))
            .expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    let mut panel_exprs = Vec::new();
    dashboard_exprs(&dashboard, &mut panel_exprs);
    assert!(panel_exprs.len() > 10, "{panel_exprs:?}");
    for e in &panel_exprs {
        let v = prom(prom_addr, "query", Some(e)).await;
        assert_eq!(v["status"], "success", "dashboard query {e}: {v}");
        exprs.push(("dashboard".into(), e.clone()));
    }

    // And every metric any of them names is one the server exports (or Prometheus's `up`).
    for (whose, e) in &exprs {
        let used = metric_names(e);
        assert!(!used.is_empty(), "{whose} names no metric: {e}");
        for name in used {
            assert!(
                name == "up" || names.contains(&name),
                "{whose} reads {name}, which the server does not export: {e}"
            );
        }
    }
    println!(
        "{} PromQL expressions checked against {} exported metric names",
        exprs.len(),
        names.len()
    );
    a.leave().await;
    b.leave().await;
    drop(_prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `promtool` on the deployed files: the scrape config and the rules are valid, and the rules'
/// own unit tests (deploy/alerts.test.yml: each alert fires when it should and not otherwise)
/// pass.
#[test]
fn promtool_accepts_the_config_and_the_alerts_pass_their_tests() {
    let dir = deploy_dir();
    for args in [
        vec!["check", "config", "prometheus.yml"],
        vec!["check", "rules", "alerts.yml"],
        vec!["test", "rules", "alerts.test.yml"],
    ] {
        let Ok(out) = Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
        else {
            common::missing_outside_ci("promtool", "scripts/setup.sh installs Debian's prometheus");
            return;
        };
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
