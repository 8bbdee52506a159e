//! Where an offer is: a vendor [`Region`] code, its normalised
//! [`Geography`], and the names a buyer knows it by. The vendors' region
//! tables live in [`crate::geography`], and [`crate::geography::region_of`]
//! fills all of it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::LocalizedText;
use crate::error::ValidationError;

/// Where a region is: lowercase ISO 3166 country code (or `global`), the
/// province or state, and a city id of the geography table.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Geography {
    /// `cn`, `us`, `de`, … or `global`.
    pub country: String,
    /// Province or state slug (`zhejiang`, `virginia`), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// City id (`shanghai`, `ashburn`, `hong-kong`), where known: the city
    /// of the data centres, or the nearest city where a vendor names only a
    /// province or an area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
}

impl fmt::Display for Geography {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.city {
            Some(city) => write!(f, "{}/{}", self.country, city),
            None => f.write_str(&self.country),
        }
    }
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A vendor region, its normalised geography and its names.
///
/// `name` and `aliases` are search text: the display names always contain
/// the city's (or nearest city's) name in both languages (`华东2（上海）`,
/// `China East 2 (Shanghai)`), and the aliases hold what else a buyer types
/// for the place (`sha`, `华东`, `us-east`). Both are empty for a code that
/// the region table does not know.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// The vendor's own code (`cn-hangzhou`, `us-east-1`, `westeurope`).
    pub code: String,
    /// Normalised geography.
    pub geography: Geography,
    /// Display name in both languages, naming the city.
    #[serde(default, skip_serializing_if = "LocalizedText::is_empty")]
    pub name: LocalizedText,
    /// Search aliases of the region and of its city (`华东`, `sha`, `us-east`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

impl Region {
    /// A region without names, validating the code and geography. Regions
    /// of the table come from [`crate::geography::region_of`] with their names.
    pub fn new(code: &str, country: &str, city: Option<&str>) -> Result<Self, ValidationError> {
        let region = Region {
            code: code.to_owned(),
            geography: Geography {
                country: country.to_owned(),
                province: None,
                city: city.map(str::to_owned),
            },
            name: LocalizedText::default(),
            aliases: Vec::new(),
        };
        region.validate()?;
        Ok(region)
    }

    /// The text a search indexes for the region: code, names and aliases,
    /// separated by spaces.
    pub fn search_text(&self) -> String {
        let mut text = self.code.clone();
        for part in [&self.name.zh, &self.name.en].into_iter().flatten() {
            text.push(' ');
            text.push_str(part);
        }
        for alias in &self.aliases {
            text.push(' ');
            text.push_str(alias);
        }
        text
    }

    pub(super) fn validate(&self) -> Result<(), ValidationError> {
        if self.code.trim().is_empty() || self.code.len() > 64 {
            return Err(ValidationError::new(
                "region.code",
                "must be 1 to 64 characters",
            ));
        }
        let country_ok = self.geography.country == "global"
            || (self.geography.country.len() == 2
                && self
                    .geography
                    .country
                    .bytes()
                    .all(|b| b.is_ascii_lowercase()));
        if !country_ok {
            return Err(ValidationError::new(
                "region.geography.country",
                format!(
                    "`{}` is not a lowercase ISO 3166 code or `global`",
                    self.geography.country
                ),
            ));
        }
        for (field, slug) in [
            ("region.geography.city", &self.geography.city),
            ("region.geography.province", &self.geography.province),
        ] {
            if let Some(slug) = slug
                && !is_slug(slug)
            {
                return Err(ValidationError::new(
                    field,
                    format!("`{slug}` is not a lowercase slug"),
                ));
            }
        }
        for (field, text) in [
            ("region.name.en", &self.name.en),
            ("region.name.zh", &self.name.zh),
        ] {
            if let Some(text) = text
                && (text.trim().is_empty() || super::longer_than(text, 128))
            {
                return Err(ValidationError::new(field, "must be 1 to 128 characters"));
            }
        }
        if self.aliases.len() > 64
            || self
                .aliases
                .iter()
                .any(|a| a.trim().is_empty() || super::longer_than(a, 64))
        {
            return Err(ValidationError::new(
                "region.aliases",
                "at most 64 aliases of 1 to 64 characters",
            ));
        }
        Ok(())
    }
}
