//! The notes' history. When a meeting ends, its minutes and the room's standing notes as they
//! stand then are kept as text, to be read (read-only) and exported later: the record of what a
//! meeting decided stays as it was, however the documents change after. A round every
//! [`super::Limits::history_every`] keeps each ended meeting whose minutes hold anything and are
//! not kept yet; the minutes stay editable (people tidy them up after), the kept text does not.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::DocId;
use super::service::Notes;
use crate::AppState;
use crate::error::AppError;
use crate::store::{KeptDoc, Store};

/// How long a meeting is taken to last when its room has no schedule any more.
pub const DEFAULT_MINUTES: i64 = 60;

/// When a meeting that started at `start` ends (ms since the epoch), for a schedule whose
/// meetings last `duration_minutes`.
pub fn meeting_end(start: DateTime<Utc>, duration_minutes: Option<i64>) -> i64 {
    let minutes = duration_minutes.unwrap_or(DEFAULT_MINUTES).max(0);
    start
        .timestamp_millis()
        .saturating_add(minutes.saturating_mul(60_000))
}

/// The documents kept for one meeting: its minutes, and the room's notes as they were.
pub fn kept(meeting: &str, minutes: String, room: String, now_ms: i64) -> Vec<KeptDoc> {
    vec![
        KeptDoc {
            meeting: meeting.to_owned(),
            doc: DocId::Minutes(meeting.to_owned()).as_string(),
            body: minutes,
            at: now_ms,
        },
        KeptDoc {
            meeting: meeting.to_owned(),
            doc: DocId::Room.as_string(),
            body: room,
            at: now_ms,
        },
    ]
}

/// A kept document's title, as pages and exports show it.
pub fn title(doc: &str) -> &'static str {
    if doc.starts_with("minutes:") {
        "Minutes"
    } else {
        "Room notes, as they were at the meeting's end"
    }
}

/// One round at `now_ms`: keeps the notes of every meeting that has ended, has minutes, and is
/// not kept yet. The meetings kept. A room whose documents cannot be read is logged and left
/// for the next round; the others go on.
pub async fn run(store: &Store, notes: &Notes, now_ms: i64) -> Result<usize, AppError> {
    let mut done = 0;
    for (room_id, doc) in store.minutes_without_history().await? {
        let Some(meeting) = doc.strip_prefix("minutes:") else {
            continue;
        };
        // Stored ids are the canonical spelling DocId::parse made.
        let Ok(start) = DateTime::parse_from_rfc3339(meeting) else {
            tracing::warn!(room = %room_id, doc = %doc, "a minutes id that is not a meeting's start");
            continue;
        };
        let duration = store.schedule(&room_id).await?.map(|s| s.duration_minutes);
        if meeting_end(start.with_timezone(&Utc), duration) > now_ms {
            continue;
        }
        let texts = async {
            let minutes = notes
                .text(&room_id, &DocId::Minutes(meeting.to_owned()))
                .await?;
            let room = notes.text(&room_id, &DocId::Room).await?;
            store
                .keep_history(&room_id, &kept(meeting, minutes, room, now_ms))
                .await
        };
        match texts.await {
            Ok(()) => {
                tracing::info!(room = %room_id, meeting, "a meeting's notes were kept");
                done += 1;
            }
            Err(e) => {
                tracing::error!(room = %room_id, meeting, error = %e, "a meeting's notes could not be kept");
            }
        }
    }
    Ok(done)
}

/// Runs [`run`] every [`super::Limits::history_every`].
pub fn spawn(state: &AppState) {
    let (store, notes) = (state.store.clone(), Arc::clone(&state.notes));
    let every = notes.limits.history_every;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = run(&store, &notes, crate::store::now_ms()).await {
                tracing::error!(error = %e, "keeping the notes' history failed; tried again next round");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meeting_ends_after_its_schedules_duration_or_an_hour_without_one() {
        let start = DateTime::parse_from_rfc3339("2026-03-03T18:00:00+01:00")
            .unwrap()
            .with_timezone(&Utc);
        let at = start.timestamp_millis();
        assert_eq!(meeting_end(start, Some(90)), at + 90 * 60_000);
        assert_eq!(meeting_end(start, None), at + 60 * 60_000);
        assert_eq!(
            meeting_end(start, Some(-5)),
            at,
            "a nonsense duration ends it at its start"
        );
        assert_eq!(meeting_end(start, Some(i64::MAX)), i64::MAX, "no overflow");
    }

    #[test]
    fn a_meeting_keeps_its_minutes_and_the_room_notes() {
        let k = kept("2026-03-03T18:00:00+01:00", "m".into(), "r".into(), 7);
        assert_eq!(k[0].doc, "minutes:2026-03-03T18:00:00+01:00");
        assert_eq!(
            (k[0].body.as_str(), k[1].doc.as_str(), k[1].body.as_str()),
            ("m", "room", "r")
        );
        assert!(
            k.iter()
                .all(|d| d.at == 7 && d.meeting == "2026-03-03T18:00:00+01:00")
        );
        assert_eq!(title(&k[0].doc), "Minutes");
    }
}
