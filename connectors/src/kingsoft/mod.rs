//! Kingsoft connector (placeholder until its translation lands).

use shiyun_core::listing::Vendor;

use crate::http::VendorClient;
use crate::settings::VendorSettings;
use crate::{ConnectorError, FetchedPage, ImportContext};

/// Normalises one saved Kingsoft response.
pub fn import(_body: &[u8], _ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    Err(ConnectorError::Config("kingsoft import is not built yet".into()))
}

/// Live Kingsoft connector.
#[derive(Debug)]
pub struct KingsoftConnector {
    client: VendorClient,
}

impl KingsoftConnector {
    /// A connector using `settings`.
    pub fn new(_settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        Ok(KingsoftConnector { client })
    }
}

#[async_trait::async_trait]
impl crate::Connector for KingsoftConnector {
    fn vendor(&self) -> Vendor {
        self.client.vendor()
    }

    async fn fetch_page(&self, _token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        Err(ConnectorError::Config("kingsoft sync is not built yet".into()))
    }
}
