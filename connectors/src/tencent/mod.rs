//! Tencent connector (placeholder until its translation lands).

use shiyun_core::listing::Vendor;

use crate::http::VendorClient;
use crate::settings::VendorSettings;
use crate::{ConnectorError, FetchedPage, ImportContext};

/// Normalises one saved Tencent response.
pub fn import(_body: &[u8], _ctx: &ImportContext) -> Result<FetchedPage, ConnectorError> {
    Err(ConnectorError::Config("tencent import is not built yet".into()))
}

/// Live Tencent connector.
#[derive(Debug)]
pub struct TencentConnector {
    client: VendorClient,
}

impl TencentConnector {
    /// A connector using `settings`.
    pub fn new(_settings: &VendorSettings, client: VendorClient) -> Result<Self, ConnectorError> {
        Ok(TencentConnector { client })
    }
}

#[async_trait::async_trait]
impl crate::Connector for TencentConnector {
    fn vendor(&self) -> Vendor {
        self.client.vendor()
    }

    async fn fetch_page(&self, _token: Option<&str>) -> Result<FetchedPage, ConnectorError> {
        Err(ConnectorError::Config("tencent sync is not built yet".into()))
    }
}
