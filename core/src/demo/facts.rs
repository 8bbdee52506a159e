//! The shapes of the demo's fact data ([`super::data`]).

use crate::listing::{Architecture, Vendor};

/// A family's price class: which per-vCPU and per-GiB rates apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    General,
    Compute,
    Memory,
    Burstable,
    Gpu,
}

/// One size of an instance family, as the vendor sells it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Size {
    pub name: &'static str,
    pub vcpu: u32,
    /// An exact decimal (`"0.5"`).
    pub memory_gib: &'static str,
    pub gpus: u32,
}

/// A real instance family of a vendor.
#[derive(Debug, Clone, Copy)]
pub(super) struct Family {
    pub code: &'static str,
    pub series_zh: &'static str,
    pub series_en: &'static str,
    pub class: Class,
    pub arch: Architecture,
    /// The processor, as the vendor names it; kept as a fact of the source.
    #[expect(dead_code, reason = "a fact of the source table, kept for readers")]
    pub processor: &'static str,
    /// The OSes the vendor offers on the family (`linux`, `windows`).
    pub oses: &'static [&'static str],
    pub gpu: Option<&'static str>,
    /// The vendor page the facts come from.
    #[expect(dead_code, reason = "names the source of the facts")]
    pub source: &'static str,
    pub sizes: &'static [Size],
}

/// What one price of a product buys, as the vendor quotes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    Hour,
    GbMonth,
    /// Ten thousand requests; stored per request.
    Request10k,
    Month,
    Gb,
}

/// A real product of a vendor (database, storage, network, security, queue).
#[derive(Debug, Clone, Copy)]
pub(super) struct Product {
    pub key: &'static str,
    pub category: &'static str,
    pub service: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
    pub engine: Option<&'static str>,
    pub engine_version: Option<&'static str>,
    pub unit: Unit,
    #[expect(dead_code, reason = "names the source of the facts")]
    pub source: &'static str,
    /// Not confirmed against the vendor's table: tagged `demo:unverified`.
    pub unverified: bool,
}

/// Demo rates in one currency: per vCPU-hour and GiB-hour by class, per
/// GPU-hour by model (exact decimals).
#[derive(Debug, Clone, Copy)]
pub(super) struct Rates {
    pub vcpu_hour: &'static [(Class, &'static str)],
    pub gib_hour: &'static [(Class, &'static str)],
    pub gpu_hour: &'static [(&'static str, &'static str)],
}

/// A vendor's demo price shape.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pricing {
    /// USD rates, outside mainland China.
    pub global: Option<Rates>,
    /// CNY rates, in mainland China.
    pub cn_mainland: Option<Rates>,
    /// Arm instances cost this much of the x86 rate.
    pub arm64_factor: Option<&'static str>,
    /// Fraction off on-demand for spot; `None` where the vendor sells no spot.
    pub spot_discount: Option<&'static str>,
    /// Fraction off on-demand for one year (reserved, or 包年 for the Chinese vendors).
    pub reserved_1y_discount: Option<&'static str>,
}

/// Everything the demo knows of one vendor.
#[derive(Debug, Clone, Copy)]
pub(super) struct VendorFacts {
    pub vendor: Vendor,
    pub families: &'static [Family],
    pub products: &'static [Product],
    pub pricing: Pricing,
}
