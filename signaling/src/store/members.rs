//! A room's roster ([`crate::members`]).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, now_ms};
use crate::error::{AppError, field};
use crate::invite::Role;
use crate::members::MemberFields;

/// A stored member.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub room_id: String,
    pub fields: MemberFields,
    /// In every personal link of the member; bumped to revoke them.
    pub link_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `SELECT` of every member column, then `$tail`, as one static string.
macro_rules! select_members {
    ($tail:literal) => {
        concat!(
            "SELECT id, room_id, display_name, email, role, link_version, created_at, ",
            "updated_at FROM members ",
            $tail
        )
    };
}

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Host => "host",
        Role::Participant => "participant",
    }
}

fn member(row: &AnyRow) -> Result<Member, AppError> {
    let role: String = row.try_get("role")?;
    let role = match role.as_str() {
        "host" => Role::Host,
        "participant" => Role::Participant,
        other => {
            return Err(AppError::Config(format!(
                "stored member has role {other:?}"
            )));
        }
    };
    Ok(Member {
        id: row.try_get("id")?,
        room_id: row.try_get("room_id")?,
        fields: MemberFields {
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
            role,
        },
        link_version: row.try_get("link_version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn email_taken(email: &str) -> AppError {
    AppError::Conflict(field(
        "email",
        format!("{email} is already a member of this room"),
    ))
}

/// A unique-constraint failure on the email becomes a 409 naming the field.
fn email_conflict(e: sqlx::Error, email: Option<&str>) -> AppError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => email_taken(email.unwrap_or("")),
        _ => AppError::Database(e),
    }
}

impl Store {
    /// Adds members to a room in one transaction, up to `max` members in all; each result is the
    /// member, or why that one was not added (its email already in the room, the room full).
    /// Nothing is stored half-way: an error undoes them all.
    pub async fn insert_members(
        &self,
        room_id: &str,
        new: &[MemberFields],
        max: usize,
        dry_run: bool,
    ) -> Result<Vec<Result<Member, AppError>>, AppError> {
        let mut tx = self.write_tx(room_id, false).await?;
        let rows = sqlx::query("SELECT email FROM members WHERE room_id = $1")
            .bind(room_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut room_left = max.saturating_sub(rows.len());
        let mut emails = std::collections::HashSet::new();
        for row in &rows {
            if let Some(e) = row.try_get::<Option<String>, _>("email")? {
                emails.insert(e);
            }
        }
        let now = now_ms();
        let mut out = Vec::with_capacity(new.len());
        for m in new {
            if let Some(e) = &m.email
                && emails.contains(e)
            {
                out.push(Err(email_taken(e)));
                continue;
            }
            if room_left == 0 {
                out.push(Err(AppError::Conflict(field(
                    "members",
                    format!("the room has its {max} members"),
                ))));
                continue;
            }
            let id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO members (id, room_id, display_name, email, role, link_version, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
            )
            .bind(&id)
            .bind(room_id)
            .bind(&m.display_name)
            .bind(m.email.as_deref())
            .bind(role_text(m.role))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| email_conflict(e, m.email.as_deref()))?;
            room_left -= 1;
            if let Some(e) = &m.email {
                emails.insert(e.clone());
            }
            out.push(Ok(Member {
                id,
                room_id: room_id.to_owned(),
                fields: m.clone(),
                link_version: 1,
                created_at: now,
                updated_at: now,
            }));
        }
        // A dry run answers exactly as the import would, by the same checks in the same
        // transaction, and then keeps nothing.
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(out)
    }

    /// The room's members, by name.
    pub async fn members(&self, room_id: &str) -> Result<Vec<Member>, AppError> {
        let rows = sqlx::query(select_members!(
            "WHERE room_id = $1 ORDER BY display_name, id"
        ))
        .bind(room_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(member).collect()
    }

    /// One member of the room.
    pub async fn member(&self, room_id: &str, id: &str) -> Result<Option<Member>, AppError> {
        let row = sqlx::query(select_members!("WHERE room_id = $1 AND id = $2"))
            .bind(room_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(member).transpose()
    }

    /// Replaces a member's fields; `None` when there is no such member.
    pub async fn update_member(
        &self,
        room_id: &str,
        id: &str,
        fields: &MemberFields,
    ) -> Result<Option<Member>, AppError> {
        sqlx::query(
            "UPDATE members SET display_name = $3, email = $4, role = $5, updated_at = $6 \
             WHERE room_id = $1 AND id = $2",
        )
        .bind(room_id)
        .bind(id)
        .bind(&fields.display_name)
        .bind(fields.email.as_deref())
        .bind(role_text(fields.role))
        .bind(now_ms())
        .execute(self.pool())
        .await
        .map_err(|e| email_conflict(e, fields.email.as_deref()))?;
        self.member(room_id, id).await
    }

    /// Revokes every personal link of a member made so far.
    pub async fn bump_link_version(
        &self,
        room_id: &str,
        id: &str,
    ) -> Result<Option<Member>, AppError> {
        sqlx::query(
            "UPDATE members SET link_version = link_version + 1, updated_at = $3 \
             WHERE room_id = $1 AND id = $2",
        )
        .bind(room_id)
        .bind(id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        self.member(room_id, id).await
    }

    /// Removes a member; whether there was one.
    pub async fn delete_member(&self, room_id: &str, id: &str) -> Result<bool, AppError> {
        let done = sqlx::query("DELETE FROM members WHERE room_id = $1 AND id = $2")
            .bind(room_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
