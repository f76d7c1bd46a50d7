//! League tiers, lowest first. A value stored with every league membership and result,
//! so its names (`bronze` ... `diamond`) are part of the stored format and the API.

use serde::{Deserialize, Serialize};

/// A league tier. Learners start in [`Tier::Bronze`]; each week the top of a cohort
/// moves one tier up and the bottom one tier down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
    Sapphire,
    Ruby,
    Emerald,
    Diamond,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 7] = [
        Tier::Bronze,
        Tier::Silver,
        Tier::Gold,
        Tier::Sapphire,
        Tier::Ruby,
        Tier::Emerald,
        Tier::Diamond,
    ];

    /// Where a learner with no league history starts.
    pub const FIRST: Tier = Tier::Bronze;

    /// The top tier: nobody is promoted out of it.
    pub const TOP: Tier = Tier::Diamond;

    /// `bronze`, ..., `diamond`: how the tier is stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Bronze => "bronze",
            Tier::Silver => "silver",
            Tier::Gold => "gold",
            Tier::Sapphire => "sapphire",
            Tier::Ruby => "ruby",
            Tier::Emerald => "emerald",
            Tier::Diamond => "diamond",
        }
    }

    pub fn parse(text: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// 0 for Bronze up to 6 for Diamond (the embedded store's key).
    pub fn index(self) -> u8 {
        self as u8
    }

    pub fn from_index(index: u8) -> Option<Tier> {
        Tier::ALL.get(usize::from(index)).copied()
    }

    /// One tier up; the top tier stays.
    pub fn up(self) -> Tier {
        Tier::from_index(self.index() + 1).unwrap_or(self)
    }

    /// One tier down; the lowest stays.
    pub fn down(self) -> Tier {
        self.index()
            .checked_sub(1)
            .and_then(Tier::from_index)
            .unwrap_or(self)
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_round_trip_and_stop_at_the_ends() {
        for (i, tier) in Tier::ALL.into_iter().enumerate() {
            assert_eq!(Tier::parse(tier.as_str()), Some(tier));
            assert_eq!(Tier::from_index(i as u8), Some(tier));
            assert_eq!(
                serde_json::to_string(&tier).unwrap(),
                format!("\"{}\"", tier.as_str())
            );
        }
        assert_eq!(Tier::Bronze.down(), Tier::Bronze);
        assert_eq!(Tier::Bronze.up(), Tier::Silver);
        assert_eq!(Tier::Diamond.up(), Tier::Diamond);
        assert_eq!(Tier::Diamond.down(), Tier::Emerald);
        assert_eq!(Tier::parse("wood"), None);
    }
}
