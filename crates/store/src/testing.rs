//! Helpers for tests that need a real database: a fresh SQLite file or a fresh Postgres
//! database per run (Postgres at 127.0.0.1:5432 unless `NIGHTPERMIT_TEST_PG` says otherwise).

use crate::{SqlStore, Store, StoreResult};
use sqlx::any::AnyPoolOptions;
use std::path::Path;

/// The server the Postgres tests create their databases on.
pub fn postgres_admin_url() -> String {
    std::env::var("NIGHTPERMIT_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database named `np_test_…` and returns its URL. `make test` drops old ones.
pub async fn fresh_postgres_url() -> StoreResult<String> {
    sqlx::any::install_default_drivers();
    let admin = postgres_admin_url();
    let name = format!("np_test_{}", uuid::Uuid::new_v4().simple());
    let pool = AnyPoolOptions::new().max_connections(1).connect(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await?;
    pool.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(admin);
    Ok(format!("{base}/{name}"))
}

pub async fn fresh_postgres() -> StoreResult<SqlStore> {
    let store = SqlStore::connect(&fresh_postgres_url().await?).await?;
    store.migrate().await?;
    Ok(store)
}

/// A fresh Postgres database migrated only up to `version`, as an older release left it.
pub async fn fresh_postgres_at(version: i64) -> StoreResult<SqlStore> {
    let store = SqlStore::connect(&fresh_postgres_url().await?).await?;
    store.migrate_up_to(version).await?;
    Ok(store)
}

/// A fresh SQLite file migrated only up to `version`, as an older release left it.
pub async fn fresh_sqlite_at(dir: &Path, version: i64) -> StoreResult<SqlStore> {
    let store = SqlStore::open_sqlite(&dir.join("nightpermit.db")).await?;
    store.migrate_up_to(version).await?;
    Ok(store)
}

pub async fn fresh_sqlite(dir: &Path) -> StoreResult<SqlStore> {
    let store = SqlStore::open_sqlite(&dir.join("nightpermit.db")).await?;
    store.migrate().await?;
    Ok(store)
}
