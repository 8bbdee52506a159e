//! Where an offer is: a vendor [`Region`] code and its normalised
//! [`Geography`]. The vendors' region tables live in [`crate::geography`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// Where a region is: lowercase ISO 3166 country code (or `global`) and a city slug.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Geography {
    /// `cn`, `us`, `de`, … or `global`.
    pub country: String,
    /// `shanghai`, `virginia`, … when the vendor says.
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

/// A vendor region and its normalised geography.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Region {
    /// The vendor's own code (`cn-hangzhou`, `us-east-1`, `westeurope`).
    pub code: String,
    /// Normalised geography.
    pub geography: Geography,
}

impl Region {
    /// A region, validating the code and geography.
    pub fn new(code: &str, country: &str, city: Option<&str>) -> Result<Self, ValidationError> {
        let region = Region {
            code: code.to_owned(),
            geography: Geography {
                country: country.to_owned(),
                city: city.map(str::to_owned),
            },
        };
        region.validate()?;
        Ok(region)
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
        if let Some(city) = &self.geography.city
            && !is_slug(city)
        {
            return Err(ValidationError::new(
                "region.geography.city",
                format!("`{city}` is not a lowercase slug"),
            ));
        }
        Ok(())
    }
}
