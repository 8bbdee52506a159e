//! `PartnerStore`, and partner vendors' listings in the `ListingStore`.

use shiyun_core::listing::{
    Listing, ListingId, ListingStatus, PartnerListingInput, PartnerVendorId, Vendor, VendorRef,
};
use shiyun_core::store::{
    ChangeKind, ListingFilter, ListingQuery, PartnerStore, PartnerVendor, RetireScope, StoreError,
    UpsertReport,
};
use shiyun_core::tenancy::EnterpriseId;

use crate::support::{Store, at, listing};

fn enterprise(n: u8) -> EnterpriseId {
    EnterpriseId::from_random([n; 16])
}

fn partner(slug: &str) -> PartnerVendorId {
    PartnerVendorId::from_slug(slug).unwrap()
}

fn vendor(slug: &str, of: u8, secs: i64) -> PartnerVendor {
    PartnerVendor::new(
        partner(slug),
        enterprise(of),
        format!("{slug} 云"),
        format!("{slug} Cloud"),
        at(secs),
    )
    .unwrap()
}

/// A partner's listing of `sku`, as the partner sends it and the server
/// completes it.
fn partner_listing(slug: &str, sku: &str, amount: &str, received: i64) -> Listing {
    let input: PartnerListingInput = serde_json::from_value(serde_json::json!({
        "vendor_sku": sku,
        "category": "compute.vm",
        "service": "vm",
        "name": {"zh": format!("实例 {sku}"), "en": format!("instance {sku}")},
        "region": {"code": "sh-1", "country": "cn", "city": "shanghai"},
        "prices": [{
            "billing_mode": "on_demand",
            "unit": "hour",
            "amount": {"amount": amount, "currency": "CNY"}
        }]
    }))
    .unwrap();
    input.into_listing(&partner(slug), at(received)).unwrap()
}

pub fn partner_vendors_register_and_read_back<S: Store + PartnerStore>(store: &S) {
    assert_eq!(store.list_partner_vendors().unwrap(), vec![]);
    let acme = vendor("acme", 1, 1);
    assert_eq!(store.register_partner_vendor(&acme).unwrap(), acme);
    assert_eq!(
        store.partner_vendor_of(&enterprise(1)).unwrap().as_ref(),
        Some(&acme)
    );
    assert_eq!(
        store.get_partner_vendor(&partner("acme")).unwrap().as_ref(),
        Some(&acme)
    );
    assert_eq!(store.partner_vendor_of(&enterprise(2)).unwrap(), None);
    assert_eq!(store.get_partner_vendor(&partner("nobody")).unwrap(), None);

    // Registering again renames, and keeps the first registration time.
    let renamed = PartnerVendor {
        name_zh: "顶点云".into(),
        name_en: "Acme Cloud Ltd".into(),
        created_at: at(50),
        ..acme.clone()
    };
    let stored = store.register_partner_vendor(&renamed).unwrap();
    assert_eq!(
        stored,
        PartnerVendor {
            created_at: at(1),
            ..renamed.clone()
        }
    );
    assert_eq!(store.get_partner_vendor(&acme.id).unwrap(), Some(stored));

    // Others are listed in id order.
    store
        .register_partner_vendor(&vendor("zeta", 3, 2))
        .unwrap();
    store
        .register_partner_vendor(&vendor("mid-1", 2, 3))
        .unwrap();
    let ids: Vec<String> = store
        .list_partner_vendors()
        .unwrap()
        .into_iter()
        .map(|v| v.id.to_string())
        .collect();
    assert_eq!(ids, ["p-acme", "p-mid-1", "p-zeta"]);
}

pub fn partner_vendor_ids_are_unique_and_never_change<S: Store + PartnerStore>(store: &S) {
    let acme = vendor("acme", 1, 1);
    store.register_partner_vendor(&acme).unwrap();

    // Another enterprise cannot take the id.
    let squatter = vendor("acme", 2, 2);
    let err = store.register_partner_vendor(&squatter).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err:?}");
    assert_eq!(store.partner_vendor_of(&enterprise(2)).unwrap(), None);

    // The enterprise cannot move to another id.
    let moved = vendor("acme-two", 1, 3);
    let err = store.register_partner_vendor(&moved).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("p-acme"), "{err}");
    assert_eq!(store.get_partner_vendor(&moved.id).unwrap(), None);
    assert_eq!(store.list_partner_vendors().unwrap(), vec![acme.clone()]);

    // Names that break the rules are refused, nothing is written.
    for (name_zh, name_en) in [
        (" ", "Acme"),
        ("顶点", "a\u{0}b"),
        ("顶点", &*"x".repeat(129)),
    ] {
        let bad = PartnerVendor {
            name_zh: name_zh.into(),
            name_en: name_en.into(),
            ..acme.clone()
        };
        let err = store.register_partner_vendor(&bad).unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(store.get_partner_vendor(&acme.id).unwrap(), Some(acme));
}

pub fn concurrent_registrations_leave_one_winner<S: Store + PartnerStore>(store: &S) {
    // Four enterprises race for one id; one enterprise races for four ids.
    let race = |vendors: Vec<PartnerVendor>| -> Vec<Result<PartnerVendor, StoreError>> {
        let threads: Vec<_> = vendors
            .into_iter()
            .map(|v| {
                let store = store.clone();
                std::thread::spawn(move || store.register_partner_vendor(&v))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    };
    let results = race((10..14).map(|n| vendor("hot", n, 1)).collect());
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(StoreError::AlreadyExists { .. })))
    );

    let slugs = ["one-a", "one-b", "one-c", "one-d"];
    let results = race(slugs.iter().map(|s| vendor(s, 20, 1)).collect());
    let winners: Vec<&PartnerVendor> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict(_))))
    );
    assert_eq!(
        store.partner_vendor_of(&enterprise(20)).unwrap().as_ref(),
        Some(winners[0])
    );
    assert_eq!(store.list_partner_vendors().unwrap().len(), 2);
}

pub fn partner_listings_are_stored_filtered_and_fed_like_any_other<S: Store + PartnerStore>(
    store: &S,
) {
    let a1 = partner_listing("acme", "vm-1", "0.30", 1);
    let a2 = partner_listing("acme", "vm-2", "0.60", 1);
    let other = partner_listing("other", "vm-1", "0.30", 1);
    let aws = listing(Vendor::Aws, "vm-1", "0.30");
    assert_eq!(
        store
            .upsert_listings(&[a1.clone(), a2.clone(), other.clone(), aws.clone()], at(1))
            .unwrap(),
        UpsertReport {
            new: 4,
            ..UpsertReport::default()
        }
    );
    let stored = store.get_listing(a1.id()).unwrap().unwrap();
    assert_eq!(stored, a1);
    assert_eq!(stored.vendor(), &VendorRef::Partner(partner("acme")));
    assert_eq!(stored.provenance().vendor_api, "partner.listings");

    let of = |vendor: VendorRef| {
        let filter = ListingFilter {
            vendor: Some(vendor),
            ..ListingFilter::default()
        };
        let page = store
            .list_listings(&ListingQuery {
                filter: filter.clone(),
                after: None,
                limit: 100,
            })
            .unwrap();
        assert_eq!(
            store.count_listings(&filter).unwrap(),
            page.items.len() as u64
        );
        let mut ids: Vec<ListingId> = page.items.iter().map(|l| l.id().clone()).collect();
        ids.sort();
        ids
    };
    let mut acme_ids = vec![a1.id().clone(), a2.id().clone()];
    acme_ids.sort();
    assert_eq!(of(partner("acme").into()), acme_ids);
    assert_eq!(
        of(VendorRef::parse("p-other").unwrap()),
        vec![other.id().clone()]
    );
    assert_eq!(of(Vendor::Aws.into()), vec![aws.id().clone()]);
    assert_eq!(of(partner("nobody").into()), vec![]);

    // The feed names the partner vendor.
    let events = store.read_changes(0, 100).unwrap();
    let acme_events: Vec<&ListingId> = events
        .iter()
        .filter(|e| e.vendor == VendorRef::Partner(partner("acme")))
        .map(|e| &e.listing_id)
        .collect();
    assert_eq!(acme_events, [a1.id(), a2.id()]);

    // The same offer sent again later is unchanged; a new price is a change
    // with history.
    let again = partner_listing("acme", "vm-1", "0.30", 9);
    let repriced = partner_listing("acme", "vm-2", "0.55", 9);
    assert_eq!(
        store
            .upsert_listings(&[again, repriced.clone()], at(9))
            .unwrap(),
        UpsertReport {
            changed: 1,
            unchanged: 1,
            ..UpsertReport::default()
        }
    );
    assert_eq!(store.get_listing(a1.id()).unwrap().unwrap(), a1);
    assert_eq!(store.price_history(a2.id()).unwrap().len(), 2);
    assert_eq!(store.get_listing(a2.id()).unwrap().unwrap(), repriced);

    // A built-in vendor's sync sweep never retires partner listings.
    store
        .retire_unseen(
            &RetireScope {
                vendor: Vendor::Aws,
                service: None,
                seen_pairs_only: false,
            },
            at(100),
            at(100),
        )
        .unwrap();
    assert_eq!(
        store.get_listing(aws.id()).unwrap().unwrap().status(),
        ListingStatus::Retired
    );
    for l in [&a1, &a2, &other] {
        assert_eq!(
            store.get_listing(l.id()).unwrap().unwrap().status(),
            ListingStatus::Active
        );
    }

    // Retiring a partner listing is fed with its vendor.
    assert!(store.retire_listing(other.id(), at(101)).unwrap());
    let last = store.read_changes(0, 100).unwrap().pop().unwrap();
    assert_eq!(
        (&last.listing_id, last.kind, last.vendor.id()),
        (other.id(), ChangeKind::Retired, "p-other")
    );
}
