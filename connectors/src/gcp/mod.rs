//! Gcp connector (placeholder until its translation lands).

use shiyun_core::listing::Vendor;

use crate::http::VendorClient;
use crate::settings::VendorSettings;
use crate::{ConnectorError, FetchedPage, ImportContext};

/// Normalises one saved Gcp response.
pub fn import(_body: &[u8], _ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    Err(ConnectorError::Config("gcp import is not built yet".into()))
}

/// Live Gcp connector.
#[derive(Debug)]
pub struct GcpConnector {
    client: VendorClient,
}

impl GcpConnector {
    /// A connector using `settings`.
    pub fn new(_settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        Ok(GcpConnector { client })
    }
}

#[async_trait::async_trait]
impl crate::Connector for GcpConnector {
    fn vendor(&self) -> Vendor {
        self.client.vendor()
    }

    async fn fetch_page(&self, _token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        Err(ConnectorError::Config("gcp sync is not built yet".into()))
    }
}
