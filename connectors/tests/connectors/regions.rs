//! Each vendor's regions have one source of truth, `shiyun_core::geography`:
//! the connectors' lookups and the demo catalog place a code alike.

use shiyun_connectors::{alibaba, aws, azure, ctyun, gcp, ibm, kingsoft, tencent, ucloud};
use shiyun_core::demo::{self, DemoCatalog};
use shiyun_core::geography;
use shiyun_core::listing::{Region, Vendor};

/// The region a connector gives a vendor's region code.
fn connector_region(vendor: Vendor, code: &str) -> Option<Region> {
    match vendor {
        Vendor::Aws => aws::regions::region_from_code(code).ok(),
        Vendor::Azure => azure::regions::region_of(code, "").ok(),
        Vendor::Gcp => gcp::transformers::region_of(code).ok(),
        Vendor::Ibm => ibm::transformers::region_of(code).ok(),
        Vendor::Alibaba => alibaba::transformers::region_of(code).ok(),
        Vendor::Tencent => tencent::transformers::region_of(code).ok(),
        Vendor::Ctyun => ctyun::transformers::region_of(code).ok(),
        Vendor::Kingsoft => kingsoft::transformers::region_of(code).ok(),
        Vendor::Ucloud => ucloud::transformers::region_of(code).ok(),
    }
}

#[test]
fn connectors_place_every_table_region_as_the_table_does() {
    for vendor in Vendor::ALL {
        for known in geography::regions(vendor) {
            assert_eq!(
                connector_region(vendor, known.code),
                Some(known.region().unwrap()),
                "{vendor} {}",
                known.code
            );
        }
    }
}

#[test]
fn connectors_and_the_demo_give_the_same_geography_for_the_same_code() {
    for vendor in Vendor::ALL {
        for code in demo::region_codes(vendor) {
            let from_connector = connector_region(vendor, code)
                .unwrap_or_else(|| panic!("the {vendor} connector does not know {code}"));
            assert_eq!(
                Some(&from_connector),
                geography::region_of(vendor, code).as_ref(),
                "{vendor} {code}"
            );
        }
    }
    let mut checked = 0;
    for listing in DemoCatalog::new(11, 2_000) {
        let region = listing.region();
        assert_eq!(
            connector_region(
                listing.vendor().builtin().expect("a demo listing"),
                &region.code
            )
            .as_ref(),
            Some(region),
            "{}",
            listing.id()
        );
        checked += 1;
    }
    assert_eq!(checked, 2_000);
}

#[test]
fn aws_price_list_locations_name_the_same_regions_as_their_codes() {
    for known in geography::regions(Vendor::Aws) {
        let location = known.price_list_location.unwrap();
        assert_eq!(
            aws::regions::region_from_location(location).unwrap(),
            aws::regions::region_from_code(known.code).unwrap(),
            "{location}"
        );
    }
}
