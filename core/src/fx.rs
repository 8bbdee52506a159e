//! Exchange rates: a table of exact [`FxRate`]s that search uses to sort
//! and filter prices in a requested currency (and that orders will lock).
//!
//! A rate says that one unit of `from` is worth `rate` units of `to`, an
//! exact decimal of at most [`FxTable::MAX_SCALE`] places. The table never
//! chains rates through a third currency: a conversion uses the pair as
//! given, or the inverse of the opposite pair, rounded half-up to
//! [`FxTable::MAX_SCALE`] places; [`AppliedRate::inverse_of`] says which.

use chrono::{DateTime, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::money::Currency;

/// One unit of `from` is worth `rate` units of `to`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxRate {
    /// The currency converted from.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "USD"))]
    pub from: Currency,
    /// The currency converted to.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "CNY"))]
    pub to: Currency,
    /// Units of `to` per unit of `from`: positive, at most 12 decimal places.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString, example = "7.1"))]
    pub rate: Decimal,
}

/// A validated table of rates, one per ordered pair at most.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FxTableData")]
pub struct FxTable {
    /// The rates, sorted by pair.
    rates: Vec<FxRate>,
    /// When the rates were taken, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    as_of: Option<DateTime<Utc>>,
}

/// The plain shape of an [`FxTable`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FxTableData {
    /// The rates.
    pub rates: Vec<FxRate>,
    /// When the rates were taken, if known.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
}

impl TryFrom<FxTableData> for FxTable {
    type Error = ValidationError;
    fn try_from(data: FxTableData) -> Result<Self, Self::Error> {
        FxTable::new(data.rates, data.as_of)
    }
}

/// The rate a conversion used, as responses report it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppliedRate {
    /// The currency converted from.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub from: Currency,
    /// The currency converted to.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub to: Currency,
    /// Units of `to` per unit of `from`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DecimalString))]
    pub rate: Decimal,
    /// Set when the table holds only the opposite pair: this rate is its
    /// inverse, rounded half-up to 12 places.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::DecimalString>))]
    pub inverse_of: Option<Decimal>,
}

impl FxTable {
    /// Most decimal places a rate may have.
    pub const MAX_SCALE: u32 = 12;

    /// A table of `rates`: each positive with at most 12 places, `from`
    /// unlike `to`, no pair twice.
    pub fn new(
        mut rates: Vec<FxRate>,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Self, ValidationError> {
        for (i, rate) in rates.iter_mut().enumerate() {
            let field = format!("rates[{i}]");
            if rate.from == rate.to {
                return Err(ValidationError::new(
                    format!("{field}.to"),
                    "must differ from `from`",
                ));
            }
            if rate.rate <= Decimal::ZERO {
                return Err(ValidationError::new(
                    format!("{field}.rate"),
                    "must be positive",
                ));
            }
            rate.rate = rate.rate.normalize();
            if rate.rate.scale() > Self::MAX_SCALE {
                return Err(ValidationError::new(
                    format!("{field}.rate"),
                    "must have at most 12 decimal places",
                ));
            }
        }
        rates.sort_by_key(|r| (r.from, r.to));
        if let Some(pair) = rates
            .windows(2)
            .find(|w| (w[0].from, w[0].to) == (w[1].from, w[1].to))
        {
            return Err(ValidationError::new(
                "rates",
                format!("{}/{} is given twice", pair[0].from, pair[0].to),
            ));
        }
        Ok(FxTable { rates, as_of })
    }

    /// The rates, sorted by pair.
    pub fn rates(&self) -> &[FxRate] {
        &self.rates
    }

    /// When the rates were taken, if known.
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// The rate from `from` to `to`: 1 for the same currency, the pair as
    /// given, or the inverse of the opposite pair; `None` when neither is
    /// in the table.
    pub fn rate(&self, from: Currency, to: Currency) -> Option<AppliedRate> {
        if from == to {
            return Some(AppliedRate {
                from,
                to,
                rate: Decimal::ONE,
                inverse_of: None,
            });
        }
        if let Some(direct) = self.find(from, to) {
            return Some(AppliedRate {
                from,
                to,
                rate: direct,
                inverse_of: None,
            });
        }
        let opposite = self.find(to, from)?;
        let inverse = (Decimal::ONE / opposite)
            .round_dp_with_strategy(Self::MAX_SCALE, RoundingStrategy::MidpointAwayFromZero)
            .normalize();
        (!inverse.is_zero()).then_some(AppliedRate {
            from,
            to,
            rate: inverse,
            inverse_of: Some(opposite),
        })
    }

    fn find(&self, from: Currency, to: Currency) -> Option<Decimal> {
        self.rates
            .binary_search_by_key(&(from, to), |r| (r.from, r.to))
            .ok()
            .map(|i| self.rates[i].rate)
    }

    /// The plain data back.
    pub fn into_data(self) -> FxTableData {
        FxTableData {
            rates: self.rates,
            as_of: self.as_of,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn rate(from: Currency, to: Currency, rate: Decimal) -> FxRate {
        FxRate { from, to, rate }
    }

    #[test]
    fn a_pair_is_used_as_given_or_inverted_never_chained() {
        let table =
            FxTable::new(vec![rate(Currency::USD, Currency::CNY, dec!(7.1))], None).unwrap();
        let direct = table.rate(Currency::USD, Currency::CNY).unwrap();
        assert_eq!((direct.rate, direct.inverse_of), (dec!(7.1), None));
        let inverse = table.rate(Currency::CNY, Currency::USD).unwrap();
        assert_eq!(inverse.rate, dec!(0.140845070423));
        assert_eq!(inverse.inverse_of, Some(dec!(7.1)));
        assert_eq!(
            table.rate(Currency::EUR, Currency::EUR).unwrap().rate,
            Decimal::ONE
        );
        assert!(table.rate(Currency::EUR, Currency::CNY).is_none());
    }

    #[test]
    fn bad_tables_are_refused_with_the_field() {
        let zero = FxTable::new(vec![rate(Currency::USD, Currency::CNY, dec!(0))], None);
        assert_eq!(zero.unwrap_err().field_name(), "rates[0].rate");
        let same = FxTable::new(vec![rate(Currency::USD, Currency::USD, dec!(1))], None);
        assert_eq!(same.unwrap_err().field_name(), "rates[0].to");
        let fine = FxTable::new(
            vec![rate(Currency::USD, Currency::CNY, dec!(7.1234567890125))],
            None,
        );
        assert_eq!(fine.unwrap_err().field_name(), "rates[0].rate");
        let twice = FxTable::new(
            vec![
                rate(Currency::USD, Currency::CNY, dec!(7)),
                rate(Currency::USD, Currency::CNY, dec!(7.2)),
            ],
            None,
        );
        assert_eq!(twice.unwrap_err().field_name(), "rates");
        let json = serde_json::json!({"rates": [{"from": "USD", "to": "CNY", "rate": "-1"}]});
        assert!(serde_json::from_value::<FxTable>(json).is_err());
    }
}
