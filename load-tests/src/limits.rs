//! The generator's own file-descriptor limit. Every socket is a descriptor, and the
//! usual soft limit (1,024 or 20,000 here) is far below the sockets a run opens, so the
//! run raises its limit first and says what it got.

use rlimit::Resource;
use serde::Serialize;

/// The limit before and after raising it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FdLimit {
    pub wanted: u64,
    pub soft_before: u64,
    pub hard_before: u64,
    pub soft: u64,
    pub hard: u64,
}

impl FdLimit {
    /// True when the soft limit covers what the run wanted.
    pub fn sufficient(&self) -> bool {
        self.soft >= self.wanted
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        let verdict = if self.sufficient() {
            "enough".to_string()
        } else {
            format!(
                "NOT enough: at most about {} sockets can be open in this process (the hard \
                 limit and fs.nr_open cap it; raise them as root to go further)",
                self.soft.saturating_sub(64)
            )
        };
        format!(
            "file-descriptor limit raised from {} (hard {}) to {} (hard {}) for {} wanted: {verdict}",
            self.soft_before, self.hard_before, self.soft, self.hard, self.wanted
        )
    }
}

/// Raises the soft limit on open files to `wanted`: up to the hard limit always, and
/// past it when the process may (root, up to `fs.nr_open`). Never lowers it.
pub fn raise_nofile(wanted: u64) -> std::io::Result<FdLimit> {
    let (soft_before, hard_before) = rlimit::getrlimit(Resource::NOFILE)?;
    if soft_before < wanted && hard_before < wanted {
        // Only a privileged process gets past its hard limit; failing is fine, the
        // fallback below takes what the hard limit allows.
        let _ = rlimit::setrlimit(Resource::NOFILE, wanted, wanted);
    }
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE)?;
    if soft < wanted {
        let _ = rlimit::setrlimit(Resource::NOFILE, wanted.min(hard), hard);
    }
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE)?;
    Ok(FdLimit {
        wanted,
        soft_before,
        hard_before,
        soft,
        hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_to_a_small_limit_never_lowers_it() {
        let limit = raise_nofile(64).unwrap();
        assert!(limit.soft >= limit.soft_before.min(64));
        assert!(limit.soft >= 64);
        assert!(limit.sufficient());
    }
}
