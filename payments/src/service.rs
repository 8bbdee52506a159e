//! [`Payments`]: the rules around a provider and the stores. Starts
//! payments of invoices and wallet top-ups, applies the provider's webhook
//! events exactly once, runs dunning, and refunds through credit notes.
//!
//! Exactly once: an event's effects on other stores (an invoice paid, a
//! wallet credited) are idempotent by the provider's payment id, so they
//! run first; the event is then recorded together with the attempt's
//! change in one store transaction. A crash between the two only means the
//! provider's redelivery replays effects that change nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::Serialize;
use shiyun_billing::market::Market;
use shiyun_billing::wallet::Wallets;
use shiyun_billing::{Billing, BillingError, IdSource};
use shiyun_core::ValidationError;
use shiyun_core::billing::payments::{
    AttemptStatus, PaymentAttempt, PaymentAttemptId, PaymentPurpose, PaymentRefund, PaymentStore,
    WebhookEvent,
};
use shiyun_core::billing::wallet::WalletStore;
use shiyun_core::billing::{CreditNote, CreditNoteId, InvoiceId, InvoiceStatus, IssuerId, Payment};
use shiyun_core::error::{CodedError, ErrorCode};
use shiyun_core::money::{Money, RoundingMode};
use shiyun_core::store::{Outcome, StoreError};

use crate::PaymentError;
use crate::dunning::{self, DunningPolicy};
use crate::provider::{
    CustomerRef, PaymentProvider, PaymentRequest, ProviderStatus, RefundRequest,
};
use crate::stripe::transformers::IntentEvent;
use crate::stripe::{STRIPE, StripeWebhook};

/// Times a compare-and-set of an attempt is tried before giving up.
const CAS_ROUNDS: usize = 4;

/// Attempts one dunning run retries at most (the rest wait for the next run).
const DUNNING_PAGE: u32 = 500;

/// A payment started (or found started before).
#[derive(Debug, Clone)]
pub struct StartedPayment {
    /// The attempt.
    pub attempt: PaymentAttempt,
    /// Where the provider's payment stands.
    pub status: ProviderStatus,
    /// What the customer's browser confirms it with (none for a bank
    /// transfer, or once paid).
    pub client_secret: Option<SecretString>,
}

/// What became of a webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// Applied now.
    Processed,
    /// Applied before; nothing changed now.
    AlreadyProcessed,
    /// Recorded, but not about a payment of ours (another event type, a
    /// payment made elsewhere on the account).
    Ignored,
}

/// What a dunning run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DunningReport {
    /// Retries sent.
    pub retried: u64,
    /// Retries that paid.
    pub succeeded: u64,
    /// Retries that failed with another retry scheduled.
    pub rescheduled: u64,
    /// Retries that failed for the last time: the account is overdue.
    pub overdue: u64,
    /// Retries the provider has not settled yet (a webhook will).
    pub pending: u64,
    /// Attempts that could not be retried now, with why; the next run
    /// tries them again.
    pub failures: Vec<(String, String)>,
}

/// A refund asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundInput {
    /// Issue a credit note of `amount` for `reason`, then refund it.
    New {
        /// In the invoice's currency.
        amount: Decimal,
        /// Why.
        reason: String,
    },
    /// Refund a credit note issued before (a refund that failed at the
    /// provider is repeated this way; the provider sees the same key).
    CreditNote(CreditNoteId),
}

/// A refund made.
#[derive(Debug, Clone)]
pub struct RefundOutcome {
    /// The credit note it pays out.
    pub credit_note: CreditNote,
    /// The provider's refund; none when the invoice was paid outside the
    /// provider (finance transfers the money back).
    pub refund: Option<PaymentRefund>,
}

/// Payments of one issuer.
#[derive(Clone)]
pub struct Payments {
    billing: Billing,
    store: Arc<dyn PaymentStore>,
    provider: Arc<dyn PaymentProvider>,
    wallets: Option<Arc<dyn WalletStore>>,
    market: Option<Market>,
    dunning: DunningPolicy,
    webhook: Option<StripeWebhook>,
    ids: IdSource,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("provider", &self.provider.name())
            .field("wallets", &self.wallets.is_some())
            .field("standing", &self.market.is_some())
            .finish_non_exhaustive()
    }
}

/// Runs a synchronous store or billing call on a blocking thread.
async fn blocking<T, F>(call: F) -> Result<T, PaymentError>
where
    F: FnOnce() -> Result<T, PaymentError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(call).await.map_err(|e| {
        PaymentError::Store(StoreError::Internal(format!("a store call stopped: {e}")))
    })?
}

fn is_conflict(error: &PaymentError) -> bool {
    matches!(error, PaymentError::Store(StoreError::Conflict(_)))
}

impl Payments {
    /// Payments of `billing`'s issuer through `provider`, kept in `store`.
    pub fn new(
        billing: Billing,
        store: Arc<dyn PaymentStore>,
        provider: Arc<dyn PaymentProvider>,
        dunning: DunningPolicy,
        ids: IdSource,
    ) -> Self {
        Payments {
            billing,
            store,
            provider,
            wallets: None,
            market: None,
            dunning,
            webhook: None,
            ids,
        }
    }

    /// Top-ups credit these wallets (without, top-ups are refused).
    pub fn with_wallets(mut self, wallets: Arc<dyn WalletStore>) -> Self {
        self.wallets = Some(wallets);
        self
    }

    /// Overdue accounts are recorded in the market's account standing,
    /// and a top-up resumes the orders suspended for want of funds
    /// (without, overdue accounts are only logged).
    pub fn with_market(mut self, market: Market) -> Self {
        self.market = Some(market);
        self
    }

    /// Stripe's webhook events are accepted, signed with this secret.
    pub fn with_stripe_webhook(mut self, webhook: StripeWebhook) -> Self {
        self.webhook = Some(webhook);
        self
    }

    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        self.provider.name()
    }

    async fn issuer(&self) -> Result<IssuerId, PaymentError> {
        let billing = self.billing.clone();
        blocking(move || Ok(billing.id()?.clone())).await
    }

    /// Starts the payment of one's own finalised invoice (`customer` is the
    /// caller's tenant: another customer's invoice is not found). Again
    /// while unpaid, it answers the same payment.
    pub async fn pay_invoice(
        &self,
        customer: &str,
        invoice: &InvoiceId,
        now: DateTime<Utc>,
    ) -> Result<StartedPayment, PaymentError> {
        let billing = self.billing.clone();
        let id = invoice.clone();
        let stored = blocking(move || Ok(billing.invoice(&id)?)).await;
        let not_found = || PaymentError::NotFound {
            entity: "invoice",
            id: invoice.to_string(),
        };
        let stored = match stored {
            Ok(stored) if stored.customer == customer => stored,
            Ok(_) => return Err(not_found()),
            Err(e) if e.code() == ErrorCode::NotFound => return Err(not_found()),
            Err(e) => return Err(e),
        };
        match stored.status {
            InvoiceStatus::Finalized => {}
            // Customers never see drafts.
            InvoiceStatus::Draft => return Err(not_found()),
            status => {
                return Err(PaymentError::Conflict(format!(
                    "invoice `{invoice}` is {status}; only a finalised invoice can be paid"
                )));
            }
        }
        let total = stored.totals.total;
        if !total.amount().is_sign_positive() || total.is_zero() {
            return Err(PaymentError::Conflict(format!(
                "invoice `{invoice}` has nothing to pay"
            )));
        }
        let description = match &stored.number {
            Some(number) => format!("Invoice {number}"),
            None => format!("Invoice {invoice}"),
        };
        self.start(
            customer,
            PaymentPurpose::Invoice {
                invoice: invoice.clone(),
            },
            total,
            format!("invoice:{invoice}"),
            description,
            now,
        )
        .await
    }

    /// Starts a top-up of the customer's wallet in `amount`'s currency.
    /// `key` is the caller's idempotency key: the same key again answers the
    /// same payment; with another amount it is an idempotency conflict.
    pub async fn top_up(
        &self,
        customer: &str,
        amount: Money,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<StartedPayment, PaymentError> {
        if self.wallets.is_none() {
            return Err(PaymentError::NotConfigured(
                "wallet top-ups are not available on this server",
            ));
        }
        if key.is_empty() || key.len() > 100 || key.chars().any(char::is_control) {
            return Err(
                ValidationError::new("idempotency_key", "must be 1-100 printable bytes").into(),
            );
        }
        self.start(
            customer,
            PaymentPurpose::TopUp,
            amount,
            format!("top_up:{customer}:{key}"),
            format!("Wallet top-up ({})", amount.currency()),
            now,
        )
        .await
    }

    async fn start(
        &self,
        customer: &str,
        purpose: PaymentPurpose,
        amount: Money,
        key: String,
        description: String,
        now: DateTime<Utc>,
    ) -> Result<StartedPayment, PaymentError> {
        let exact = amount.round(RoundingMode::HalfUp) == amount;
        if !exact || !amount.amount().is_sign_positive() || amount.is_zero() {
            return Err(ValidationError::new(
                "amount",
                format!(
                    "must be positive with at most {} decimal places",
                    amount.currency().minor_units()
                ),
            )
            .into());
        }
        let issuer = self.issuer().await?;
        let store = self.store.clone();
        let (i, k) = (issuer.clone(), key.clone());
        if let Some(existing) = blocking(move || Ok(store.attempt_by_key(&i, &k)?)).await? {
            if existing.amount != amount || existing.purpose != purpose {
                return Err(PaymentError::IdempotencyConflict { key });
            }
            return self.resume(existing).await;
        }
        let provider_customer = self.ensure_customer(&issuer, customer, now).await?;
        let mut metadata = std::collections::BTreeMap::new();
        metadata.insert("shiyun_customer".to_owned(), customer.to_owned());
        metadata.insert("shiyun_purpose".to_owned(), purpose.kind().to_owned());
        if let Some(invoice) = purpose.invoice() {
            metadata.insert("shiyun_invoice".to_owned(), invoice.to_string());
        }
        let payment = self
            .provider
            .start_payment(&PaymentRequest {
                key: key.clone(),
                customer: provider_customer,
                amount,
                purpose: purpose.clone(),
                description,
                metadata,
            })
            .await?;
        let attempt = PaymentAttempt {
            id: PaymentAttemptId::from_random((self.ids)()),
            customer: customer.to_owned(),
            purpose,
            key,
            amount,
            provider: self.provider.name().to_owned(),
            provider_reference: payment.reference.clone(),
            status: AttemptStatus::Pending,
            retries: 0,
            payment_method: None,
            first_failed_at: None,
            next_retry_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let store = self.store.clone();
        let stored =
            blocking(move || Ok(store.create_attempt(&issuer, &attempt)?.into_inner())).await?;
        if stored.provider_reference != payment.reference {
            // A concurrent start stored its payment first; answer that one.
            return self.resume(stored).await;
        }
        Ok(StartedPayment {
            attempt: stored,
            status: payment.status,
            client_secret: payment.client_secret,
        })
    }

    /// A stored attempt with its payment as the provider has it now.
    async fn resume(&self, attempt: PaymentAttempt) -> Result<StartedPayment, PaymentError> {
        if attempt.status == AttemptStatus::Succeeded {
            return Ok(StartedPayment {
                attempt,
                status: ProviderStatus::Succeeded,
                client_secret: None,
            });
        }
        let payment = self.provider.payment(&attempt.provider_reference).await?;
        Ok(StartedPayment {
            attempt,
            status: payment.status,
            client_secret: payment.client_secret,
        })
    }

    /// The customer's id at the provider, created there on first use.
    async fn ensure_customer(
        &self,
        issuer: &IssuerId,
        customer: &str,
        now: DateTime<Utc>,
    ) -> Result<String, PaymentError> {
        let provider = self.provider.name();
        let (store, billing) = (self.store.clone(), self.billing.clone());
        let (i, c) = (issuer.clone(), customer.to_owned());
        let (known, stored) = blocking(move || {
            let known = store.provider_customer(&i, &c, provider)?;
            let stored = billing.store().get_customer(&i, &c)?;
            Ok((known, stored))
        })
        .await?;
        if let Some(known) = known {
            return Ok(known);
        }
        let stored = stored.ok_or_else(|| PaymentError::NotFound {
            entity: "customer",
            id: customer.to_owned(),
        })?;
        let created = self
            .provider
            .ensure_customer(&CustomerRef {
                external_id: stored.external_id,
                name: stored.name,
            })
            .await?;
        let store = self.store.clone();
        let (i, c) = (issuer.clone(), customer.to_owned());
        blocking(move || {
            Ok(store
                .put_provider_customer(&i, &c, provider, &created, now)?
                .into_inner())
        })
        .await
    }

    /// Verifies and applies one Stripe webhook delivery (`payload` is the
    /// raw body). Each event is applied once; a redelivery answers
    /// [`WebhookOutcome::AlreadyProcessed`] and changes nothing.
    pub async fn stripe_webhook(
        &self,
        signature: Option<&str>,
        payload: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WebhookOutcome, PaymentError> {
        let webhook = self.webhook.as_ref().ok_or(PaymentError::NotConfigured(
            "stripe webhooks are not enabled on this server",
        ))?;
        let event = webhook.event(signature, payload, now)?;
        let issuer = self.issuer().await?;
        let store = self.store.clone();
        let (i, id) = (issuer.clone(), event.id.clone());
        if blocking(move || Ok(store.event_processed(&i, STRIPE, &id)?)).await? {
            return Ok(WebhookOutcome::AlreadyProcessed);
        }
        let record = WebhookEvent {
            provider: STRIPE.to_owned(),
            id: event.id.clone(),
            kind: event.kind.clone(),
            object: event.object_id.clone(),
            received_at: now,
        };
        let ours = match &event.intent {
            Some(intent) => {
                let store = self.store.clone();
                let (i, reference) = (issuer.clone(), intent.id.clone());
                blocking(move || Ok(store.attempt_by_reference(&i, STRIPE, &reference)?)).await?
            }
            None => None,
        };
        let (Some(intent), Some(attempt)) = (event.intent, ours) else {
            tracing::debug!(event = %event.id, kind = %event.kind, "stripe event not about a payment of ours");
            return self.record_only(&issuer, record).await;
        };
        match event.kind.as_str() {
            "payment_intent.succeeded" => {
                self.on_succeeded(&issuer, attempt, &intent, record, event.created)
                    .await
            }
            "payment_intent.payment_failed" => {
                self.on_failed(&issuer, attempt, &intent, record, event.created)
                    .await
            }
            _ => self.record_only(&issuer, record).await,
        }
    }

    async fn record_only(
        &self,
        issuer: &IssuerId,
        record: WebhookEvent,
    ) -> Result<WebhookOutcome, PaymentError> {
        let store = self.store.clone();
        let issuer = issuer.clone();
        let outcome = blocking(move || Ok(store.record_event(&issuer, &record, None)?)).await?;
        Ok(match outcome {
            Outcome::Applied(_) => WebhookOutcome::Ignored,
            Outcome::Replayed(_) => WebhookOutcome::AlreadyProcessed,
        })
    }

    async fn on_succeeded(
        &self,
        issuer: &IssuerId,
        attempt: PaymentAttempt,
        intent: &IntentEvent,
        record: WebhookEvent,
        at: DateTime<Utc>,
    ) -> Result<WebhookOutcome, PaymentError> {
        if intent.amount != attempt.amount {
            tracing::error!(
                attempt = %attempt.id, payment = %intent.id, paid = %intent.amount,
                asked = %attempt.amount, "stripe reports another amount than was asked; not applied"
            );
            return Err(PaymentError::Conflict(format!(
                "payment `{}` is of {}, not the {} asked",
                intent.id, intent.amount, attempt.amount
            )));
        }
        self.apply_success(issuer, &attempt, &intent.id, at).await?;
        let was_failed = attempt.status == AttemptStatus::Failed;
        let customer = attempt.customer.clone();
        let outcome = self
            .change_attempt(issuer, attempt, Some(record), move |a| {
                dunning::succeeded(a, at)
            })
            .await?;
        if was_failed && !outcome.is_replay() {
            self.clear_overdue(issuer, &customer).await?;
        }
        Ok(if outcome.is_replay() {
            WebhookOutcome::AlreadyProcessed
        } else {
            WebhookOutcome::Processed
        })
    }

    async fn on_failed(
        &self,
        issuer: &IssuerId,
        attempt: PaymentAttempt,
        intent: &IntentEvent,
        record: WebhookEvent,
        at: DateTime<Utc>,
    ) -> Result<WebhookOutcome, PaymentError> {
        tracing::info!(
            attempt = %attempt.id, payment = %intent.id,
            failure = intent.failure.as_deref().unwrap_or("unknown"), "payment failed"
        );
        let policy = self.dunning.clone();
        let method = intent.payment_method.clone();
        let is_invoice = attempt.purpose.invoice().is_some();
        let outcome = self
            .change_attempt(issuer, attempt, Some(record), move |a| {
                if is_invoice {
                    policy.after_failure(a, method.as_deref(), at)
                } else {
                    // A top-up is not chased: the customer pays again or not.
                    None
                }
            })
            .await?;
        if let Outcome::Applied(Some(changed)) = &outcome
            && changed.status == AttemptStatus::Failed
        {
            self.mark_overdue(&changed.customer, at).await?;
        }
        Ok(if outcome.is_replay() {
            WebhookOutcome::AlreadyProcessed
        } else {
            WebhookOutcome::Processed
        })
    }

    /// The effect of a paid attempt, idempotent by the provider's payment
    /// id: the invoice paid, or the wallet credited.
    async fn apply_success(
        &self,
        issuer: &IssuerId,
        attempt: &PaymentAttempt,
        reference: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PaymentError> {
        match &attempt.purpose {
            PaymentPurpose::Invoice { invoice } => {
                let billing = self.billing.clone();
                let invoice = invoice.clone();
                let payment = Payment {
                    reference: reference.to_owned(),
                    amount: attempt.amount,
                    at,
                };
                let paid = blocking(move || Ok(billing.record_payment(&invoice, &payment)?)).await;
                match paid {
                    Ok(_) => Ok(()),
                    // Paid otherwise meanwhile (a bank transfer) or voided:
                    // the money came in anyway and must go back by refund.
                    Err(PaymentError::Billing(BillingError::Store(StoreError::Conflict(why)))) => {
                        tracing::error!(
                            attempt = %attempt.id, payment = reference, reason = %why,
                            "a provider payment could not settle its invoice; refund it"
                        );
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            PaymentPurpose::TopUp => {
                let store = self.wallets.clone().ok_or(PaymentError::NotConfigured(
                    "wallet top-ups are not available on this server",
                ))?;
                let wallets = Wallets::new(store, issuer.clone(), self.ids.clone());
                let market = self.market.clone();
                let (customer, amount) = (attempt.customer.clone(), attempt.amount);
                let reference = reference.to_owned();
                blocking(move || {
                    // Keyed by the provider's payment: credited once, a
                    // replay (new ids, the same content) changes nothing.
                    wallets
                        .top_up(&customer, amount, &reference, Some(reference.clone()), at)?
                        .into_inner();
                    if let Some(market) = market {
                        market.resume_funded(&customer, at)?;
                    }
                    Ok(())
                })
                .await
            }
        }
    }

    /// Applies `change` to the attempt by compare-and-set, recording
    /// `event` in the same transaction when given; a stale read is read
    /// again and `change` recomputed.
    async fn change_attempt<F>(
        &self,
        issuer: &IssuerId,
        mut current: PaymentAttempt,
        event: Option<WebhookEvent>,
        change: F,
    ) -> Result<Outcome<Option<PaymentAttempt>>, PaymentError>
    where
        F: Fn(&PaymentAttempt) -> Option<PaymentAttempt> + Send + Sync + 'static,
    {
        let mut round = 0;
        loop {
            round += 1;
            let next = change(&current);
            let store = self.store.clone();
            let (i, e) = (issuer.clone(), event.clone());
            let result = blocking(move || match (&e, next) {
                (Some(event), next) => Ok(store.record_event(&i, event, next.as_ref())?),
                (None, Some(next)) => Ok(Outcome::Applied(Some(store.update_attempt(&i, &next)?))),
                (None, None) => Ok(Outcome::Applied(None)),
            })
            .await;
            match result {
                Err(error) if is_conflict(&error) && round < CAS_ROUNDS => {
                    let store = self.store.clone();
                    let (i, id) = (issuer.clone(), current.id.clone());
                    current = blocking(move || Ok(store.get_attempt(&i, &id)?))
                        .await?
                        .ok_or_else(|| PaymentError::NotFound {
                            entity: "payment attempt",
                            id: current.id.to_string(),
                        })?;
                }
                other => return other,
            }
        }
    }

    async fn mark_overdue(&self, customer: &str, at: DateTime<Utc>) -> Result<(), PaymentError> {
        tracing::warn!(
            customer,
            "last payment retry failed; the account is overdue"
        );
        let Some(market) = self.market.clone() else {
            tracing::warn!(customer, "no account standing: overdue not recorded");
            return Ok(());
        };
        let customer = customer.to_owned();
        blocking(move || {
            // The first mark holds: overdue since the oldest unpaid failure.
            if market.standing(&customer)?.overdue_since.is_none() {
                market.set_overdue(&customer, Some(at))?;
            }
            Ok(())
        })
        .await
    }

    /// Lifts the overdue mark once no given-up attempt of the customer is left.
    async fn clear_overdue(&self, issuer: &IssuerId, customer: &str) -> Result<(), PaymentError> {
        let Some(market) = self.market.clone() else {
            return Ok(());
        };
        let store = self.store.clone();
        let (issuer, customer) = (issuer.clone(), customer.to_owned());
        blocking(move || {
            let open = store
                .attempts_of_customer(&issuer, &customer)?
                .iter()
                .any(|a| a.status == AttemptStatus::Failed);
            if !open && market.standing(&customer)?.overdue_since.is_some() {
                market.set_overdue(&customer, None)?;
            }
            Ok(())
        })
        .await
    }

    /// Retries every failed payment whose retry is due at `now`, each with
    /// its own idempotency key (`{attempt key}:retry:{n}`). A decline
    /// schedules the next retry; after the last the account is overdue.
    /// Safe to run concurrently: each retry is claimed by compare-and-set
    /// before it is sent.
    pub async fn run_dunning(&self, now: DateTime<Utc>) -> Result<DunningReport, PaymentError> {
        let issuer = self.issuer().await?;
        let store = self.store.clone();
        let i = issuer.clone();
        let due = blocking(move || Ok(store.due_retries(&i, now, DUNNING_PAGE)?)).await?;
        let mut report = DunningReport::default();
        for attempt in due {
            let id = attempt.id.to_string();
            if let Err(error) = self.retry(&issuer, attempt, now, &mut report).await {
                tracing::warn!(attempt = %id, %error, "dunning retry not made");
                report.failures.push((id, error.to_string()));
            }
        }
        Ok(report)
    }

    async fn retry(
        &self,
        issuer: &IssuerId,
        attempt: PaymentAttempt,
        now: DateTime<Utc>,
        report: &mut DunningReport,
    ) -> Result<(), PaymentError> {
        let sending = self.dunning.retrying(&attempt, now);
        let store = self.store.clone();
        let i = issuer.clone();
        let claimed = match blocking(move || Ok(store.update_attempt(&i, &sending)?)).await {
            Ok(claimed) => claimed,
            // A webhook or another run moved it meanwhile.
            Err(error) if is_conflict(&error) => return Ok(()),
            Err(error) => return Err(error),
        };
        let key = format!("{}:retry:{}", claimed.key, claimed.retries);
        let answer = self
            .provider
            .retry_payment(
                &claimed.provider_reference,
                claimed.payment_method.as_deref(),
                &key,
            )
            .await;
        let payment = match answer {
            Ok(payment) => payment,
            Err(error) => {
                // Not known to have reached the provider: due again at the
                // next run, which resends the same key.
                let mut back = claimed.clone();
                back.status = AttemptStatus::RetryScheduled;
                back.retries = attempt.retries;
                back.next_retry_at = Some(now);
                let store = self.store.clone();
                let i = issuer.clone();
                blocking(move || Ok(store.update_attempt(&i, &back)?)).await?;
                return Err(error);
            }
        };
        report.retried += 1;
        match payment.status {
            ProviderStatus::Succeeded => {
                self.apply_success(issuer, &claimed, &claimed.provider_reference, now)
                    .await?;
                self.change_attempt(issuer, claimed, None, move |a| dunning::succeeded(a, now))
                    .await?
                    .into_inner();
                report.succeeded += 1;
            }
            ProviderStatus::Failed | ProviderStatus::Canceled => {
                let policy = self.dunning.clone();
                let method = payment.payment_method.clone();
                let customer = claimed.customer.clone();
                let outcome = self
                    .change_attempt(issuer, claimed, None, move |a| {
                        policy.after_failure(a, method.as_deref(), now)
                    })
                    .await?;
                match outcome.into_inner() {
                    Some(changed) if changed.status == AttemptStatus::Failed => {
                        self.mark_overdue(&customer, now).await?;
                        report.overdue += 1;
                    }
                    Some(_) => report.rescheduled += 1,
                    // A webhook of this very decline got there first.
                    None => {}
                }
            }
            ProviderStatus::RequiresAction | ProviderStatus::Processing => report.pending += 1,
        }
        Ok(())
    }

    /// Refunds (part of) a paid invoice through a credit note: the credit
    /// note documents the correction, the provider's refund (keyed by the
    /// credit note's id) pays it out.
    pub async fn refund_invoice(
        &self,
        invoice: &InvoiceId,
        input: RefundInput,
        now: DateTime<Utc>,
    ) -> Result<RefundOutcome, PaymentError> {
        let issuer = self.issuer().await?;
        let (billing, store) = (self.billing.clone(), self.store.clone());
        let (id, i) = (invoice.clone(), issuer.clone());
        let (credit_note, attempt) = blocking(move || {
            let stored = billing.invoice(&id)?;
            if stored.status != InvoiceStatus::Paid {
                return Err(PaymentError::Conflict(format!(
                    "invoice `{id}` is {}; only a paid invoice is refunded (a credit note \
                     corrects an unpaid one)",
                    stored.status
                )));
            }
            let note = match input {
                RefundInput::New { amount, reason } => {
                    billing.credit_note(&id, amount, &reason, now)?
                }
                RefundInput::CreditNote(note) => billing
                    .store()
                    .credit_notes_of(&i, &id)?
                    .into_iter()
                    .find(|n| n.id == note)
                    .ok_or_else(|| PaymentError::NotFound {
                        entity: "credit note",
                        id: note.to_string(),
                    })?,
            };
            let attempt = store
                .attempt_by_key(&i, &format!("invoice:{id}"))?
                .filter(|a| a.status == AttemptStatus::Succeeded);
            Ok((note, attempt))
        })
        .await?;
        let Some(attempt) = attempt else {
            return Ok(RefundOutcome {
                credit_note,
                refund: None,
            });
        };
        let made = self
            .provider
            .refund(&RefundRequest {
                key: credit_note.id.to_string(),
                payment: attempt.provider_reference.clone(),
                amount: credit_note.amount,
                reason: credit_note.reason.clone(),
            })
            .await?;
        let refund = PaymentRefund {
            credit_note: credit_note.id.clone(),
            attempt: attempt.id.clone(),
            provider: self.provider.name().to_owned(),
            provider_reference: made.reference,
            amount: credit_note.amount,
            status: made.status,
            created_at: now,
        };
        let store = self.store.clone();
        let refund =
            blocking(move || Ok(store.record_refund(&issuer, &refund)?.into_inner())).await?;
        Ok(RefundOutcome {
            credit_note,
            refund: Some(refund),
        })
    }

    /// One attempt.
    pub async fn attempt(&self, id: &PaymentAttemptId) -> Result<PaymentAttempt, PaymentError> {
        let issuer = self.issuer().await?;
        let store = self.store.clone();
        let id = id.clone();
        blocking(move || {
            store
                .get_attempt(&issuer, &id)?
                .ok_or_else(|| PaymentError::NotFound {
                    entity: "payment attempt",
                    id: id.to_string(),
                })
        })
        .await
    }
}
