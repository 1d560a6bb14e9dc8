//! `/organise/sign-in/{token}`: the page a one-time sign-in link opens.
//!
//! Opening the link (GET) changes nothing: it shows whom the link signs in, and a button. Mail
//! scanners and link previews open links by themselves, and must not use up a one-time link.
//! The button posts the form back to the same address, from this server's own page: that POST
//! uses the link, starts the session and sets its cookie, then sends the browser to
//! `/organise`. Being a same-site request, it also lets the `SameSite=Strict` cookie go with
//! the redirect, which a cookie set on a cross-site link's own response would not.
//!
//! A link that is used, expired, revoked or unknown gets a page that says which, and what to do.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::extract::hash_key;
use super::session::{new_token, same_origin, set_cookie};
use crate::AppState;
use crate::error::AppError;
use crate::store::now_ms;

/// Text as HTML text or attribute content.
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` (text) and `body` (HTML made here from escaped text).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let doc = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{t} · Cohort</title>\n\
         <link rel=\"icon\" href=\"/static/icon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/static/style.css\">\n\
         <link rel=\"stylesheet\" href=\"/static/admin.css\">\n</head>\n<body>\n\
         <main class=\"app admin sign-in-page\">\n<h1>{t}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        t = html(title),
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(doc)).into_response()
}

/// Why a link does not sign anyone in.
fn refused(why: Why) -> Response {
    let (status, title, text) = match why {
        Why::Unknown => (
            StatusCode::NOT_FOUND,
            "This sign-in link is not valid",
            "Check that the whole link was copied, or ask your Cohort admin for a new one.",
        ),
        Why::Used => (
            StatusCode::GONE,
            "This sign-in link has been used",
            "A sign-in link works once. If that was not you, tell your Cohort admin. \
             Ask them for a new link to sign in again.",
        ),
        Why::Expired => (
            StatusCode::GONE,
            "This sign-in link has expired",
            "Sign-in links last a short while. Ask your Cohort admin for a new one.",
        ),
        Why::Revoked => (
            StatusCode::GONE,
            "This sign-in link no longer works",
            "The key it signs in with has been revoked. Ask your Cohort admin.",
        ),
        Why::CrossSite => (
            StatusCode::FORBIDDEN,
            "Sign in from this server's own page",
            "The sign-in was sent from another site, so it was refused. Open the link again \
             and press the button there.",
        ),
    };
    page(
        status,
        title,
        &format!(
            "<p>{}</p>\n<p><a href=\"/organise\">Sign in with a key instead</a></p>",
            html(text)
        ),
    )
}

enum Why {
    Unknown,
    Used,
    Expired,
    Revoked,
    CrossSite,
}

/// The key a link would sign in, or why it would not.
async fn check(
    state: &AppState,
    token: &str,
) -> Result<Result<crate::store::ApiKey, Why>, AppError> {
    let Some(link) = state.store.sign_in_link(&hash_key(token)).await? else {
        return Ok(Err(Why::Unknown));
    };
    if link.used_at.is_some() {
        return Ok(Err(Why::Used));
    }
    if link.expires_at <= now_ms() {
        return Ok(Err(Why::Expired));
    }
    match state.store.key(&link.key_id).await? {
        Some(key) if key.revoked_at.is_none() => Ok(Ok(key)),
        _ => Ok(Err(Why::Revoked)),
    }
}

/// `GET /organise/sign-in/{token}`: whom the link signs in, and the button that does it.
#[utoipa::path(get, path = "/organise/sign-in/{token}", tag = "service",
    params(("token" = String, Path, description = "The sign-in link's token")),
    responses(
        (status = 200, description = "The sign-in page", content_type = "text/html"),
        (status = 404, description = "No such link", content_type = "text/html"),
        (status = 410, description = "Used, expired, or its key revoked", content_type = "text/html")))]
pub async fn sign_in_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let key = match check(&state, &token).await? {
        Ok(key) => key,
        Err(why) => return Ok(refused(why)),
    };
    let body = format!(
        "<p>This link signs you in to Cohort's organiser console as <strong>{name}</strong>. \
         It works once.</p>\n\
         <form method=\"post\" action=\"/organise/sign-in/{token}\">\n\
         <button type=\"submit\" class=\"primary\" id=\"sign-in-link\">Sign in as {name}</button>\n\
         </form>",
        name = html(&key.name),
        token = html(&token),
    );
    Ok(page(StatusCode::OK, "Sign in to Cohort", &body))
}

/// `POST /organise/sign-in/{token}`: uses the link and starts the session.
#[utoipa::path(post, path = "/organise/sign-in/{token}", tag = "service",
    params(("token" = String, Path, description = "The sign-in link's token")),
    responses(
        (status = 303, description = "Signed in: to /organise, with the session cookie"),
        (status = 403, description = "Posted from another site", content_type = "text/html"),
        (status = 404, description = "No such link", content_type = "text/html"),
        (status = 410, description = "Used, expired, or its key revoked", content_type = "text/html")))]
pub async fn sign_in(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if !same_origin(&state, &headers) {
        return Ok(refused(Why::CrossSite));
    }
    let key = match check(&state, &token).await? {
        Ok(key) => key,
        Err(why) => return Ok(refused(why)),
    };
    let now = now_ms();
    if !state.store.use_sign_in_link(&hash_key(&token), now).await? {
        // Another request used it between the check and now.
        return Ok(refused(Why::Used));
    }
    let session = new_token();
    let max_age =
        i64::try_from(state.settings.session_hours.saturating_mul(3600)).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(max_age.saturating_mul(1000));
    state
        .store
        .insert_session(&hash_key(&session), &key.id, now, expires_at)
        .await?;
    tracing::info!(key_id = %key.id, "signed in by link");
    Ok((
        StatusCode::SEE_OTHER,
        [
            (
                header::LOCATION,
                "/organise".parse().expect("a literal path"),
            ),
            (header::SET_COOKIE, set_cookie(&state, &session, max_age)),
            (
                header::CACHE_CONTROL,
                "no-store".parse().expect("a literal"),
            ),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::html;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            html(r#"<a href="x">Tom & 'Jo'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jo&#39;&lt;/a&gt;"
        );
    }
}
