//! Azure connector (placeholder until its translation lands).

use shiyun_core::listing::Vendor;

use crate::http::VendorClient;
use crate::settings::VendorSettings;
use crate::{ConnectorError, FetchedPage, ImportContext};

/// Normalises one saved Azure response.
pub fn import(_body: &[u8], _ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    Err(ConnectorError::Config("azure import is not built yet".into()))
}

/// Live Azure connector.
#[derive(Debug)]
pub struct AzureConnector {
    client: VendorClient,
}

impl AzureConnector {
    /// A connector using `settings`.
    pub fn new(_settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        Ok(AzureConnector { client })
    }
}

#[async_trait::async_trait]
impl crate::Connector for AzureConnector {
    fn vendor(&self) -> Vendor {
        self.client.vendor()
    }

    async fn fetch_page(&self, _token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        Err(ConnectorError::Config("azure sync is not built yet".into()))
    }
}
