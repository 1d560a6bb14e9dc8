//! The browser client, embedded in the binary: pages, static modules, and the security headers
//! every response carries.

use axum::extract::{Path, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $mime:expr) => {
        Asset {
            name: $name,
            mime: $mime,
            body: include_str!(concat!("../../web/static/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file under web/static/, listed once.
const ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("home.js", JS),
    asset!("room.js", JS),
    asset!("signaling.js", JS),
    asset!("media.js", JS),
    asset!("recovery.js", JS),
    asset!("timeline.js", JS),
    asset!("prejoin.js", JS),
    asset!("call.js", JS),
    asset!("layout.js", JS),
    asset!("grid.js", JS),
    asset!("chat.js", JS),
    asset!("roomhome.js", JS),
    asset!("board.js", JS),
    asset!("meetings.js", JS),
    asset!("markdown.js", JS),
    asset!("notes.js", JS),
    asset!("notes-sync.js", JS),
    asset!("dom.js", JS),
    asset!("confirm.js", JS),
    asset!("api.js", JS),
    asset!("lobby.js", JS),
    asset!("admin.js", JS),
    asset!("admin-lib.js", JS),
    asset!("admin.css", "text/css; charset=utf-8"),
    asset!("organise.js", JS),
    asset!("organise-api.js", JS),
    asset!("organise-form.js", JS),
    asset!("organise-rooms.js", JS),
    asset!("organise-schedule.js", JS),
    asset!("organise-members.js", JS),
    asset!("organise-register.js", JS),
    asset!("organise-now.js", JS),
    asset!("organise.css", "text/css; charset=utf-8"),
];

macro_rules! vendored {
    ($name:literal, $mime:expr) => {
        Asset {
            name: $name,
            mime: $mime,
            body: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../web/vendor/",
                $name
            )),
        }
    };
}

const TEXT: &str = "text/plain; charset=utf-8";

/// Every file web/vendor/SHA256SUMS records (the unmodified files of npm packages that
/// scripts/vendor.sh resolves from web/vendor/files.txt), by its path under web/vendor/; the
/// table is written by build.rs.
const VENDORED: &[Asset] = include!(concat!(env!("OUT_DIR"), "/vendored.rs"));

/// The import map that maps every bare specifier the client and its libraries import to its one
/// vendored file (scripts/vendor.sh writes it). It goes inline into the room page, where the
/// CSP allows it by its hash.
const IMPORT_MAP: &str = include_str!("../../web/vendor/importmap.json");
/// Where room.html takes the import map; it must come before any module script.
const IMPORT_MAP_MARKER: &str = "<!-- import map -->";

const INDEX: &str = include_str!("../../web/index.html");
const ROOM: &str = include_str!("../../web/room.html");
const ADMIN: &str = include_str!("../../web/admin.html");
const ORGANISE: &str = include_str!("../../web/organise.html");

/// `GET /`: what Cohort is, and a form that goes to a room.
#[utoipa::path(get, path = "/", tag = "service",
    responses((status = 200, description = "The landing page", content_type = "text/html")))]
pub async fn index() -> Html<&'static str> {
    Html(INDEX)
}

/// `GET /r/{room}`: the room page; the page itself reads the room name from its address.
#[utoipa::path(get, path = "/r/{room}", tag = "service",
    params(("room" = String, Path, description = "The room's slug"),
        ("t" = Option<String>, Query, description = "The invite token")),
    responses((status = 200, description = "The room page", content_type = "text/html")))]
pub async fn room(Path(_room): Path<String>) -> Html<&'static str> {
    Html(room_page())
}

/// room.html with the import map inline.
fn room_page() -> &'static str {
    static PAGE: LazyLock<String> = LazyLock::new(|| {
        ROOM.replacen(
            IMPORT_MAP_MARKER,
            &format!("<script type=\"importmap\">{IMPORT_MAP}</script>"),
            1,
        )
    });
    &PAGE
}

/// `GET /admin`: the admin page (it asks for an admin key, and uses the admin API with it).
#[utoipa::path(get, path = "/admin", tag = "service",
    responses((status = 200, description = "The admin page", content_type = "text/html")))]
pub async fn admin() -> Html<&'static str> {
    Html(ADMIN)
}

/// `GET /organise`: the organiser console (a sign-in link's session, or an organiser key).
#[utoipa::path(get, path = "/organise", tag = "service",
    responses((status = 200, description = "The organiser console", content_type = "text/html")))]
pub async fn organise() -> Html<&'static str> {
    Html(ORGANISE)
}

/// `GET /static/{name}`.
#[utoipa::path(get, path = "/static/{name}", tag = "service",
    params(("name" = String, Path, description = "A file of the web client")),
    responses((status = 200, description = "The file"), (status = 404, description = "No such file")))]
pub async fn asset(Path(name): Path<String>) -> Response {
    serve(ASSETS.iter().find(|a| a.name == name))
}

/// `GET /static/vendor/{*path}`: a vendored browser library's file.
#[utoipa::path(get, path = "/static/vendor/{*path}", tag = "service",
    params(("path" = String, Path, description = "The file's path in web/vendor/, as files.txt lists it")),
    responses((status = 200, description = "The file"), (status = 404, description = "No such file")))]
pub async fn vendored(Path(path): Path<String>) -> Response {
    serve(VENDORED.iter().find(|a| a.name == path))
}

fn serve(found: Option<&Asset>) -> Response {
    match found {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.mime),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// Content-Security-Policy of every response: scripts only from this origin, and no inline
/// script but the import map (allowed by its sha256, so a changed or injected one is refused);
/// media from the page's own streams, connections only back to this server.
pub fn csp() -> &'static HeaderValue {
    static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(IMPORT_MAP));
        let policy = format!(
            "default-src 'self'; script-src 'self' 'sha256-{hash}'; style-src 'self'; \
             img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
             form-action 'self'"
        );
        HeaderValue::from_str(&policy).expect("the policy is ASCII: base64 and literals")
    });
    &CSP
}

/// The API docs page (swagger-ui, vendored) sets inline styles; its scripts stay 'self' only.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers to every response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let docs = req.uri().path().starts_with("/api/v1/docs");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    // A response with a policy of its own (a download's sandbox) keeps it.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = if docs {
            HeaderValue::from_static(DOCS_CSP)
        } else {
            csp().clone()
        };
        h.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(
        h,
        HeaderName::from_static("permissions-policy"),
        "camera=(self), microphone=(self), display-capture=(self)",
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_file_is_embedded_and_nothing_else() {
        let recorded: Vec<&str> = include_str!("../../web/vendor/SHA256SUMS")
            .lines()
            .filter_map(|l| l.split_once("  ").map(|(_, name)| name))
            .filter(|name| *name != "importmap.json")
            .collect();
        let embedded: Vec<&str> = VENDORED.iter().map(|a| a.name).collect();
        assert_eq!(embedded, recorded, "build.rs and web/vendor/SHA256SUMS");
        assert!(embedded.contains(&"yjs/dist/yjs.mjs"), "{embedded:?}");
    }

    #[test]
    fn the_room_page_has_the_import_map_before_any_module_and_the_csp_allows_it() {
        let page = room_page();
        let open = "<script type=\"importmap\">";
        let at = page
            .find(open)
            .expect("room.html has the import map marker");
        assert!(
            at < page
                .find("type=\"module\"")
                .expect("room.html loads room.js")
        );
        let inline = &page[at + open.len()..];
        let inline = &inline[..inline
            .find("</script>")
            .expect("the import map's script ends")];
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(inline));
        let policy = csp().to_str().expect("ASCII");
        assert!(policy.contains(&format!("'sha256-{hash}'")), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        serde_json::from_str::<serde_json::Value>(inline).expect("the import map is JSON");
    }

    #[test]
    fn every_asset_has_a_body_and_a_type() {
        for a in ASSETS.iter().chain(VENDORED) {
            assert!(!a.body.is_empty(), "{} is empty", a.name);
            assert!(a.mime.contains('/'), "{}", a.name);
        }
    }

    #[test]
    fn pages_load_no_inline_script() {
        for page in [INDEX, room_page(), ADMIN, ORGANISE] {
            for tag in page.split("<script").skip(1) {
                let open = tag.split('>').next().unwrap_or("");
                assert!(
                    open.contains("src=") || open.contains("type=\"importmap\""),
                    "inline script in a page: <script{open}>"
                );
            }
            let attrs = page.split('<').flat_map(|t| t.split_whitespace().skip(1));
            for attr in attrs {
                let name = attr.split('=').next().unwrap_or("");
                assert!(
                    !(name.starts_with("on") && attr.contains('=')),
                    "inline event handler {attr} in a page"
                );
            }
        }
    }
}
