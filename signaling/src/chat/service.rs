//! A post, an edit or a delete, carried through its checks, the store and the room's live
//! channel: the same path for the call, the room home and the HTTP API. A message is stored
//! before anyone is told of it, so a message someone has seen is a kept one.

use protocol::{ChatMessage, ServerMessage, normalize_chat_text};

use super::{Refused, may_delete, may_edit};
use crate::AppState;
use crate::error::{AppError, field};
use crate::store::{ChatRecord, now_ms};

/// Who acts on a stored room's chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub room_id: String,
    /// `member:<id>` or `guest:<device id>`.
    pub identity: String,
    /// Hosts may delete anyone's message.
    pub host: bool,
    /// The name messages are signed with; `None` may read but not post.
    pub name: Option<String>,
    /// The connection that posts: a call's participant id, a room channel's id, or empty for
    /// the HTTP API.
    pub participant_id: String,
    /// The meeting running at the post, if any (its start, RFC 3339).
    pub occurrence: Option<String>,
}

fn refused(r: Refused) -> AppError {
    match r {
        Refused::NotAuthor => AppError::Forbidden(r.message().into()),
        Refused::Deleted => AppError::Conflict(field("id", r.message())),
    }
}

fn at_ms() -> (i64, u64) {
    let now = now_ms();
    (now, u64::try_from(now).unwrap_or(0))
}

/// Posts `text` as `author`: checked, within the author's rate, stored, then sent to everyone
/// listening to the room. Returns the message as sent.
pub async fn post(state: &AppState, author: &Author, text: &str) -> Result<ChatMessage, AppError> {
    let Some(name) = &author.name else {
        return Err(field("name", "say who you are: a name is needed to post").into());
    };
    let text = normalize_chat_text(text).map_err(|e| field("text", e))?;
    state
        .hub
        .allow_post(&author.room_id, &author.identity)
        .map_err(AppError::RateLimited)?;
    let message = ChatMessage {
        id: uuid::Uuid::new_v4().simple().to_string(),
        participant_id: author.participant_id.clone(),
        name: name.clone(),
        text,
        sent_at_ms: at_ms().1,
        identity: author.identity.clone(),
        occurrence: author.occurrence.clone(),
        edited_at_ms: None,
        deleted: false,
    };
    let record = ChatRecord {
        room_id: author.room_id.clone(),
        message,
    };
    state.store.insert_chat(&record).await?;
    let message = record.message;
    state.hub.publish(
        &author.room_id,
        &ServerMessage::Chat {
            message: message.clone(),
        },
    );
    Ok(message)
}

async fn existing(state: &AppState, room_id: &str, id: &str) -> Result<ChatMessage, AppError> {
    state
        .store
        .chat_message(room_id, id)
        .await?
        .ok_or(AppError::NotFound("message"))
}

/// Replaces the text of `author`'s own message `id`, and tells everyone listening.
pub async fn edit(
    state: &AppState,
    author: &Author,
    id: &str,
    text: &str,
) -> Result<ChatMessage, AppError> {
    let mut message = existing(state, &author.room_id, id).await?;
    may_edit(&author.identity, &message.identity, message.deleted).map_err(refused)?;
    let text = normalize_chat_text(text).map_err(|e| field("text", e))?;
    let (now, now_u) = at_ms();
    if !state
        .store
        .edit_chat(&author.room_id, id, &text, now)
        .await?
    {
        // Deleted between the read and the write.
        return Err(refused(Refused::Deleted));
    }
    message.text = text;
    message.edited_at_ms = Some(now_u);
    state.hub.publish(
        &author.room_id,
        &ServerMessage::ChatUpdated {
            message: message.clone(),
        },
    );
    Ok(message)
}

/// Deletes message `id` (the author's own, or anyone's for a host): its text is gone, its
/// place stays, shown as deleted. Deleting a deleted message changes nothing.
pub async fn delete(state: &AppState, author: &Author, id: &str) -> Result<ChatMessage, AppError> {
    let mut message = existing(state, &author.room_id, id).await?;
    may_delete(&author.identity, author.host, &message.identity).map_err(refused)?;
    if message.deleted {
        return Ok(message);
    }
    let deleted = state
        .store
        .delete_chat(&author.room_id, id, &author.identity, at_ms().0)
        .await?;
    message.text.clear();
    message.deleted = true;
    if deleted {
        if author.identity != message.identity {
            tracing::info!(room_id = %author.room_id, message = %id, "a host deleted a message");
        }
        state.hub.publish(
            &author.room_id,
            &ServerMessage::ChatUpdated {
                message: message.clone(),
            },
        );
    }
    Ok(message)
}
