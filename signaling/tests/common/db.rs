//! Databases for tests: a fresh SQLite file each time, and a fresh PostgreSQL database when
//! `COHORT_TEST_POSTGRES` names a server (scripts/test.sh starts one; CI insists on it).

use sqlx::Connection;

/// A new SQLite file under the system's temporary directory.
pub fn sqlite_url() -> String {
    let dir = std::env::temp_dir().join("cohort-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join(format!("{}.db", uuid::Uuid::new_v4().simple()));
    format!("sqlite://{}", file.display())
}

/// A new, empty PostgreSQL database on the server `COHORT_TEST_POSTGRES` names (a URL such as
/// `postgres://postgres@127.0.0.1:54329/postgres`); `None` when it is unset outside CI.
pub async fn postgres_url() -> Option<String> {
    let admin = match std::env::var("COHORT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            super::missing_outside_ci(
                "a PostgreSQL server for the database tests",
                "set COHORT_TEST_POSTGRES (scripts/with-postgres.sh does)",
            );
            return None;
        }
    };
    let name = format!("cohort_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create a test database");
    let (base, _) = admin.rsplit_once('/').expect("the URL names a database");
    Some(format!("{base}/{name}"))
}

/// Every database the suite runs against: SQLite always, PostgreSQL when there is a server.
pub async fn all() -> Vec<(&'static str, String)> {
    let mut dbs = vec![("sqlite", sqlite_url())];
    if let Some(pg) = postgres_url().await {
        dbs.push(("postgres", pg));
    }
    dbs
}
