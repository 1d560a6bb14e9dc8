//! A small HTTP/1.1 client over a plain TCP stream, enough to drive the API in tests.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response: status, headers (names lowercase) and body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts an RFC 9457 problem with this status; returns its body.
    pub fn problem(&self, status: u16) -> serde_json::Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(p["title"].is_string() && p["detail"].is_string() && p["type"].is_string());
        p
    }

    /// The field names of a problem's field-level errors.
    pub fn problem_fields(&self, status: u16) -> Vec<String> {
        let p = self.problem(status);
        p["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One request. `body` is sent as given with `content_type`.
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Resp {
    try_raw(addr, method, path, key, content_type, body)
        .await
        .expect("a complete response")
}

/// [`raw`], or `None` when the connection fails or the response is cut short.
pub async fn try_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Option<Resp> {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    try_raw_with(addr, method, path, &headers, content_type, body).await
}

/// [`try_raw`] with any request headers.
pub async fn try_raw_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &[u8],
) -> Option<Resp> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).await.ok()?;
    // A server may answer and close before reading all of an oversized body.
    let _ = s.write_all(body).await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    parse(&buf)
}

/// A JSON request with the key.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<serde_json::Value>,
) -> Resp {
    match body {
        Some(b) => {
            let bytes = b.to_string().into_bytes();
            raw(addr, method, path, key, Some("application/json"), &bytes).await
        }
        None => raw(addr, method, path, key, None, b"").await,
    }
}

/// A JSON request as a participant: `token` is an invite or personal link's token, `device`
/// the guest's device id, if any.
pub async fn call_as(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    device: Option<&str>,
    body: Option<serde_json::Value>,
) -> Resp {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(d) = device {
        headers.push(("X-Cohort-Device", d));
    }
    let bytes = body
        .as_ref()
        .map(|b| b.to_string().into_bytes())
        .unwrap_or_default();
    let ct = body.as_ref().map(|_| "application/json");
    try_raw_with(addr, method, path, &headers, ct, &bytes)
        .await
        .expect("a complete response")
}

fn parse(buf: &[u8]) -> Option<Resp> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

/// A new organiser key, made with the admin key: the reply (`{id, key, name, ...}`).
pub async fn organiser_key(addr: SocketAddr, name: &str) -> serde_json::Value {
    let r = call(
        addr,
        "POST",
        "/api/v1/keys",
        Some(super::ADMIN_KEY),
        Some(serde_json::json!({"name": name, "role": "organiser"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}
