//! `ChangeFeed`: order, paging, and monotonic visibility under concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use shiyun_core::listing::{Listing, Vendor};
use shiyun_core::store::ChangeKind;

use crate::support::{Store, at, listing, repriced};

pub fn feed_is_ordered_and_paged<S: Store>(store: &S) {
    assert_eq!(store.latest_seq().unwrap(), 0);
    assert!(store.read_changes(0, 10).unwrap().is_empty());
    let batch: Vec<Listing> = (0..6)
        .map(|i| listing(Vendor::Aws, &format!("f{i}"), "1"))
        .collect();
    store.upsert_listings(&batch, at(1)).unwrap();
    store
        .upsert_listings(&[repriced(&batch[2], "3")], at(2))
        .unwrap();
    store.retire_listing(batch[4].id(), at(3)).unwrap();

    let all = store.read_changes(0, 100).unwrap();
    assert_eq!(all.len(), 8);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.latest_seq().unwrap(), all[7].seq);
    // Creations follow batch order.
    for (event, l) in all.iter().zip(&batch) {
        assert_eq!(
            (&event.listing_id, event.kind, &event.vendor),
            (l.id(), ChangeKind::Created, &Vendor::Aws.into())
        );
        assert_eq!(event.recorded_at, at(1));
    }
    assert_eq!(
        (&all[6].listing_id, all[6].kind, all[6].recorded_at),
        (batch[2].id(), ChangeKind::Updated, at(2))
    );
    assert_eq!(
        (&all[7].listing_id, all[7].kind, all[7].recorded_at),
        (batch[4].id(), ChangeKind::Retired, at(3))
    );

    // Paging by `after` and `limit`.
    let first = store.read_changes(0, 3).unwrap();
    assert_eq!(first, all[..3]);
    let next = store.read_changes(first[2].seq, 3).unwrap();
    assert_eq!(next, all[3..6]);
    let rest = store.read_changes(next[2].seq, 100).unwrap();
    assert_eq!(rest, all[6..]);
    assert!(store.read_changes(all[7].seq, 100).unwrap().is_empty());
    assert!(store.read_changes(0, 0).unwrap().is_empty());
    assert!(store.read_changes(u64::MAX, 10).unwrap().is_empty());
}

/// Writers on several threads while a reader follows the feed: the reader
/// must see strictly increasing seqs and, at the end, exactly every entry.
pub fn feed_is_monotonic_under_concurrent_upserts<S: Store>(store: &S) {
    const WRITERS: usize = 4;
    const BATCHES: usize = 15;
    const PER_BATCH: usize = 8;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let store = store.clone();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut after = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let events = store.read_changes(after, 7).unwrap();
                for e in &events {
                    assert!(e.seq > after, "seq {} after {after}", e.seq);
                    after = e.seq;
                    seen.push(e.seq);
                }
                if finished && events.is_empty() {
                    return seen;
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for b in 0..BATCHES {
                    let batch: Vec<Listing> = (0..PER_BATCH)
                        .map(|i| listing(Vendor::Tencent, &format!("w{w}-b{b}-{i}"), "1"))
                        .collect();
                    store.upsert_listings(&batch, at(b as i64)).unwrap();
                    // Also update some listings of the previous batch.
                    if b > 0 {
                        let old = listing(Vendor::Tencent, &format!("w{w}-b{}-0", b - 1), "1");
                        store
                            .upsert_listings(&[repriced(&old, "2")], at(b as i64))
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.join().unwrap();
    let all: Vec<u64> = store
        .read_changes(0, 100_000)
        .unwrap()
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(all.len(), WRITERS * (BATCHES * PER_BATCH + BATCHES - 1));
    assert_eq!(seen, all, "the follower missed or reordered entries");
}
