//! Typed settings: defaults, then a TOML file, then `SHIYUN_`-prefixed
//! environment variables (`__` separates levels:
//! `SHIYUN_VENDORS__AWS__ENDPOINT`). Unknown keys are rejected. The value is
//! passed down explicitly; nothing is global.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use shiyun_accounts::{AccountsConfig, MailSettings};
use shiyun_connectors::VendorSettings;
use shiyun_connectors::schedule::Schedules;
use shiyun_core::fx::FxTable;
use shiyun_core::listing::Vendor;
use shiyun_core::money::Currency;

/// Environment variables read by the binary itself, not settings keys.
const NON_SETTINGS_ENV: &[&str] = &["CONFIG", "LOG", "OPERATOR_PASSWORD"];

/// Log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Settings of every vendor connector, under `[vendors.<id>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorsSettings {
    /// AWS.
    #[serde(default)]
    pub aws: VendorSettings,
    /// Azure.
    #[serde(default)]
    pub azure: VendorSettings,
    /// Google Cloud.
    #[serde(default)]
    pub gcp: VendorSettings,
    /// Alibaba Cloud.
    #[serde(default)]
    pub alibaba: VendorSettings,
    /// Tencent Cloud.
    #[serde(default)]
    pub tencent: VendorSettings,
    /// IBM Cloud.
    #[serde(default)]
    pub ibm: VendorSettings,
    /// CTyun.
    #[serde(default)]
    pub ctyun: VendorSettings,
    /// Kingsoft Cloud.
    #[serde(default)]
    pub kingsoft: VendorSettings,
    /// UCloud.
    #[serde(default)]
    pub ucloud: VendorSettings,
}

impl VendorsSettings {
    /// The settings of one vendor.
    pub fn get(&self, vendor: Vendor) -> &VendorSettings {
        match vendor {
            Vendor::Aws => &self.aws,
            Vendor::Azure => &self.azure,
            Vendor::Gcp => &self.gcp,
            Vendor::Alibaba => &self.alibaba,
            Vendor::Tencent => &self.tencent,
            Vendor::Ibm => &self.ibm,
            Vendor::Ctyun => &self.ctyun,
            Vendor::Kingsoft => &self.kingsoft,
            Vendor::Ucloud => &self.ucloud,
        }
    }
}

/// The user centre's settings, under `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key that signs access tokens, at least 32 characters. When unset,
    /// `serve` and `demo` draw a random one, so tokens end on restart.
    pub signing_key: Option<SecretString>,
    /// Earlier signing keys whose tokens are still accepted until they
    /// expire (key rotation).
    #[serde(default)]
    pub previous_signing_keys: Vec<SecretString>,
    /// Lifetime of an access token in seconds (60 to 86400).
    pub access_ttl_seconds: u64,
}

/// The marketplace's billing, under `[billing]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    /// The marketplace issuer's name on invoices.
    pub issuer_name: String,
    /// Prefix of invoice numbers (`SY` gives `SY-000001`).
    pub invoice_prefix: String,
    /// Hours an invoice stays a draft after its period ends (0: finalised
    /// by the bill run that drafts it). Used when the issuer is created.
    pub grace_period_hours: u32,
    /// Days a usage event may arrive after it happened. Used when the
    /// issuer is created.
    pub late_window_days: u32,
    /// When bill runs close due periods (cron with seconds, UTC); run once
    /// across instances under the job lock.
    pub bill_run_schedule: String,
    /// Timezone of a customer created for a tenant on its first usage event.
    pub default_timezone: String,
}

/// Which payment provider collects invoices and top-ups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProviderKind {
    /// Bank transfers recorded by finance.
    #[default]
    Manual,
    /// Stripe (card payments, webhooks, dunning).
    Stripe,
}

/// Payments, under `[payments]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsSettings {
    /// `manual` (default) or `stripe`.
    pub provider: PaymentProviderKind,
    /// Stripe's API (a local server in tests).
    pub stripe_base_url: String,
    /// Stripe's secret API key (`sk_…`); required with `stripe`.
    pub stripe_secret_key: Option<SecretString>,
    /// The webhook endpoint's signing secret (`whsec_…`); required with `stripe`.
    pub stripe_webhook_secret: Option<SecretString>,
    /// How far a webhook signature's timestamp may be from now, in seconds (1-3600).
    pub webhook_tolerance_seconds: u64,
    /// When failed invoice payments are retried: hours after the first
    /// failure, strictly increasing. After the last the account is overdue.
    pub dunning_retry_hours: Vec<u32>,
    /// When dunning runs (cron with seconds, UTC); once across instances.
    pub dunning_schedule: String,
}

/// Catalog search, under `[search]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// Where the search index lives (`data/index` by default, beside the
    /// default SQLite database). Derived data: deleting it makes the next
    /// start rebuild it from the database.
    pub index_dir: PathBuf,
    /// The currency prices are converted to, filtered and sorted in when a
    /// request names none.
    pub default_currency: Currency,
    /// The exchange rates in force until an operator saves a table through
    /// `PUT /v1/fx-rates`; the saved table wins from then on.
    pub fx: FxTable,
    /// How often the index polls the change feed when idle, in milliseconds.
    pub poll_interval_ms: u64,
    /// Threads one query's index segments are searched on (1: the request's own).
    pub search_threads: usize,
}

/// The length every signing key must have at least.
const MIN_SIGNING_KEY_CHARS: usize = 32;

/// Everything the server and CLI can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://data/shiyun.sqlite` (default) or `postgres://user@host/db`.
    pub database_url: String,
    /// Connection pool size.
    pub database_max_connections: u32,
    /// How long a request waits for a pooled connection before it answers
    /// `unavailable`, in milliseconds.
    pub database_checkout_timeout_ms: u64,
    /// Address the HTTP server listens on.
    pub bind: SocketAddr,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
    /// Log format.
    pub log_format: LogFormat,
    /// Take the caller's IP from the last `X-Forwarded-For` hop (only behind a
    /// proxy that sets it), for rate limits and audit.
    pub trust_forwarded_for: bool,
    /// Accounts and tokens.
    pub auth: AuthSettings,
    /// Outgoing mail, under `[mail]`: `outbox_dir` (default `data/outbox`,
    /// one `.eml` file per message while no SMTP server is set), `smtp_url`
    /// (`smtps://user:password@host`), `from`.
    #[serde(default)]
    pub mail: MailSettings,
    /// Run scheduled vendor syncs, and the hourly purge of dead user-centre
    /// rows, in `serve`.
    pub run_schedules: bool,
    /// Vendor connectors.
    #[serde(default)]
    pub vendors: VendorsSettings,
    /// Catalog search.
    pub search: SearchSettings,
    /// Billing.
    pub billing: BillingSettings,
    /// Marketplace money (`[market]`): the sale currency and the minimum margin.
    #[serde(default)]
    pub market: shiyun_billing::market::MarketSettings,
    /// Payments.
    pub payments: PaymentsSettings,
    /// The deployment platform (`[deploy]`): the sealing key, builds, and
    /// the prices running applications are metered at.
    #[serde(default)]
    pub deploy: crate::deploy::DeployConfig,
}

#[derive(Serialize)]
struct Defaults {
    database_url: &'static str,
    database_max_connections: u32,
    database_checkout_timeout_ms: u64,
    bind: &'static str,
    workers: usize,
    max_body_bytes: usize,
    shutdown_timeout_seconds: u64,
    log_format: LogFormat,
    run_schedules: bool,
    trust_forwarded_for: bool,
    auth: AuthDefaults,
    search: SearchDefaults,
    billing: BillingDefaults,
    payments: PaymentsDefaults,
}

#[derive(Serialize)]
struct PaymentsDefaults {
    provider: PaymentProviderKind,
    stripe_base_url: &'static str,
    webhook_tolerance_seconds: u64,
    dunning_retry_hours: Vec<u32>,
    dunning_schedule: &'static str,
}

#[derive(Serialize)]
struct BillingDefaults {
    issuer_name: &'static str,
    invoice_prefix: &'static str,
    grace_period_hours: u32,
    late_window_days: u32,
    bill_run_schedule: &'static str,
    default_timezone: &'static str,
}

#[derive(Serialize)]
struct SearchDefaults {
    index_dir: &'static str,
    default_currency: &'static str,
    fx: FxDefaults,
    poll_interval_ms: u64,
    search_threads: usize,
}

#[derive(Serialize)]
struct FxDefaults {
    rates: Vec<RateDefault>,
}

#[derive(Serialize)]
struct RateDefault {
    from: &'static str,
    to: &'static str,
    rate: &'static str,
}

/// The built-in rates to CNY, until an operator saves a table.
const DEFAULT_FX: [(&str, &str); 4] = [
    ("USD", "7.1"),
    ("EUR", "7.7"),
    ("HKD", "0.91"),
    ("JPY", "0.047"),
];

#[derive(Serialize)]
struct AuthDefaults {
    access_ttl_seconds: u64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            database_url: "sqlite://data/shiyun.sqlite",
            database_max_connections: 8,
            database_checkout_timeout_ms: 5_000,
            bind: "127.0.0.1:8080",
            workers: 0,
            max_body_bytes: 1024 * 1024,
            shutdown_timeout_seconds: 30,
            log_format: LogFormat::Text,
            run_schedules: true,
            trust_forwarded_for: false,
            auth: AuthDefaults {
                access_ttl_seconds: 15 * 60,
            },
            search: SearchDefaults {
                index_dir: "data/index",
                default_currency: "CNY",
                fx: FxDefaults {
                    rates: DEFAULT_FX
                        .iter()
                        .map(|(from, rate)| RateDefault {
                            from,
                            to: "CNY",
                            rate,
                        })
                        .collect(),
                },
                poll_interval_ms: 50,
                search_threads: 1,
            },
            billing: BillingDefaults {
                issuer_name: "Shiyun",
                invoice_prefix: "SY",
                grace_period_hours: 0,
                late_window_days: 35,
                // Every ten minutes: a run finds nothing due most times.
                bill_run_schedule: "0 */10 * * * *",
                default_timezone: "Asia/Shanghai",
            },
            payments: PaymentsDefaults {
                provider: PaymentProviderKind::Manual,
                stripe_base_url: shiyun_payments::stripe::DEFAULT_BASE_URL,
                webhook_tolerance_seconds: 300,
                // A day, three days and a week after the first failure.
                dunning_retry_hours: vec![24, 72, 168],
                dunning_schedule: "0 */15 * * * *",
            },
        }
    }
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid settings: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Defaults, then `file` (when given; it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        Self::load_from(file, Env::prefixed("SHIYUN_"))
    }

    /// The defaults alone: no file, no environment (embedding and tests).
    pub fn defaults() -> Result<Settings, SettingsError> {
        Self::load_from(None, Env::prefixed("SHIYUN_DEFAULTS_ONLY_NEVER_SET_"))
    }

    /// As [`Settings::load`] with the environment replaced by `env` (tests).
    pub fn load_from(file: Option<&Path>, env: Env) -> Result<Settings, SettingsError> {
        let mut figment = Figment::from(Serialized::defaults(Defaults::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(SettingsError(format!(
                    "settings file {} not found",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        let env = env.ignore(NON_SETTINGS_ENV).split("__");
        let settings: Settings = figment
            .merge(env)
            .extract()
            .map_err(|e| SettingsError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The user centre's configuration from `[auth]`, signing with
    /// `signing_key` (the configured one, or one drawn at start-up).
    pub fn accounts_config(&self, signing_key: SecretString) -> AccountsConfig {
        let mut config = AccountsConfig::new(signing_key);
        config.previous_signing_keys = self.auth.previous_signing_keys.clone();
        // Validated as at most a day, so it fits.
        config.access_ttl =
            chrono::Duration::seconds(i64::try_from(self.auth.access_ttl_seconds).unwrap_or(900));
        config
    }

    /// The parsed bill-run schedule.
    pub fn bill_run_schedule(&self) -> Result<cron::Schedule, SettingsError> {
        self.billing
            .bill_run_schedule
            .parse()
            .map_err(|e| SettingsError(format!("billing.bill_run_schedule: {e}")))
    }

    /// The parsed dunning schedule.
    pub fn dunning_schedule(&self) -> Result<cron::Schedule, SettingsError> {
        self.payments
            .dunning_schedule
            .parse()
            .map_err(|e| SettingsError(format!("payments.dunning_schedule: {e}")))
    }

    /// The dunning policy of `payments.dunning_retry_hours`.
    pub fn dunning_policy(&self) -> Result<shiyun_payments::DunningPolicy, SettingsError> {
        shiyun_payments::DunningPolicy::from_hours(&self.payments.dunning_retry_hours)
            .map_err(|e| SettingsError(e.to_string()))
    }

    /// Stripe's client settings, when the provider is Stripe.
    pub fn stripe(&self) -> Result<Option<shiyun_payments::StripeSettings>, SettingsError> {
        let payments = &self.payments;
        if payments.provider != PaymentProviderKind::Stripe {
            return Ok(None);
        }
        let secret_key = payments
            .stripe_secret_key
            .clone()
            .filter(|k| !k.expose_secret().trim().is_empty())
            .ok_or_else(|| {
                SettingsError(
                    "payments.stripe_secret_key must be set with the stripe provider".into(),
                )
            })?;
        Ok(Some(shiyun_payments::StripeSettings {
            base_url: payments.stripe_base_url.clone(),
            secret_key,
        }))
    }

    /// Stripe's webhook settings, when the provider is Stripe.
    pub fn stripe_webhook(&self) -> Result<Option<shiyun_payments::StripeWebhook>, SettingsError> {
        let payments = &self.payments;
        if payments.provider != PaymentProviderKind::Stripe {
            return Ok(None);
        }
        let secret = payments
            .stripe_webhook_secret
            .clone()
            .filter(|k| !k.expose_secret().trim().is_empty())
            .ok_or_else(|| {
                SettingsError(
                    "payments.stripe_webhook_secret must be set with the stripe provider".into(),
                )
            })?;
        Ok(Some(shiyun_payments::StripeWebhook {
            secret,
            tolerance: std::time::Duration::from_secs(payments.webhook_tolerance_seconds),
        }))
    }

    /// The vendors' parsed sync schedules.
    pub fn schedules(&self) -> Result<Schedules, SettingsError> {
        Schedules::from_settings(Vendor::ALL.into_iter().map(|v| (v, self.vendors.get(v))))
            .map_err(|e| SettingsError(e.to_string()))
    }

    fn validate(&self) -> Result<(), SettingsError> {
        if self.database_checkout_timeout_ms == 0 {
            return Err(SettingsError(
                "database_checkout_timeout_ms must be at least 1".into(),
            ));
        }
        if self.database_max_connections == 0 {
            return Err(SettingsError(
                "database_max_connections must be at least 1".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(SettingsError("max_body_bytes must be at least 1024".into()));
        }
        let keys = self
            .auth
            .signing_key
            .iter()
            .map(|k| ("auth.signing_key", k));
        let previous = self
            .auth
            .previous_signing_keys
            .iter()
            .map(|k| ("auth.previous_signing_keys", k));
        for (name, key) in keys.chain(previous) {
            // A short or empty key (a template whose secret is missing) would
            // let anyone forge access tokens.
            if key.expose_secret().trim().chars().count() < MIN_SIGNING_KEY_CHARS {
                return Err(SettingsError(format!(
                    "{name} must be at least {MIN_SIGNING_KEY_CHARS} characters"
                )));
            }
        }
        if !(60..=86_400).contains(&self.auth.access_ttl_seconds) {
            return Err(SettingsError(
                "auth.access_ttl_seconds must be between 60 and 86400".into(),
            ));
        }
        if self.mail.from.trim().is_empty() {
            return Err(SettingsError("mail.from must not be empty".into()));
        }
        if self.search.poll_interval_ms == 0 || self.search.poll_interval_ms > 60_000 {
            return Err(SettingsError(
                "search.poll_interval_ms must be between 1 and 60000".into(),
            ));
        }
        if !(1..=64).contains(&self.search.search_threads) {
            return Err(SettingsError(
                "search.search_threads must be between 1 and 64".into(),
            ));
        }
        self.bill_run_schedule()?;
        if self.billing.invoice_prefix.is_empty()
            || self.billing.invoice_prefix.len() > 16
            || !self
                .billing
                .invoice_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(SettingsError(
                "billing.invoice_prefix must be 1-16 letters, digits or `-`".into(),
            ));
        }
        if !(1..=3650).contains(&self.billing.late_window_days) {
            return Err(SettingsError(
                "billing.late_window_days must be between 1 and 3650".into(),
            ));
        }
        if self
            .billing
            .default_timezone
            .parse::<chrono_tz::Tz>()
            .is_err()
        {
            return Err(SettingsError(
                "billing.default_timezone must be an IANA timezone name".into(),
            ));
        }
        if !(1..=3600).contains(&self.payments.webhook_tolerance_seconds) {
            return Err(SettingsError(
                "payments.webhook_tolerance_seconds must be between 1 and 3600".into(),
            ));
        }
        self.dunning_schedule()?;
        self.dunning_policy()?;
        self.stripe_webhook()?;
        if let Some(stripe) = self.stripe()? {
            shiyun_payments::StripeProvider::new(&stripe)
                .map_err(|e| SettingsError(e.to_string()))?;
        }
        let schedules = self.schedules()?;
        if self.run_schedules && !schedules.is_empty() && self.database_max_connections < 2 {
            // A running sync holds one connection for its lock.
            return Err(SettingsError(
                "database_max_connections must be at least 2 when vendors have schedules".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn without_env() -> Env {
        Env::prefixed("SHIYUN_TEST_NEVER_SET_")
    }

    #[test]
    fn defaults_are_the_embedded_sqlite_on_localhost() {
        let s = Settings::load_from(None, without_env()).unwrap();
        assert_eq!(s.database_url, "sqlite://data/shiyun.sqlite");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert!(s.auth.signing_key.is_none());
        assert!(!s.trust_forwarded_for);
        assert_eq!(s.mail.outbox_dir, PathBuf::from("data/outbox"));
        assert!(s.mail.smtp_url.is_none());
        assert_eq!(s.search.index_dir, PathBuf::from("data/index"));
        assert_eq!(s.search.default_currency, Currency::CNY);
        assert_eq!(
            (s.search.poll_interval_ms, s.search.search_threads),
            (50, 1)
        );
        let usd = s.search.fx.rate(Currency::USD, Currency::CNY).unwrap();
        assert_eq!(usd.rate.to_string(), "7.1");
        assert_eq!(s.search.fx.rates().len(), 4);
    }

    #[test]
    fn a_search_section_replaces_the_rates_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("search.toml");
        std::fs::write(
            &file,
            "[search]\nindex_dir = \"/srv/index\"\ndefault_currency = \"USD\"\n\
             [search.fx]\nrates = [{ from = \"CNY\", to = \"USD\", rate = \"0.14\" }]\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&file), without_env()).unwrap();
        assert_eq!(s.search.index_dir, PathBuf::from("/srv/index"));
        assert_eq!(s.search.default_currency, Currency::USD);
        assert_eq!(
            s.search.fx.rates().len(),
            1,
            "the table is replaced, not merged"
        );

        for bad in [
            "[search]\ndefault_currency = \"XXQ\"\n",
            "[search.fx]\nrates = [{ from = \"USD\", to = \"USD\", rate = \"1\" }]\n",
            "[search]\npoll_interval_ms = 0\n",
            "[search]\nsearch_threads = 0\n",
            "[search]\nindex_path = \"x\"\n",
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(
                Settings::load_from(Some(&file), without_env()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn file_values_apply_and_unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "bind = \"127.0.0.1:9999\"\n[vendors.aws]\nendpoint = \"http://127.0.0.1:1\"\nregions = [\"us-east-1\"]\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&good), without_env()).unwrap();
        assert_eq!(s.bind.port(), 9999);
        assert_eq!(s.vendors.aws.regions, vec!["us-east-1".to_string()]);

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "bnid = \"127.0.0.1:9999\"\n").unwrap();
        let err = Settings::load_from(Some(&bad), without_env()).unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");

        let bad_vendor = dir.path().join("bad_vendor.toml");
        std::fs::write(&bad_vendor, "[vendors.oracle]\nendpoint = \"x\"\n").unwrap();
        assert!(Settings::load_from(Some(&bad_vendor), without_env()).is_err());

        let missing = dir.path().join("missing.toml");
        assert!(Settings::load_from(Some(&missing), without_env()).is_err());
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail closures return figment's error"
    )]
    fn environment_overrides_file_and_nests_with_double_underscore() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("shiyun.toml", "bind = \"127.0.0.1:9000\"\n")?;
            jail.set_env("SHIYUN_BIND", "127.0.0.1:7000");
            jail.set_env("SHIYUN_DATABASE_URL", "postgres://postgres@127.0.0.1/test");
            jail.set_env("SHIYUN_VENDORS__AWS__ENDPOINT", "http://127.0.0.1:1");
            jail.set_env("SHIYUN_VENDORS__AWS__SECRET_ACCESS_KEY", "s3cr3t");
            let s = Settings::load(Some(Path::new("shiyun.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.bind.port(), 7000);
            assert!(s.database_url.starts_with("postgres://"));
            assert_eq!(
                s.vendors.aws.endpoint.as_deref(),
                Some("http://127.0.0.1:1")
            );
            assert!(
                !format!("{:?}", s.vendors.aws).contains("s3cr3t"),
                "secrets never print"
            );
            jail.set_env("SHIYUN_NO_SUCH_KEY", "1");
            assert!(
                Settings::load(None).is_err(),
                "unknown environment keys are rejected"
            );
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail closures return figment's error"
    )]
    fn stripe_needs_its_secrets_and_dunning_a_sound_schedule() {
        figment::Jail::expect_with(|jail| {
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.payments.provider, PaymentProviderKind::Manual);
            assert_eq!(s.payments.dunning_retry_hours, vec![24, 72, 168]);
            assert_eq!(s.payments.stripe_base_url, "https://api.stripe.com");
            jail.set_env("SHIYUN_PAYMENTS__PROVIDER", "stripe");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("payments.stripe_"), "{err}");
            jail.set_env("SHIYUN_PAYMENTS__STRIPE_SECRET_KEY", "sk_test_secret_value");
            jail.set_env(
                "SHIYUN_PAYMENTS__STRIPE_WEBHOOK_SECRET",
                "whsec_secret_value",
            );
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            let printed = format!("{s:?}");
            assert!(
                !printed.contains("sk_test_secret_value")
                    && !printed.contains("whsec_secret_value"),
                "secrets never print"
            );
            jail.set_env("SHIYUN_PAYMENTS__STRIPE_BASE_URL", "ftp://example.com");
            assert!(Settings::load(None).is_err());
            jail.set_env("SHIYUN_PAYMENTS__STRIPE_BASE_URL", "http://127.0.0.1:12111");
            jail.set_env("SHIYUN_PAYMENTS__DUNNING_RETRY_HOURS", "[72, 24]");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("dunning_retry_hours"), "{err}");
            jail.set_env("SHIYUN_PAYMENTS__DUNNING_RETRY_HOURS", "[1, 2, 3]");
            jail.set_env("SHIYUN_PAYMENTS__WEBHOOK_TOLERANCE_SECONDS", "0");
            assert!(Settings::load(None).is_err());
            jail.set_env("SHIYUN_PAYMENTS__WEBHOOK_TOLERANCE_SECONDS", "60");
            jail.set_env("SHIYUN_PAYMENTS__DUNNING_SCHEDULE", "hourly");
            assert!(Settings::load(None).is_err());
            jail.set_env("SHIYUN_PAYMENTS__DUNNING_SCHEDULE", "0 0 * * * *");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.payments.dunning_retry_hours, vec![1, 2, 3]);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail closures return figment's error"
    )]
    fn bad_cron_expressions_fail_at_load() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SHIYUN_VENDORS__ALIBABA__SCHEDULE", "every day");
            let err = Settings::load(None).unwrap_err();
            assert!(
                err.to_string().contains("vendors.alibaba.schedule"),
                "{err}"
            );
            jail.set_env("SHIYUN_VENDORS__ALIBABA__SCHEDULE", "0 30 3 * * *");
            let ok = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(ok.schedules().map_err(|e| e.to_string())?.iter().count(), 1);
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail closures return figment's error"
    )]
    fn short_signing_keys_and_starved_schedulers_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SHIYUN_AUTH__SIGNING_KEY", "");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("auth.signing_key"), "{err}");
            jail.set_env("SHIYUN_AUTH__SIGNING_KEY", "k".repeat(31));
            assert!(Settings::load(None).is_err());
            jail.set_env("SHIYUN_AUTH__SIGNING_KEY", "k".repeat(32));
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert!(
                !format!("{s:?}").contains(&"k".repeat(32)),
                "secrets never print"
            );
            jail.set_env("SHIYUN_AUTH__ACCESS_TTL_SECONDS", "5");
            assert!(Settings::load(None).is_err());
            jail.set_env("SHIYUN_AUTH__ACCESS_TTL_SECONDS", "600");
            jail.set_env("SHIYUN_MAIL__OUTBOX_DIR", "/tmp/shiyun-outbox");
            jail.set_env("SHIYUN_TRUST_FORWARDED_FOR", "true");
            let s = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(s.auth.access_ttl_seconds, 600);
            assert_eq!(s.mail.outbox_dir, PathBuf::from("/tmp/shiyun-outbox"));
            assert!(s.trust_forwarded_for);
            jail.set_env("SHIYUN_DATABASE_MAX_CONNECTIONS", "1");
            assert!(
                Settings::load(None).is_ok(),
                "one connection is fine without schedules"
            );
            jail.set_env("SHIYUN_VENDORS__AWS__SCHEDULE", "0 0 3 * * *");
            let err = Settings::load(None).unwrap_err();
            assert!(err.to_string().contains("at least 2"), "{err}");
            Ok(())
        });
    }
}
