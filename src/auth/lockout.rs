//! Brute-force protection for password sign-in: failures are counted per account and
//! per client address; a few failures slow the answers down, more lock sign-in for a
//! while, doubling with each further failure. Unknown emails are counted the same way,
//! so the answers never reveal whether an account exists.

use std::time::Duration as StdDuration;

use chrono::Duration;

/// Failures are counted within this window from the first one.
pub const WINDOW: Duration = Duration::minutes(15);

/// Failures on one account before it locks.
pub const ACCOUNT_LOCK_AFTER: u32 = 5;
/// Failures from one address before it locks (several people may share an address).
pub const ADDRESS_LOCK_AFTER: u32 = 20;
/// First lock; each further failure doubles it, up to [`MAX_LOCK`].
pub const FIRST_LOCK: Duration = Duration::seconds(30);
pub const MAX_LOCK: Duration = Duration::minutes(15);

/// Lock duration for an account after `count` failures.
pub fn account_lock(count: u32) -> Option<Duration> {
    lock_after(count, ACCOUNT_LOCK_AFTER)
}

/// Lock duration for a client address after `count` failures.
pub fn address_lock(count: u32) -> Option<Duration> {
    lock_after(count, ADDRESS_LOCK_AFTER)
}

fn lock_after(count: u32, threshold: u32) -> Option<Duration> {
    if count < threshold {
        return None;
    }
    let doublings = (count - threshold).min(10);
    let lock = FIRST_LOCK * 2_i32.pow(doublings);
    Some(lock.min(MAX_LOCK))
}

/// Delay added to a failed answer before the lock: 0 for the first two failures, then
/// 250 ms more per failure, at most 1 s.
pub fn slow_down(account_failures: u32) -> StdDuration {
    let steps = account_failures.saturating_sub(2).min(4);
    StdDuration::from_millis(250 * u64::from(steps))
}

/// Store key of an account's failures.
pub fn account_key(email: &str) -> String {
    format!("account:{email}")
}

/// Store key of a client address's failures.
pub fn address_key(ip: &str) -> String {
    format!("ip:{ip}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_lock_after_five_failures_doubling_up_to_fifteen_minutes() {
        assert_eq!(account_lock(4), None);
        assert_eq!(account_lock(5), Some(Duration::seconds(30)));
        assert_eq!(account_lock(6), Some(Duration::seconds(60)));
        assert_eq!(account_lock(9), Some(Duration::seconds(480)));
        assert_eq!(account_lock(10), Some(Duration::minutes(15)));
        assert_eq!(account_lock(1000), Some(Duration::minutes(15)));
    }

    #[test]
    fn answers_slow_down_before_the_lock() {
        assert_eq!(slow_down(1), StdDuration::ZERO);
        assert_eq!(slow_down(3), StdDuration::from_millis(250));
        assert_eq!(slow_down(4), StdDuration::from_millis(500));
        assert_eq!(slow_down(50), StdDuration::from_millis(1000));
    }

    #[test]
    fn addresses_tolerate_more_failures() {
        assert_eq!(address_lock(19), None);
        assert_eq!(address_lock(20), Some(Duration::seconds(30)));
    }
}
