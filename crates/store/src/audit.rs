//! The append-only, hash-chained audit log: each entry's hash covers its content and the
//! previous entry's hash, so changing or deleting any entry breaks every link after it.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// An entry before it is chained.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub at: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    pub entries: i64,
    /// The first entry whose hash or link does not match, and why.
    pub first_broken: Option<(i64, String)>,
}

/// The hash of one entry: sha256 over a JSON array of its fields, which is unambiguous
/// (no separator can be forged inside a field).
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: &str,
    before: Option<&str>,
    after: Option<&str>,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([seq, at, actor, action, entity, entity_id, before, after, prev_hash]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

impl AuditEntry {
    pub fn recompute_hash(&self) -> String {
        entry_hash(
            self.seq,
            self.at,
            &self.actor,
            &self.action,
            &self.entity,
            &self.entity_id,
            self.before_state.as_deref(),
            self.after_state.as_deref(),
            &self.prev_hash,
        )
    }
}

/// Walks entries in order, continuing from `prev` (seq and hash of the entry before them).
pub fn check_links(prev: (i64, &str), entries: &[AuditEntry]) -> Result<(), (i64, String)> {
    let (mut prev_seq, mut prev_hash) = (prev.0, prev.1.to_string());
    for e in entries {
        if e.seq != prev_seq + 1 {
            return Err((e.seq, format!("sequence gap: expected {}, found {}", prev_seq + 1, e.seq)));
        }
        if e.prev_hash != prev_hash {
            return Err((e.seq, "prev_hash does not match the previous entry".into()));
        }
        if e.recompute_hash() != e.hash {
            return Err((e.seq, "content does not match its hash".into()));
        }
        prev_seq = e.seq;
        prev_hash = e.hash.clone();
    }
    Ok(())
}
