//! Verifies an issuer's billing audit chain: every entry's hash recomputes
//! from its fields and the previous hash, and the sequence has no gap, so
//! an edited, inserted or deleted entry is found.

use serde::Serialize;
use shiyun_core::billing::{BillingStore, GENESIS_HASH, IssuerId, audit_hash};

use crate::BillingError;

/// Entries read per page.
const PAGE: u32 = 1_000;

/// The verdict on a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditVerdict {
    /// Entries checked.
    pub entries: u64,
    /// The first broken entry and why, if any.
    pub broken: Option<AuditBreak>,
}

/// Where and how a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditBreak {
    /// The entry's sequence number (or the one expected there).
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// Walks the whole chain of `issuer`.
pub fn verify(store: &dyn BillingStore, issuer: &IssuerId) -> Result<AuditVerdict, BillingError> {
    let mut prev = GENESIS_HASH.to_owned();
    let mut expected_seq = 1;
    let mut entries = 0;
    loop {
        let page = store.audit_chain(issuer, expected_seq - 1, PAGE)?;
        if page.is_empty() {
            return Ok(AuditVerdict {
                entries,
                broken: None,
            });
        }
        for entry in page {
            let broken = |reason: String| AuditVerdict {
                entries,
                broken: Some(AuditBreak {
                    seq: expected_seq,
                    reason,
                }),
            };
            if entry.seq != expected_seq {
                return Ok(broken(format!(
                    "entry {expected_seq} is missing (next is {})",
                    entry.seq
                )));
            }
            if entry.prev_hash != prev {
                return Ok(broken("does not link to the entry before it".into()));
            }
            let hash = audit_hash(
                &entry.prev_hash,
                entry.seq,
                entry.at,
                &entry.action,
                &entry.subject,
                &entry.payload,
            );
            if hash != entry.hash {
                return Ok(broken(
                    "its content was changed after it was written".into(),
                ));
            }
            prev = entry.hash;
            expected_seq += 1;
            entries += 1;
        }
    }
}
