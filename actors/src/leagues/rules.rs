//! The rules of a league week, pure: cohort size, who is promoted and who demoted.

use crate::domain::Tier;

/// Most learners in one cohort. Cohorts form as learners arrive: a learner joins the
/// open cohort of their tier, and the next one opens when it holds this many.
pub const COHORT_SIZE: u32 = 30;

/// Where a rank stands at the week's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Zone {
    Promotion,
    Stay,
    Demotion,
}

impl Zone {
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Promotion => "promotion",
            Zone::Stay => "stay",
            Zone::Demotion => "demotion",
        }
    }
}

/// How many of a cohort move at the week's end: the top `promoted` ranks go up a tier,
/// the last `demoted` ranks go down one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zones {
    pub promoted: u32,
    pub demoted: u32,
}

/// The zones of a cohort of `size` learners in `tier`: a fifth up (rounded up, so a
/// cohort of one who earned XP still moves up) and a fifth down (rounded down), never
/// overlapping; nobody is promoted from the top tier nor demoted from the lowest. A
/// cohort that formed late and stayed small therefore moves fewer learners.
pub fn zones(tier: Tier, size: u32) -> Zones {
    let promoted = if tier == Tier::TOP {
        0
    } else {
        size.div_ceil(5)
    };
    let demoted = if tier == Tier::FIRST { 0 } else { size / 5 };
    Zones {
        promoted,
        demoted: demoted.min(size - promoted),
    }
}

/// The zone of `rank` (1 is the top) in a cohort of `size` in `tier`.
pub fn zone(tier: Tier, rank: u32, size: u32) -> Zone {
    let zones = zones(tier, size);
    if rank <= zones.promoted {
        Zone::Promotion
    } else if rank > size.saturating_sub(zones.demoted) {
        Zone::Demotion
    } else {
        Zone::Stay
    }
}

/// The tier of the learner at `rank` next week.
pub fn tier_after(tier: Tier, rank: u32, size: u32) -> Tier {
    match zone(tier, rank, size) {
        Zone::Promotion => tier.up(),
        Zone::Stay => tier,
        Zone::Demotion => tier.down(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_cohort_moves_six_up_and_six_down() {
        assert_eq!(
            zones(Tier::Gold, 30),
            Zones {
                promoted: 6,
                demoted: 6
            }
        );
        assert_eq!(tier_after(Tier::Gold, 1, 30), Tier::Sapphire);
        assert_eq!(tier_after(Tier::Gold, 6, 30), Tier::Sapphire);
        assert_eq!(tier_after(Tier::Gold, 7, 30), Tier::Gold);
        assert_eq!(tier_after(Tier::Gold, 24, 30), Tier::Gold);
        assert_eq!(tier_after(Tier::Gold, 25, 30), Tier::Silver);
        assert_eq!(tier_after(Tier::Gold, 30, 30), Tier::Silver);
    }

    #[test]
    fn the_ends_do_not_move_past_themselves() {
        assert_eq!(zones(Tier::Bronze, 30).demoted, 0);
        assert_eq!(tier_after(Tier::Bronze, 30, 30), Tier::Bronze);
        assert_eq!(tier_after(Tier::Bronze, 1, 30), Tier::Silver);
        assert_eq!(zones(Tier::Diamond, 30).promoted, 0);
        assert_eq!(tier_after(Tier::Diamond, 1, 30), Tier::Diamond);
        assert_eq!(tier_after(Tier::Diamond, 30, 30), Tier::Emerald);
    }

    #[test]
    fn small_cohorts_move_fewer_and_zones_never_overlap() {
        assert_eq!(zone(Tier::Silver, 1, 1), Zone::Promotion);
        assert_eq!(
            zones(Tier::Silver, 4),
            Zones {
                promoted: 1,
                demoted: 0
            }
        );
        assert_eq!(
            zones(Tier::Silver, 5),
            Zones {
                promoted: 1,
                demoted: 1
            }
        );
        for tier in Tier::ALL {
            for size in 0..=COHORT_SIZE {
                let z = zones(tier, size);
                assert!(z.promoted + z.demoted <= size, "{tier} {size}");
                let moved = (1..=size)
                    .filter(|&r| zone(tier, r, size) != Zone::Stay)
                    .count();
                assert_eq!(moved as u32, z.promoted + z.demoted);
            }
        }
    }
}
