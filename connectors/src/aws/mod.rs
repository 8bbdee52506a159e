//! Aws connector (placeholder until its translation lands).

use shiyun_core::listing::Vendor;

use crate::http::VendorClient;
use crate::settings::VendorSettings;
use crate::{ConnectorError, FetchedPage, ImportContext};

/// Normalises one saved Aws response.
pub fn import(_body: &[u8], _ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    Err(ConnectorError::Config("aws import is not built yet".into()))
}

/// Live Aws connector.
#[derive(Debug)]
pub struct AwsConnector {
    client: VendorClient,
}

impl AwsConnector {
    /// A connector using `settings`.
    pub fn new(_settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        Ok(AwsConnector { client })
    }
}

#[async_trait::async_trait]
impl crate::Connector for AwsConnector {
    fn vendor(&self) -> Vendor {
        self.client.vendor()
    }

    async fn fetch_page(&self, _token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        Err(ConnectorError::Config("aws sync is not built yet".into()))
    }
}
