//! The append-only, hash-chained audit log. Each audited thing (an application, a firm, a
//! complaint: `entity`, `entity_id`) has its own chain: an entry's hash covers its content, its
//! position in the chain and the previous entry's hash, so changing or deleting an entry breaks
//! every link after it. A head per chain records where it ends (a cut-off tail shows), and
//! periodic checkpoints hash the heads that moved (a chain deleted whole, or rewritten with its
//! head, no longer matches). Entries from before per-entity chains (`chain_pos` NULL) form one
//! chain in `seq` order, verified as they always were.

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
    /// Position in its entity's chain, from 1; `None` for entries of the legacy single chain.
    pub chain_pos: Option<i64>,
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

/// sha256 over a JSON array of fields, which is unambiguous (no separator can be forged inside
/// a field): how entries and checkpoints are hashed.
fn hash_of(fields: serde_json::Value) -> String {
    hex::encode(Sha256::digest(fields.to_string().as_bytes()))
}

/// The hash of one entry of the legacy single chain.
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
    hash_of(serde_json::json!([seq, at, actor, action, entity, entity_id, before, after, prev_hash]))
}

/// The hash of an entry of an entity's chain: as [`entry_hash`], with its position in the chain.
#[allow(clippy::too_many_arguments)]
pub fn chained_entry_hash(
    seq: i64,
    chain_pos: i64,
    at: i64,
    actor: &str,
    action: &str,
    entity: &str,
    entity_id: &str,
    before: Option<&str>,
    after: Option<&str>,
    prev_hash: &str,
) -> String {
    hash_of(serde_json::json!([seq, chain_pos, at, actor, action, entity, entity_id, before, after, prev_hash]))
}

/// A chain's end as a checkpoint records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointHead {
    pub entity: String,
    pub entity_id: String,
    pub pos: i64,
    pub hash: String,
}

/// The hash of a checkpoint: its number, time, the heads it records (as stored, JSON) and the
/// previous checkpoint's hash.
pub fn checkpoint_hash(id: i64, at: i64, heads: &str, prev_hash: &str) -> String {
    hash_of(serde_json::json!([id, at, heads, prev_hash]))
}

impl AuditEntry {
    pub fn recompute_hash(&self) -> String {
        if let Some(pos) = self.chain_pos {
            return chained_entry_hash(
                self.seq,
                pos,
                self.at,
                &self.actor,
                &self.action,
                &self.entity,
                &self.entity_id,
                self.before_state.as_deref(),
                self.after_state.as_deref(),
                &self.prev_hash,
            );
        }
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

/// Walks entries of the legacy single chain in order, continuing from `prev` (seq and hash of
/// the entry before them).
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

/// Checks the per-entity chains as they stream past, ordered by (entity, entity_id, chain_pos),
/// against the heads table and the checkpoints. Feed every entry to [`ChainCheck::entry`], then
/// call [`ChainCheck::finish`]; the first problem found is kept.
pub struct ChainCheck {
    heads: std::collections::HashMap<(String, String), (i64, String)>,
    /// Chain positions the checkpoints recorded, with the hash they had, and the checkpoint.
    recorded: std::collections::HashMap<(String, String, i64), (String, i64)>,
    current: Option<(String, String)>,
    last: (i64, String, i64),
    pub entries: i64,
    pub first_broken: Option<(i64, String)>,
}

impl ChainCheck {
    /// `heads`: every row of the heads table; `checkpoints`: (id, heads) of every checkpoint
    /// whose own hash chain was already checked.
    pub fn new(heads: Vec<CheckpointHead>, checkpoints: &[(i64, Vec<CheckpointHead>)]) -> Self {
        let mut recorded = std::collections::HashMap::new();
        for (id, hs) in checkpoints {
            for h in hs {
                recorded.insert((h.entity.clone(), h.entity_id.clone(), h.pos), (h.hash.clone(), *id));
            }
        }
        ChainCheck {
            heads: heads.into_iter().map(|h| ((h.entity, h.entity_id), (h.pos, h.hash))).collect(),
            recorded,
            current: None,
            last: (0, GENESIS_HASH.to_string(), 0),
            entries: 0,
            first_broken: None,
        }
    }

    fn broken(&mut self, seq: i64, why: String) {
        if self.first_broken.is_none() {
            self.first_broken = Some((seq, why));
        }
    }

    /// The chain just read ends where its head says.
    fn close_chain(&mut self) {
        let Some(key) = self.current.take() else { return };
        let (pos, hash, seq) = std::mem::replace(&mut self.last, (0, GENESIS_HASH.to_string(), 0));
        match self.heads.remove(&key) {
            None => self.broken(seq, format!("{}/{}: no head recorded for this chain", key.0, key.1)),
            Some((head_pos, head_hash)) if head_pos != pos || head_hash != hash => self.broken(
                seq,
                format!(
                    "{}/{}: chain ends at position {pos}, its head says {head_pos} (entries missing or added)",
                    key.0, key.1
                ),
            ),
            Some(_) => {}
        }
    }

    pub fn entry(&mut self, e: &AuditEntry) {
        let key = (e.entity.clone(), e.entity_id.clone());
        if self.current.as_ref() != Some(&key) {
            self.close_chain();
            self.current = Some(key.clone());
        }
        let pos = e.chain_pos.unwrap_or(0);
        let (last_pos, last_hash, _) = &self.last;
        if pos != last_pos + 1 {
            let why = format!("{}/{}: position {pos} follows {last_pos} (entry missing)", e.entity, e.entity_id);
            self.broken(e.seq, why);
        } else if &e.prev_hash != last_hash {
            self.broken(e.seq, "prev_hash does not match the previous entry of its chain".into());
        } else if e.recompute_hash() != e.hash {
            self.broken(e.seq, "content does not match its hash".into());
        }
        if let Some((hash, checkpoint)) = self.recorded.remove(&(key.0, key.1, pos)) {
            if hash != e.hash {
                self.broken(e.seq, format!("differs from what checkpoint {checkpoint} recorded"));
            }
        }
        self.entries += 1;
        self.last = (pos, e.hash.clone(), e.seq);
    }

    pub fn finish(mut self) -> (i64, Option<(i64, String)>) {
        self.close_chain();
        let mut missing: Vec<_> = self.heads.keys().cloned().collect();
        missing.sort();
        if let Some((entity, id)) = missing.first() {
            self.broken(0, format!("{entity}/{id}: its head is recorded but its entries are gone"));
        }
        let mut gone: Vec<_> = self.recorded.iter().map(|((e, i, p), (_, c))| (*c, e.clone(), i.clone(), *p)).collect();
        gone.sort();
        if let Some((checkpoint, entity, id, pos)) = gone.first() {
            self.broken(0, format!("{entity}/{id}: entry {pos}, recorded by checkpoint {checkpoint}, is gone"));
        }
        (self.entries, self.first_broken)
    }
}
