//! Shiyun vendor connectors.
//!
//! One module per cloud vendor (`aws`, `azure`, `gcp`, `alibaba`, `tencent`,
//! `ibm`, `ctyun`, `kingsoft`, `ucloud`). Each keeps its HTTP, auth and URL
//! code (`mod.rs`) apart from the translation of the vendor's JSON into
//! [`shiyun_core::listing::Listing`] (`transformers.rs`). Request signing,
//! retries, rate limits and the sync engine live once, in [`signing`],
//! [`http`] and [`sync`].
//!
//! The key design decision: prices are parsed from the JSON text straight
//! into `Decimal` ([`decimal::ExactDecimal`]), never through `f64`, and a
//! record that cannot be normalised is reported as a
//! [`shiyun_core::store::RecordRejection`] while the rest of the page goes on.
//! reqwest is a dependency of this crate only.
//!
//! Listing text and regions are not worded here. A transformer hands the
//! typed facts the vendor gives (instance type and family names, vCPU,
//! memory, GPUs, OS; a database's engine and version; a product's names) to
//! [`normalise::Draft`], which names and describes the listing through the
//! one function of its category family in `shiyun_core::listing::text`, so
//! every text says the vendor, what the offer is, its size, its billing modes
//! and its region's display names (the city, in Chinese and English, from
//! `shiyun_core::geography`). Every page then passes the geography: offers
//! in a vendor's test region are skipped and counted, never stored; a region
//! code the table does not know is kept under its code and reported once per
//! sync (see [`sync`]).
//!
//! Errors: a [`ConnectorError`] variant per family of failure, each with a
//! stable [`shiyun_core::error::ErrorCode`]. The caller's input (settings,
//! `--param`s, page tokens, a run of another vendor, unreadable files) is
//! `invalid_argument`; a run whose state forbids the request (resuming a
//! succeeded run, a sync already running) is `conflict`; the vendor, the
//! network or a closed output is `unavailable` (refused credentials are
//! `unauthenticated`); a request we cannot build or a task of ours that
//! ended early is `internal`; store failures keep the store's code.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use shiyun_core::listing::{Listing, Vendor};
use shiyun_core::store::RecordRejection;

pub mod decimal;
pub mod error;
pub mod http;
pub mod normalise;
pub mod paging;
pub mod schedule;
pub mod scheduler;
pub mod settings;
pub mod signing;
pub mod sync;

pub mod alibaba;
pub mod aws;
pub mod azure;
pub mod ctyun;
pub mod gcp;
pub mod ibm;
pub mod kingsoft;
pub mod tencent;
pub mod ucloud;

pub use error::ConnectorError;
pub use settings::VendorSettings;

/// One page of a vendor's catalog, normalised.
#[derive(Debug, Clone, Default)]
pub struct FetchedPage {
    /// Listings normalised from the page.
    pub listings: Vec<Listing>,
    /// Records of the page that could not be normalised.
    pub rejections: Vec<RecordRejection>,
    /// Offers left out on purpose, counted by region code: those in a
    /// vendor's test region, which are never stored. Not rejections.
    pub skipped: BTreeMap<String, u64>,
    /// Region codes of this page's listings that the geography table does
    /// not know; the listings are kept under their code, and the sync
    /// reports each code once.
    pub unknown_regions: BTreeSet<String>,
    /// Opaque token of the next page; `None` when this was the last.
    pub next_token: Option<String>,
}

/// What is known about a saved response besides its bytes: when it was
/// fetched and the request parameters that produced it (some vendors' price
/// responses do not repeat the instance type or region they were asked for).
#[derive(Debug, Clone)]
pub struct ImportContext {
    /// When the response was fetched.
    pub fetched_at: DateTime<Utc>,
    /// Request parameters (`RegionId=cn-hangzhou`, `InstanceType=ecs.g6.large`).
    pub params: BTreeMap<String, String>,
}

impl ImportContext {
    /// A context with no request parameters.
    pub fn at(fetched_at: DateTime<Utc>) -> Self {
        ImportContext {
            fetched_at,
            params: BTreeMap::new(),
        }
    }

    /// A request parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// A request parameter that a saved answer of `vendor`'s `api` needs,
    /// because the answer does not repeat it; blank counts as missing.
    pub fn require(&self, vendor: Vendor, api: &str, key: &str) -> Result<&str, ConnectorError> {
        self.require_any(vendor, api, &[key])
    }

    /// The first of `keys` given (aliases of one parameter), as [`ImportContext::require`].
    pub fn require_any(
        &self,
        vendor: Vendor,
        api: &str,
        keys: &[&str],
    ) -> Result<&str, ConnectorError> {
        keys.iter()
            .find_map(|key| self.param(key))
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| ConnectorError::MissingParameter {
                vendor,
                api: api.to_owned(),
                key: keys.first().copied().unwrap_or_default().to_owned(),
            })
    }
}

/// A live connection to one vendor's catalog.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// The vendor.
    fn vendor(&self) -> Vendor;

    /// Fetches and normalises one page. `token` is `None` for the first page,
    /// else the `next_token` of the previous page (also when resuming a
    /// failed run).
    async fn fetch_page(&self, token: Option<&str>) -> Result<FetchedPage, ConnectorError>;
}

/// Normalises one saved vendor API response (the exact bytes the API
/// returned), detecting which of the vendor's APIs it came from.
pub fn import_page(
    vendor: Vendor,
    body: &[u8],
    ctx: &ImportContext,
) -> Result<FetchedPage, ConnectorError> {
    let mut page = match vendor {
        Vendor::Aws => aws::import(body, ctx),
        Vendor::Azure => azure::import(body, ctx),
        Vendor::Gcp => gcp::import(body, ctx),
        Vendor::Ibm => ibm::import(body, ctx),
        Vendor::Alibaba => alibaba::import(body, ctx),
        Vendor::Tencent => tencent::import(body, ctx),
        Vendor::Ctyun => ctyun::import(body, ctx),
        Vendor::Kingsoft => kingsoft::import(body, ctx),
        Vendor::Ucloud => ucloud::import(body, ctx),
    }?;
    page.place_regions(vendor);
    Ok(page)
}

/// Normalises one saved response read from `reader`, handing its pages to
/// `emit`. AWS Bulk API offer files (gigabytes) are streamed in batches, so
/// memory stays flat; any other response is read whole and is one page.
pub fn import_reader<R: std::io::BufRead>(
    vendor: Vendor,
    mut reader: R,
    ctx: &ImportContext,
    mut emit: impl FnMut(FetchedPage) -> Result<(), ConnectorError>,
) -> Result<(), ConnectorError> {
    let unreadable = |e: std::io::Error| ConnectorError::Malformed {
        vendor,
        message: format!("cannot read the response: {e}"),
    };
    if vendor == Vendor::Aws {
        let head = reader.fill_buf().map_err(unreadable)?;
        // Offer files name their offer near the top; API responses never do.
        if String::from_utf8_lossy(head).contains("\"offerCode\"") {
            aws::offer_file::stream_offer_file(reader, ctx, |mut page| {
                page.place_regions(vendor);
                emit(page)
            })?;
            return Ok(());
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body).map_err(unreadable)?;
    emit(import_page(vendor, &body, ctx)?)
}

/// Normalises each saved response file in turn with [`import_reader`] and
/// hands the pages to `emit`, labelled with the file's path. A file that
/// cannot be opened or read is handed over as an error and the next one
/// goes on; the walk stops when `emit` fails.
pub fn normalise_files(
    vendor: Vendor,
    files: &[std::path::PathBuf],
    ctx: &ImportContext,
    mut emit: impl FnMut(String, Result<FetchedPage, ConnectorError>) -> Result<(), ConnectorError>,
) -> Result<(), ConnectorError> {
    for path in files {
        let label = path.display().to_string();
        let mut emit_failed = false;
        let imported = std::fs::File::open(path)
            .map_err(|source| ConnectorError::Input {
                label: label.clone(),
                source,
            })
            .and_then(|file| {
                import_reader(vendor, std::io::BufReader::new(file), ctx, |page| {
                    let emitted = emit(label.clone(), Ok(page));
                    emit_failed = emitted.is_err();
                    emitted
                })
            });
        match imported {
            Ok(()) => {}
            // The receiver stopped: not the file's fault.
            Err(e) if emit_failed => return Err(e),
            Err(e) => emit(label, Err(e))?,
        }
    }
    Ok(())
}

/// The live connector of `vendor` with its own HTTP client, both
/// configured by `settings`.
pub fn connect(
    vendor: Vendor,
    settings: &VendorSettings,
) -> Result<Box<dyn Connector>, ConnectorError> {
    connector_for(vendor, settings, http::VendorClient::new(vendor, settings)?)
}

/// The live connector of `vendor`, configured by `settings`.
pub fn connector_for(
    vendor: Vendor,
    settings: &VendorSettings,
    client: http::VendorClient,
) -> Result<Box<dyn Connector>, ConnectorError> {
    Ok(match vendor {
        Vendor::Aws => Box::new(aws::AwsConnector::new(settings, client)?),
        Vendor::Azure => Box::new(azure::AzureConnector::new(settings, client)?),
        Vendor::Gcp => Box::new(gcp::GcpConnector::new(settings, client)?),
        Vendor::Ibm => Box::new(ibm::IbmConnector::new(settings, client)?),
        Vendor::Alibaba => Box::new(alibaba::AlibabaConnector::new(settings, client)?),
        Vendor::Tencent => Box::new(tencent::TencentConnector::new(settings, client)?),
        Vendor::Ctyun => Box::new(ctyun::CtyunConnector::new(settings, client)?),
        Vendor::Kingsoft => Box::new(kingsoft::KingsoftConnector::new(settings, client)?),
        Vendor::Ucloud => Box::new(ucloud::UcloudConnector::new(settings, client)?),
    })
}
