//! The cloud vendors Shiyun connects to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// The cloud vendors Shiyun connects to. The lowercase ids are used everywhere
/// (URLs, settings, ids, the change feed).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Amazon Web Services.
    Aws,
    /// Microsoft Azure.
    Azure,
    /// Google Cloud.
    Gcp,
    /// Alibaba Cloud (阿里云).
    Alibaba,
    /// Tencent Cloud (腾讯云).
    Tencent,
    /// IBM Cloud.
    Ibm,
    /// China Telecom Cloud (天翼云).
    Ctyun,
    /// Kingsoft Cloud (金山云).
    Kingsoft,
    /// UCloud (优刻得).
    Ucloud,
}

impl Vendor {
    /// Every vendor, in a stable order.
    pub const ALL: [Vendor; 9] = [
        Vendor::Aws,
        Vendor::Azure,
        Vendor::Gcp,
        Vendor::Alibaba,
        Vendor::Tencent,
        Vendor::Ibm,
        Vendor::Ctyun,
        Vendor::Kingsoft,
        Vendor::Ucloud,
    ];

    /// The stable lowercase id (`aws`, `alibaba`, …).
    pub fn id(self) -> &'static str {
        match self {
            Vendor::Aws => "aws",
            Vendor::Azure => "azure",
            Vendor::Gcp => "gcp",
            Vendor::Alibaba => "alibaba",
            Vendor::Tencent => "tencent",
            Vendor::Ibm => "ibm",
            Vendor::Ctyun => "ctyun",
            Vendor::Kingsoft => "kingsoft",
            Vendor::Ucloud => "ucloud",
        }
    }

    /// Display name in English.
    pub fn name_en(self) -> &'static str {
        match self {
            Vendor::Aws => "Amazon Web Services",
            Vendor::Azure => "Microsoft Azure",
            Vendor::Gcp => "Google Cloud",
            Vendor::Alibaba => "Alibaba Cloud",
            Vendor::Tencent => "Tencent Cloud",
            Vendor::Ibm => "IBM Cloud",
            Vendor::Ctyun => "China Telecom Cloud",
            Vendor::Kingsoft => "Kingsoft Cloud",
            Vendor::Ucloud => "UCloud",
        }
    }

    /// Display name in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            Vendor::Aws => "亚马逊云科技",
            Vendor::Azure => "微软 Azure",
            Vendor::Gcp => "谷歌云",
            Vendor::Alibaba => "阿里云",
            Vendor::Tencent => "腾讯云",
            Vendor::Ibm => "IBM 云",
            Vendor::Ctyun => "天翼云",
            Vendor::Kingsoft => "金山云",
            Vendor::Ucloud => "优刻得",
        }
    }

    /// Other names buyers search the vendor by (`aliyun`, `亚马逊`, `AWS`).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Vendor::Aws => &["AWS", "Amazon", "亚马逊", "亚马逊云"],
            Vendor::Azure => &["Azure", "Microsoft", "微软", "微软云"],
            Vendor::Gcp => &["GCP", "Google", "谷歌"],
            Vendor::Alibaba => &["aliyun", "阿里巴巴"],
            Vendor::Tencent => &["qcloud", "腾讯"],
            Vendor::Ibm => &["IBM"],
            Vendor::Ctyun => &["CTyun", "中国电信", "电信云"],
            Vendor::Kingsoft => &["ksyun", "金山"],
            Vendor::Ucloud => &["ucloud"],
        }
    }

    /// Parses a vendor id.
    pub fn parse(id: &str) -> Result<Self, ValidationError> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.id() == id)
            .ok_or_else(|| ValidationError::new("vendor", format!("unknown vendor `{id}`")))
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Vendor {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::parse(s)
    }
}
