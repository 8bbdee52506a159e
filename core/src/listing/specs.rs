//! What an offer is: its [`Specs`] and [`Architecture`].

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// CPU architecture.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// x86-64 (Intel, AMD, Hygon).
    X86_64,
    /// 64-bit ARM (Graviton, Yitian, Kunpeng).
    Arm64,
    /// IBM POWER.
    Power,
}

/// Technical specs; every field is optional because not every resource has it.
///
/// JSON form, one rule for every field: exact decimals (`memory_gib`,
/// `storage_gib`, `bandwidth_mbps`) are strings (`"0.5"`, `"16"`) and are
/// read only from strings, so no float ever rounds them; counts (`vcpu`,
/// `gpu_count`) are integers; names (`gpu_model`, `os`, `engine`,
/// `engine_version`) are strings; absent fields are left out, never `null`;
/// an unknown field is refused, so a misspelt one is never dropped silently.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Specs {
    /// Virtual CPUs (an integer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpu: Option<u32>,
    /// Memory in GiB, an exact decimal as a string (`"0.5"`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "decimal_text"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>, example = "0.5"))]
    pub memory_gib: Option<Decimal>,
    /// Number of GPUs (an integer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u32>,
    /// GPU model (`NVIDIA A100`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_model: Option<String>,
    /// Included or provisioned storage in GiB, an exact decimal as a string.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "decimal_text"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>, example = "100"))]
    pub storage_gib: Option<Decimal>,
    /// Bandwidth in Mbit/s, an exact decimal as a string.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "decimal_text"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>, example = "1000"))]
    pub bandwidth_mbps: Option<Decimal>,
    /// CPU architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// Operating system or licence (`linux`, `windows`, `rhel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Database, cache or queue engine (`mysql`, `postgresql`, `redis`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The engine's version (`8.0`, `16`, `7.2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_version: Option<String>,
}

/// An optional exact decimal written and read as a JSON string.
mod decimal_text {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.collect_str(d),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|t| crate::money::parse_plain_decimal(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_are_strings_and_counts_are_integers() {
        let specs = Specs {
            vcpu: Some(2),
            memory_gib: Some(Decimal::new(5, 1)),
            gpu_count: Some(1),
            storage_gib: Some(Decimal::from(100)),
            engine: Some("mysql".into()),
            engine_version: Some("8.0".into()),
            ..Specs::default()
        };
        let value = serde_json::to_value(&specs).unwrap();
        assert_eq!(
            value,
            json!({"vcpu": 2, "memory_gib": "0.5", "gpu_count": 1, "storage_gib": "100",
                   "engine": "mysql", "engine_version": "8.0"})
        );
        assert_eq!(serde_json::from_value::<Specs>(value).unwrap(), specs);
        // A float is not an exact decimal: rejected, not rounded.
        assert!(serde_json::from_value::<Specs>(json!({"memory_gib": 0.5})).is_err());
        assert!(serde_json::from_value::<Specs>(json!({"memory_gib": "half"})).is_err());
        assert!(serde_json::from_value::<Specs>(json!({"vcpu": "2"})).is_err());
        assert_eq!(
            serde_json::from_value::<Specs>(json!({"memory_gib": null})).unwrap(),
            Specs::default()
        );
    }
}
