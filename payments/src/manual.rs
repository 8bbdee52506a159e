//! Manual payments: the customer pays by bank transfer, and finance
//! records the transfer against the invoice ([`ManualProvider::record_transfer`],
//! through `Billing::record_payment`, idempotent by the transfer's
//! reference). Nothing is charged by the platform, so nothing can be
//! retried off-session, and a refund is a transfer finance makes.

use async_trait::async_trait;
use shiyun_billing::Billing;
use shiyun_core::billing::{Invoice, InvoiceId, Payment};
use shiyun_core::store::Outcome;

use crate::PaymentError;
use crate::provider::{
    CustomerRef, PaymentProvider, PaymentRequest, ProviderPayment, ProviderRefund, ProviderStatus,
    RefundRequest,
};

/// The provider's name as stored.
pub const MANUAL: &str = "manual";

/// Bank transfers recorded by hand.
#[derive(Debug, Clone)]
pub struct ManualProvider {
    billing: Billing,
}

impl ManualProvider {
    /// Manual payments into `billing`'s invoices.
    pub fn new(billing: Billing) -> Self {
        ManualProvider { billing }
    }

    /// Records a bank transfer against a finalised invoice (the amount must
    /// be its total); the same reference again is [`Outcome::Replayed`].
    /// Synchronous, like the store it writes.
    pub fn record_transfer(
        &self,
        invoice: &InvoiceId,
        payment: &Payment,
    ) -> Result<Outcome<Invoice>, PaymentError> {
        Ok(self.billing.record_payment(invoice, payment)?)
    }

    fn awaiting(reference: &str) -> ProviderPayment {
        ProviderPayment {
            reference: reference.to_owned(),
            status: ProviderStatus::RequiresAction,
            client_secret: None,
            payment_method: None,
            failure: None,
        }
    }
}

#[async_trait]
impl PaymentProvider for ManualProvider {
    fn name(&self) -> &'static str {
        MANUAL
    }

    async fn ensure_customer(&self, customer: &CustomerRef) -> Result<String, PaymentError> {
        // The bank knows the customer by the invoice number on the transfer.
        Ok(customer.external_id.clone())
    }

    async fn start_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<ProviderPayment, PaymentError> {
        // The transfer's reference is not known before it arrives; the
        // attempt is known by its key until then.
        Ok(Self::awaiting(&format!("{MANUAL}:{}", request.key)))
    }

    async fn payment(&self, reference: &str) -> Result<ProviderPayment, PaymentError> {
        Ok(Self::awaiting(reference))
    }

    async fn retry_payment(
        &self,
        reference: &str,
        _payment_method: Option<&str>,
        _key: &str,
    ) -> Result<ProviderPayment, PaymentError> {
        Ok(ProviderPayment {
            status: ProviderStatus::Failed,
            failure: Some("a bank transfer cannot be charged again by the platform".into()),
            ..Self::awaiting(reference)
        })
    }

    async fn refund(&self, request: &RefundRequest) -> Result<ProviderRefund, PaymentError> {
        Ok(ProviderRefund {
            reference: format!("{MANUAL}:{}", request.key),
            // Finance makes the transfer.
            status: "pending".into(),
            amount: request.amount,
        })
    }
}
