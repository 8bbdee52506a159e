//! Wires the deployment platform into the server: the deployer over the
//! store, the meter that reports running applications into the
//! marketplace's billing (the `deploy-usage` plan), and the running-cost
//! preview a tenant reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shiyun_billing::engine::SubscribeRequest;
use shiyun_billing::plan::Plan;
use shiyun_billing::preview::PreviewInvoice;
use shiyun_billing::{Billing, BillingError};
use shiyun_core::billing::{Aggregation, Meter, SubscriptionId};
use shiyun_core::deploy::DeployStore;
use shiyun_deploy::engine::{DeploySettings, Deployer, KubeConnector};
use shiyun_deploy::meter::{
    CPU_METER, CPU_PROPERTY, MEMORY_METER, MEMORY_PROPERTY, Meter as UsageMeter, UsageSink,
};
use shiyun_deploy::render::BuildSettings;
use shiyun_deploy::seal::Sealer;

use crate::settings::Settings;

/// The plan running applications are billed on.
pub const USAGE_PLAN: &str = "deploy-usage";

/// `[deploy]` settings.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DeployConfig {
    /// The key cluster credentials and application secrets are sealed
    /// with: 64 hex digits or base64 of 32 bytes. Unset, a random key per
    /// process is used (sealed values then die with the process).
    pub sealing_key: Option<String>,
    /// How often a rollout's progress is read, in milliseconds.
    pub rollout_poll_ms: u64,
    /// The builder image builds run (unset: builds are off).
    pub builder_image: Option<String>,
    /// The registry builds push to.
    pub registry: Option<String>,
    /// Price of one vCPU-hour of requested CPU, in the market currency.
    pub vcpu_hour_price: Decimal,
    /// Price of one GiB-hour of requested memory.
    pub gib_hour_price: Decimal,
    /// Seconds between meter passes in `serve`.
    pub meter_interval_seconds: u64,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            sealing_key: None,
            rollout_poll_ms: 500,
            builder_image: None,
            registry: None,
            vcpu_hour_price: Decimal::new(12, 2),
            gib_hour_price: Decimal::new(15, 3),
            meter_interval_seconds: 60,
        }
    }
}

/// The sealer of the settings' key, or of a random one (warned).
fn sealer(config: &DeployConfig) -> Sealer {
    if let Some(key) = &config.sealing_key {
        match Sealer::from_text(key) {
            Ok(sealer) => return sealer,
            Err(error) => {
                tracing::error!(%error, "deploy.sealing_key is unusable; using a random key")
            }
        }
    } else {
        tracing::debug!(
            "deploy.sealing_key is not set: sealed cluster credentials last as long as this process"
        );
    }
    Sealer::new(&crate::billing::random_key_bytes())
}

/// The deployment platform over `store`.
pub fn deployer(store: Arc<dyn DeployStore>, settings: &Settings) -> Deployer {
    let config = &settings.deploy;
    let builds = match (&config.builder_image, &config.registry) {
        (Some(builder_image), Some(registry)) => Some(BuildSettings {
            builder_image: builder_image.clone(),
            registry: registry.clone(),
            push_secret: None,
        }),
        _ => None,
    };
    Deployer::new(
        store,
        sealer(config),
        Arc::new(KubeConnector::default()),
        DeploySettings {
            rollout_poll: Duration::from_millis(config.rollout_poll_ms.max(10)),
            builds,
        },
        crate::billing::random_id_bytes,
    )
}

/// The usage plan: vCPU-minutes and MiB-minutes priced from the hourly
/// prices of the settings (a minute is 1/60 hour, a MiB 1/1024 GiB).
pub fn usage_plan(settings: &Settings) -> Result<Plan, BillingError> {
    let config = &settings.deploy;
    let per_cpu_minute = config.vcpu_hour_price / Decimal::from(60);
    let per_mib_minute = config.gib_hour_price / Decimal::from(60 * 1024);
    let body = json!({
        "code": USAGE_PLAN,
        "name": "Applications on the deployment platform",
        "currency": settings.market.currency.code(),
        "interval": "monthly",
        "billing_time": "calendar",
        "pay_in": "arrears",
        "charges": [
            {"meter": CPU_METER, "model": "standard", "unit_price": per_cpu_minute.normalize().to_string(),
             "name": "vCPU-minutes of running applications"},
            {"meter": MEMORY_METER, "model": "standard", "unit_price": per_mib_minute.normalize().to_string(),
             "name": "Memory MiB-minutes of running applications"}
        ]
    });
    Plan::parse(&body.to_string()).map_err(BillingError::from)
}

/// Defines the two meters and the usage plan (a replay when they exist).
pub fn ensure_usage_plan(billing: &Billing, settings: &Settings) -> Result<(), BillingError> {
    let now = Utc::now();
    for (code, name, property) in [
        (
            CPU_METER,
            "vCPU-minutes of running applications",
            CPU_PROPERTY,
        ),
        (
            MEMORY_METER,
            "MiB-minutes of running applications",
            MEMORY_PROPERTY,
        ),
    ] {
        // A meter defined before is a replay.
        let _ = billing.define_meter(&Meter {
            code: code.to_owned(),
            name: name.to_owned(),
            aggregation: Aggregation::Sum,
            property: Some(property.to_owned()),
        })?;
    }
    match billing.define_plan(&usage_plan(settings)?, now) {
        Ok(_) => Ok(()),
        // Published before with other prices: the published plan stands.
        Err(BillingError::Store(shiyun_core::store::StoreError::Conflict(message))) => {
            tracing::warn!(%message, "the deploy-usage plan differs from the settings' prices");
            Ok(())
        }
        Err(other) => Err(other),
    }
}

/// Reports the meter's events as the tenant's own usage, subscribing the
/// tenant to the usage plan on its first report.
pub struct BillingSink {
    billing: Billing,
    settings: Arc<Settings>,
    subscribed: Mutex<BTreeSet<String>>,
    plan_ready: std::sync::atomic::AtomicBool,
}

impl BillingSink {
    /// A sink into `billing`.
    pub fn new(billing: Billing, settings: Arc<Settings>) -> Self {
        BillingSink {
            billing,
            settings,
            subscribed: Mutex::new(BTreeSet::new()),
            plan_ready: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn subscribe(&self, customer: &str, now: DateTime<Utc>) -> Result<(), BillingError> {
        if self
            .subscribed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(customer)
        {
            return Ok(());
        }
        let request = SubscribeRequest {
            id: Some(usage_subscription(customer)),
            customer: customer.to_owned(),
            plan: USAGE_PLAN.to_owned(),
            starts_on: first_of_month(now),
            coupons: Vec::new(),
        };
        // The id is derived from the tenant: a second subscribe is a replay.
        let _ = self.billing.subscribe(&request, now)?;
        self.subscribed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(customer.to_owned());
        Ok(())
    }
}

impl UsageSink for BillingSink {
    fn report(&self, customer: &str, events: &[Value], now: DateTime<Utc>) -> Result<(), String> {
        let timezone = &self.settings.billing.default_timezone;
        if !self.plan_ready.load(std::sync::atomic::Ordering::Acquire) {
            ensure_usage_plan(&self.billing, &self.settings).map_err(|e| e.to_string())?;
            self.plan_ready
                .store(true, std::sync::atomic::Ordering::Release);
        }
        // The first event makes the tenant a customer; the subscription
        // follows so the month's invoice carries the usage.
        let report = self
            .billing
            .ingest_own(events, customer, timezone, now)
            .map_err(|e| e.to_string())?;
        self.subscribe(customer, now).map_err(|e| e.to_string())?;
        let refused: Vec<String> = report
            .results
            .iter()
            .filter(|r| r.status == shiyun_billing::events::EventStatus::Rejected)
            .map(|r| {
                r.error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_default()
            })
            .collect();
        match refused.first() {
            None => Ok(()),
            Some(why) => Err(format!("{} usage events refused: {why}", refused.len())),
        }
    }
}

/// The usage subscription's id, derived from the tenant so subscribing is
/// a replay after the first time.
fn usage_subscription(customer: &str) -> SubscriptionId {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("deploy-usage:{customer}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    SubscriptionId::from_random(bytes)
}

fn first_of_month(at: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(at.year(), at.month(), 1).unwrap_or_else(|| at.date_naive())
}

/// The meter over the deployer, reporting into billing.
pub fn meter(deployer: Deployer, billing: Billing, settings: Arc<Settings>) -> UsageMeter {
    UsageMeter::new(deployer, Arc::new(BillingSink::new(billing, settings)))
}

/// Runs a meter pass every `deploy.meter_interval_seconds` while the server runs.
pub async fn run_meter(meter: UsageMeter, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match meter.tick(Utc::now()).await {
            Ok(report) if !report.failures.is_empty() => {
                tracing::warn!(failures = ?report.failures, "metering failed for some applications");
            }
            Ok(report) => tracing::debug!(apps = report.apps, events = report.events, "metered"),
            Err(error) => tracing::warn!(%error, "metering failed"),
        }
    }
}

/// A tenant's running cost: this month's invoice of the usage plan so far.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CostPreview {
    /// Usage so far, per meter (vCPU-minutes, MiB-minutes).
    #[schema(value_type = Object)]
    pub usage: BTreeMap<String, String>,
    /// The invoice the usage plan would issue for the month so far.
    pub invoice: PreviewInvoice,
}

/// This month's running cost of `customer` (a tenant's id).
pub fn cost_preview(
    billing: &Billing,
    settings: &Settings,
    customer: &str,
    now: DateTime<Utc>,
) -> Result<CostPreview, BillingError> {
    ensure_usage_plan(billing, settings)?;
    let from = first_of_month(now);
    let to = if from.month() == 12 {
        NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(from.year(), from.month() + 1, 1)
    }
    .unwrap_or(from);
    let (quantities, invoice) =
        shiyun_billing::preview::stored_usage_preview(billing, USAGE_PLAN, customer, from, to)?;
    Ok(CostPreview {
        usage: quantities
            .into_iter()
            .map(|(k, v)| (k, v.normalize().to_string()))
            .collect(),
        invoice,
    })
}

/// The demo's deployment: the demo operator's enterprise "Demo Shop", its
/// project "storefront" on the simulated cluster "demo-sim", and one
/// application "web" started an hour ago, so the meter's first pass reports
/// its last minutes and the running cost shows at once. Repeating it on the
/// same database reuses what exists. Answers what to try.
pub async fn demo_application(
    state: &crate::app::AppState,
    users: &shiyun_accounts::UserCentre,
    login: &str,
    password: &str,
) -> anyhow::Result<String> {
    use anyhow::Context;
    use shiyun_accounts::service::CallContext;
    use shiyun_core::deploy::ClusterKind;
    use shiyun_core::tenancy::Identity;
    use shiyun_deploy::engine::{Actor, NewCluster};
    use shiyun_deploy::model::{AppSpec, ProjectQuota};

    let (users, login, password) = (users.clone(), login.to_owned(), password.to_owned());
    let (principal, project, token) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let ctx = CallContext::default();
        let tokens = users.login(&login, &password, &ctx)?;
        let operator = users.authenticate(&tokens.access_token, &ctx)?;
        let me = users.me(&operator)?;
        let enterprise = match me.enterprises.iter().find(|(e, _)| e.name == "Demo Shop") {
            Some((enterprise, _)) => enterprise.clone(),
            None => users.create_enterprise(&operator, "Demo Shop", &ctx)?,
        };
        let tokens = users.switch_identity(&operator, Identity::Enterprise(enterprise.id), &ctx)?;
        let principal = users.authenticate(&tokens.access_token, &ctx)?;
        let project = match users
            .list_projects(&principal)?
            .into_iter()
            .find(|p| p.name == "storefront")
        {
            Some(project) => project,
            None => users.create_project(&principal, "storefront", &ctx)?,
        };
        Ok((principal, project, tokens.access_token))
    })
    .await??;
    let deploy = &state.deploy;
    let now = Utc::now();
    let cluster = match deploy
        .list_clusters()
        .await?
        .into_iter()
        .find(|c| c.name == "demo-sim")
    {
        Some(cluster) => cluster,
        None => {
            deploy
                .register_cluster(
                    NewCluster {
                        name: "demo-sim".to_owned(),
                        kind: ClusterKind::Simulated,
                        api_url: "http://simulated".to_owned(),
                        credential_kind: "token".to_owned(),
                        credential: String::new(),
                    },
                    now,
                )
                .await?
        }
    };
    deploy.grant(&cluster.id, &principal.tenant, true).await?;
    let actor = Actor {
        scope: principal.scope(),
        account: principal.account.clone(),
    };
    deploy
        .place_project(
            &actor,
            &project.id,
            &cluster.id,
            ProjectQuota::default(),
            now,
        )
        .await?;
    let existing = deploy
        .list(&actor, Some(&project.id))
        .await?
        .into_iter()
        .find(|a| a.name == "web");
    let app = match existing {
        Some(app) => app,
        None => {
            let spec: AppSpec = serde_json::from_value(json!({
                "image": "nginx:1.27",
                "ports": [{"name": "http", "port": 80}],
                "env": {"SHOP_CURRENCY": "CNY"},
                "config_files": [{"path": "/usr/share/nginx/html/index.html", "content": "<h1>拾云 demo shop</h1>\n"}],
                "resources": {"cpu_millicores": 500, "memory_mib": 512},
                "scale": {"mode": "fixed", "replicas": 2},
                "health": {"http_path": "/", "port": 80},
                "ingress": [{"host": "shop.demo.shiyun.local", "port": 80}],
            }))
            .context("the demo spec")?;
            // Started an hour ago: the meter's first pass has minutes to report.
            deploy
                .create_app(
                    &actor,
                    &project.id,
                    "web",
                    spec,
                    true,
                    now - chrono::Duration::hours(1),
                )
                .await?
                .0
        }
    };
    let base = format!("http://{}", state.settings.bind);
    Ok(format!(
        "demo application: `web` ({}) in project storefront ({}) of Demo Shop, on the simulated cluster demo-sim; \
         the meter reports its vCPU and memory minutes into billing.\n\
         its running cost (token valid {} min): curl -s {base}/v1/deployments/cost -H 'authorization: Bearer {token}'\n\
         its status: curl -s {base}/v1/apps/{}/status -H 'authorization: Bearer {token}'",
        app.id,
        project.id,
        state.settings.auth.access_ttl_seconds / 60,
        app.id,
    ))
}
