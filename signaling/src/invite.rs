//! Invite tokens: JWTs signed with HS256 by the room's own key, carrying the room, the role and
//! an expiry. Only HS256 is accepted, so `alg: none` and algorithm swaps are refused; rotating a
//! room's key revokes every invite signed with the old one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who an invite lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the meeting; may enter at any time.
    Host,
    /// Takes part while the room is open.
    Participant,
}

/// The claims of an invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The room's id.
    pub room: String,
    pub role: Role,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Not valid before, Unix seconds (Cohort does not set it; a signed one is honoured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// A personal link's member id; absent on a shared class link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// A personal link's version: it stops working when the member's version moves on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i64>,
    /// This invite's own id.
    pub jti: String,
}

/// Clock difference forgiven between the server that signed an invite and the one checking it,
/// for `iat` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: i64 = 60;

/// Why an invite was refused. Messages are for the person holding the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    #[error("this invite link is for another room")]
    OtherRoom,
    #[error("this invite link has expired; ask the organiser for a new one")]
    Expired,
    #[error("this invite link is not valid yet; check your clock, or ask the organiser")]
    NotYetValid,
    #[error(
        "this invite link is not valid (altered, revoked, or signed by someone else); ask the organiser for a new one"
    )]
    BadSignature,
    #[error("this invite link is not valid; copy the whole link from the organiser")]
    Malformed,
}

/// A new random 256-bit room key, base64url.
pub fn new_secret() -> String {
    URL_SAFE_NO_PAD.encode(crate::random_bytes::<32>())
}

fn key_bytes(secret: &str) -> Vec<u8> {
    // Stored keys are base64url; should one not be, its bytes still make a usable key.
    URL_SAFE_NO_PAD
        .decode(secret)
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

/// Signs an invite to `room_id` for `role`, valid for `ttl_seconds` from `now` (Unix seconds).
pub fn mint(secret: &str, room_id: &str, role: Role, now: i64, ttl_seconds: i64) -> String {
    sign(secret, room_id, role, now, ttl_seconds, None)
}

/// Signs a member's personal link: `member` is its `sub`, `version` the member's link version.
pub fn mint_personal(
    secret: &str,
    room_id: &str,
    role: Role,
    (member, version): (&str, i64),
    now: i64,
    ttl_seconds: i64,
) -> String {
    sign(
        secret,
        room_id,
        role,
        now,
        ttl_seconds,
        Some((member, version)),
    )
}

fn sign(
    secret: &str,
    room_id: &str,
    role: Role,
    now: i64,
    ttl_seconds: i64,
    personal: Option<(&str, i64)>,
) -> String {
    let jti: String = URL_SAFE_NO_PAD.encode(crate::random_bytes::<12>());
    let claims = Claims {
        room: room_id.to_owned(),
        role,
        iat: now,
        exp: now.saturating_add(ttl_seconds),
        nbf: None,
        sub: personal.map(|(m, _)| m.to_owned()),
        ver: personal.map(|(_, v)| v),
        jti,
    };
    let key = EncodingKey::from_secret(&key_bytes(secret));
    // Encoding plain claims with an HMAC key has no failure path but serialisation, which
    // cannot fail for this struct.
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .expect("HS256 encoding of plain claims cannot fail")
}

/// Checks an invite for `room_id` at `now` (Unix seconds).
pub fn verify(secret: &str, room_id: &str, token: &str, now: i64) -> Result<Claims, InviteError> {
    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry is checked below against the caller's clock, with no leeway.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.leeway = 0;
    let key = DecodingKey::from_secret(&key_bytes(secret));
    match jsonwebtoken::decode::<Claims>(token, &key, &validation) {
        Ok(data) => {
            let claims = data.claims;
            if claims.room != room_id {
                return Err(InviteError::OtherRoom);
            }
            if claims.exp <= now {
                return Err(InviteError::Expired);
            }
            let future = |t: i64| t > now.saturating_add(LEEWAY_SECONDS);
            if future(claims.iat) || claims.nbf.is_some_and(future) {
                return Err(InviteError::NotYetValid);
            }
            Ok(claims)
        }
        Err(e) => match e.kind() {
            ErrorKind::InvalidSignature => {
                // Signed for another room (another key): say so when the claims tell.
                match unverified_room(token) {
                    Some(room) if room != room_id => Err(InviteError::OtherRoom),
                    _ => Err(InviteError::BadSignature),
                }
            }
            _ => Err(InviteError::Malformed),
        },
    }
}

/// The `room` claim of a token whose signature did not check, used only to word a refusal.
fn unverified_room(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("room")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "b3JnYW5pc2VyLWtleS1mb3ItcHJvcGVydHktdGVzdHMtMzI";

    proptest! {
        /// No text is accepted by accident, and none makes the check panic.
        #[test]
        fn arbitrary_text_is_never_an_invite(text in "\\PC{0,300}") {
            prop_assert!(verify(KEY, "room-a", &text, NOW).is_err());
        }

        /// Changing any one character of a real invite breaks it.
        #[test]
        fn any_altered_character_breaks_an_invite(at in 0usize..1000, c in "[A-Za-z0-9_.=-]") {
            let token = mint(KEY, "room-a", Role::Participant, NOW, 3600);
            let at = at % token.len();
            let c = c.chars().next().unwrap();
            prop_assume!(token.as_bytes()[at] != c as u8);
            let mut altered = token.into_bytes();
            altered[at] = c as u8;
            let altered = String::from_utf8(altered).unwrap();
            prop_assert!(verify(KEY, "room-a", &altered, NOW).is_err());
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn a_fresh_invite_lets_its_role_into_its_room() {
        let key = new_secret();
        let token = mint(&key, "room-a", Role::Host, NOW, 3600);
        let claims = verify(&key, "room-a", &token, NOW + 10).unwrap();
        assert_eq!(claims.role, Role::Host);
        assert_eq!(claims.exp, NOW + 3600);
    }

    #[test]
    fn the_attack_set_is_refused() {
        let key_a = new_secret();
        let key_b = new_secret();
        let token = mint(&key_a, "room-a", Role::Participant, NOW, 3600);

        // Another room's invite, whether that room's key is the same or not.
        assert_eq!(
            verify(&key_a, "room-b", &token, NOW),
            Err(InviteError::OtherRoom)
        );
        assert_eq!(
            verify(&key_b, "room-b", &token, NOW),
            Err(InviteError::OtherRoom)
        );
        // Expired, exactly at expiry and after.
        assert_eq!(
            verify(&key_a, "room-a", &token, NOW + 3600),
            Err(InviteError::Expired)
        );
        // Signed with another key (the room's key was rotated).
        assert_eq!(
            verify(&key_b, "room-a", &token, NOW),
            Err(InviteError::BadSignature)
        );
        // Tampered: the role raised to host, the signature kept.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = "host".into();
        let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
        assert_eq!(
            verify(&key_a, "room-a", &tampered, NOW),
            Err(InviteError::BadSignature)
        );
        // alg: none, with and without an empty signature.
        let none = b64(&serde_json::json!({"alg": "none", "typ": "JWT"}));
        for unsigned in [
            format!("{none}.{}.", parts[1]),
            format!("{none}.{}", parts[1]),
        ] {
            assert_eq!(
                verify(&key_a, "room-a", &unsigned, NOW),
                Err(InviteError::Malformed)
            );
        }
        // Another HMAC algorithm with the same key.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&key_bytes(&key_a)),
        )
        .unwrap();
        assert!(verify(&key_a, "room-a", &hs512, NOW).is_err());
        // Garbage.
        for junk in ["", "abc", "a.b.c", "....", "é.é.é"] {
            assert_eq!(
                verify(&key_a, "room-a", junk, NOW),
                Err(InviteError::Malformed),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn a_signed_invite_from_the_future_is_refused_past_the_leeway() {
        let key = new_secret();
        let sign = |claims: serde_json::Value| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(&key_bytes(&key)),
            )
            .unwrap()
        };
        let claims = |iat: i64, nbf: Option<i64>| {
            let mut c = serde_json::json!({"room": "room-a", "role": "participant",
                "iat": iat, "exp": NOW + 7200, "jti": "x"});
            if let Some(nbf) = nbf {
                c["nbf"] = nbf.into();
            }
            sign(c)
        };
        let check = |t: String| verify(&key, "room-a", &t, NOW);
        // Issued or valid from an hour from now: refused.
        assert_eq!(
            check(claims(NOW + 3600, None)),
            Err(InviteError::NotYetValid)
        );
        assert_eq!(
            check(claims(NOW, Some(NOW + 3600))),
            Err(InviteError::NotYetValid)
        );
        // Within the leeway (a clock a little ahead), and in the past: accepted.
        assert!(check(claims(NOW + LEEWAY_SECONDS, Some(NOW + LEEWAY_SECONDS))).is_ok());
        assert!(check(claims(NOW - 10, Some(NOW - 10))).is_ok());
    }
}
