//! Browser sessions for organisers: an admin makes a one-time sign-in link for a key
//! (`POST /api/v1/keys/{id}/sign-in-links`); opening it (`/organise/sign-in/{token}`, see
//! `sign_in`) starts a session held in a cookie, which the API then takes in place of the key.
//!
//! The cookie is `HttpOnly`, `SameSite=Strict`, `Secure` when the server is reached over
//! https (`--public-url`), and expires with the session. A request that the cookie alone
//! authenticates and that could change something (any method but GET, HEAD and OPTIONS, and
//! every WebSocket upgrade) must also come from this server's own origin (its `Origin`
//! header, or `Sec-Fetch-Site` where the page's referrer policy makes the browser send
//! `Origin: null`), or it is refused before any handler runs ([`guard`]). SameSite keeps the
//! cookie off cross-site requests; the origin check also refuses another origin of the same
//! site (another port of the same host), to which SameSite does not apply.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, Caller, hash_key};
use crate::AppState;
use crate::error::{AppError, field};
use crate::store::{KeyRole, now_ms, rfc3339_ms};

/// The session cookie's name.
pub const COOKIE: &str = "cohort_session";
/// How long a sign-in link lasts unless its maker says otherwise, and at most.
pub const LINK_MINUTES: u32 = 30;
pub const LINK_MAX_MINUTES: u32 = 24 * 60;

/// A new random token: 256 bits, base64url.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>())
}

/// The session token the request's cookies carry, if any.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

fn secure(state: &AppState) -> &'static str {
    if state.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// The `Set-Cookie` value that holds `token` for `max_age` seconds.
pub fn set_cookie(state: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let value = format!(
        "{COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        secure(state)
    );
    HeaderValue::from_str(&value).expect("a cookie of base64url and ASCII attributes")
}

/// The `Set-Cookie` value that removes the cookie.
fn clear_cookie(state: &AppState) -> HeaderValue {
    let value = format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        secure(state)
    );
    HeaderValue::from_str(&value).expect("a cookie of ASCII literals")
}

/// Whether the request comes from this server's own pages. Its `Origin` must be this server's:
/// the origin of `--public-url`, or the one the request was addressed to (its `Host`). Pages
/// served with `Referrer-Policy: no-referrer`, as all of Cohort's are, send `Origin: null`
/// even to their own origin; then the browser's `Sec-Fetch-Site` must say `same-origin`.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    match text(header::ORIGIN) {
        Some(origin) if origin != "null" => {
            let public = origin_of(&state.settings.public_url);
            if public.is_some_and(|p| p.eq_ignore_ascii_case(origin)) {
                return true;
            }
            let addressed = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            matches!((addressed, text(header::HOST)), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
        }
        _ => text(HeaderName::from_static("sec-fetch-site")) == Some("same-origin"),
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<&str> {
    let after = url.find("://")? + 3;
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    Some(&url[..end])
}

/// Refuses a request that only a session cookie authenticates, that could change something,
/// and that does not come from this server's own origin (see the module's notes).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let by_cookie =
        headers.get(header::AUTHORIZATION).is_none() && session_token(headers).is_some();
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && !headers.contains_key(header::UPGRADE);
    if by_cookie && !safe && !same_origin(&state, headers) {
        return AppError::Forbidden(
            "a request signed in by cookie must come from this server's own pages (Origin)".into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// `POST /api/v1/keys/{id}/sign-in-links`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSignInLink {
    /// Minutes until the link expires: 1 to 1440, 30 if not given.
    #[serde(default)]
    pub expires_minutes: Option<u32>,
}

/// A sign-in link: shown once, when made.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignInLinkView {
    /// The key whose holder it signs in.
    pub key_id: String,
    /// The link to give them: it works once, until `expires_at`.
    pub url: String,
    pub expires_at: String,
}

/// Makes a one-time sign-in link for a key's holder, so that they never handle the key
/// itself. Admin keys only.
#[utoipa::path(post, path = "/keys/{id}/sign-in-links", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    request_body = NewSignInLink,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The link", body = SignInLinkView),
        (status = 401, description = "No valid key or session", body = crate::error::Problem),
        (status = 403, description = "Not an admin key", body = crate::error::Problem),
        (status = 404, description = "No such key, or it is revoked", body = crate::error::Problem),
        (status = 422, description = "A field is invalid", body = crate::error::Problem)))]
pub async fn create_sign_in_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewSignInLink>,
) -> Result<(StatusCode, Json<SignInLinkView>), AppError> {
    caller.require_admin()?;
    let minutes = body.expires_minutes.unwrap_or(LINK_MINUTES);
    if !(1..=LINK_MAX_MINUTES).contains(&minutes) {
        return Err(AppError::Invalid(vec![field(
            "expires_minutes",
            format!("must be 1 to {LINK_MAX_MINUTES}"),
        )]));
    }
    let key = match state.store.key(&id).await? {
        Some(k) if k.revoked_at.is_none() => k,
        _ => return Err(AppError::NotFound("key")),
    };
    let token = new_token();
    let now = now_ms();
    let expires_at = now + i64::from(minutes) * 60_000;
    state
        .store
        .insert_sign_in_link(&hash_key(&token), &key.id, now, expires_at)
        .await?;
    tracing::info!(key_id = %key.id, minutes, "sign-in link made");
    Ok((
        StatusCode::CREATED,
        Json(SignInLinkView {
            key_id: key.id,
            url: format!("{}/organise/sign-in/{token}", state.settings.public_url),
            expires_at: rfc3339_ms(expires_at),
        }),
    ))
}

/// Who the caller is signed in as.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    pub key_id: String,
    /// The key's name (the organiser's, as the admin wrote it).
    pub name: String,
    pub role: KeyRole,
    /// `session` for a signed-in browser, `key` for a request with the key itself.
    pub via: String,
    /// When a session ends by itself; none for a key.
    pub expires_at: Option<String>,
}

/// Who the caller is: the key a request's `Authorization` names, or the signed-in session's.
#[utoipa::path(get, path = "/session", tag = "keys",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The caller", body = SessionView),
        (status = 401, description = "No valid key or session", body = crate::error::Problem)))]
pub async fn get_session(caller: Caller) -> Json<SessionView> {
    let expires_at = caller.1.map(rfc3339_ms);
    Json(SessionView {
        key_id: caller.0.id.clone(),
        name: caller.0.name.clone(),
        role: caller.0.role,
        via: if expires_at.is_some() {
            "session"
        } else {
            "key"
        }
        .to_owned(),
        expires_at,
    })
}

/// Signs out: ends the cookie's session on the server, and removes the cookie. Without a
/// session it only removes the cookie.
#[utoipa::path(delete, path = "/session", tag = "keys",
    responses((status = 204, description = "Signed out")))]
pub async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(token) = session_token(&headers) {
        state.store.end_session(&hash_key(token), now_ms()).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_cookie(&state))],
    )
        .into_response())
}

/// The key a session token names, if the session is on; `Err` says why not.
pub async fn session_caller(state: &AppState, token: &str) -> Result<Caller, AppError> {
    match state.store.session_key(&hash_key(token), now_ms()).await? {
        Some((key, expires_at)) => Ok(Caller(key, Some(expires_at))),
        None => Err(AppError::Unauthorized(
            "your session has ended or is not valid: sign in again".into(),
        )),
    }
}
