//! Password hashing: argon2id with OWASP's recommended parameters, stored as PHC
//! strings so the parameters travel with each hash and can be raised later.

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

/// OWASP's argon2id baseline: 19 MiB of memory, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// A hash of a random password, verified against when the account does not exist, so a
/// sign-in for an unknown email takes as long as one for a known email.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    hasher()
        .hash_password(b"questpath timing equaliser")
        .ok()
        .map(|h| h.to_string())
});

/// Hashing failed; only a bug or resource exhaustion can cause it.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// The threads that hash and verify: one per core. Each hash holds 19 MiB and a core for
/// tens of milliseconds, so a burst of sign-ins (a class logging in, a load test's set-up)
/// on tokio's blocking pool ran hundreds at once: gigabytes resident and every core
/// taken. Here callers wait their turn, and each thread's allocator keeps the 19 MiB it
/// freed for its next hash: at most `cores x 19 MiB` is ever held, and no hash pays for
/// fresh pages (sign-ins went from 60 to about 100 a second: `docs/performance.md`).
static HASHING: LazyLock<Option<rayon::ThreadPool>> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("argon2-{i}"))
        // A panic fails that one call (its answer channel closes) instead of the process.
        .panic_handler(|_| tracing::error!("a password hash panicked"))
        .build()
        .inspect_err(|e| tracing::error!(error = %e, "no password hashing threads"))
        .ok()
});

/// Runs `work` on the hashing threads, after the calls queued before it.
async fn on_hashing_pool<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let pool = HASHING
        .as_ref()
        .ok_or_else(|| HashError("no password hashing threads".into()))?;
    let (answer, answered) = tokio::sync::oneshot::channel();
    pool.spawn(move || {
        #[cfg(test)]
        let _running = tests::Running::start();
        let _ = answer.send(work());
    });
    answered
        .await
        .map_err(|_| HashError("the password hash did not finish".into()))
}

/// Hashes on the hashing threads: argon2 takes tens of milliseconds of CPU by design.
pub async fn hash(password: String) -> Result<String, HashError> {
    on_hashing_pool(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    })
    .await?
}

/// Outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but hashed with weaker parameters than today's: re-hash and store.
    YesRehash,
}

/// Checks `password` against `phc` (or against a dummy hash when there is no account
/// or no password, always answering `No`), on the hashing threads.
pub async fn verify(password: String, phc: Option<String>) -> Verified {
    let result = on_hashing_pool(move || {
        let (hash, real) = match phc {
            Some(phc) => (phc, true),
            None => (DUMMY_HASH.clone().unwrap_or_default(), false),
        };
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return Verified::No;
        };
        let ok = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        match (ok && real, needs_rehash(&parsed)) {
            (false, _) => Verified::No,
            (true, true) => Verified::YesRehash,
            (true, false) => Verified::Yes,
        }
    })
    .await;
    result.unwrap_or(Verified::No)
}

/// True when the hash was made with another algorithm or weaker parameters.
fn needs_rehash(hash: &PasswordHash) -> bool {
    let current = Params::default();
    if hash.algorithm.as_str() != Algorithm::Argon2id.as_str() {
        return true;
    }
    match Params::try_from(hash) {
        Ok(p) => {
            p.m_cost() < current.m_cost()
                || p.t_cost() < current.t_cost()
                || p.p_cost() < current.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static MOST_AT_ONCE: AtomicUsize = AtomicUsize::new(0);

    /// Counts a hash or verification while it runs.
    pub(super) struct Running;

    impl Running {
        pub(super) fn start() -> Running {
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            MOST_AT_ONCE.fetch_max(now, Ordering::SeqCst);
            Running
        }
    }

    impl Drop for Running {
        fn drop(&mut self) {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_sign_ins_hashes_one_per_core_at_a_time() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let burst: Vec<_> = (0..cores * 4)
            .map(|n| tokio::spawn(verify(format!("password {n}"), None)))
            .collect();
        for sign_in in burst {
            assert_eq!(sign_in.await.unwrap(), Verified::No);
        }
        // Other tests of this module may hash at the same time; none exceeds the bound.
        let most = MOST_AT_ONCE.load(Ordering::SeqCst);
        assert!(
            (1..=cores).contains(&most),
            "{most} at once on {cores} cores"
        );
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            verify("correct horse battery".into(), Some(phc.clone())).await,
            Verified::Yes
        );
        assert_eq!(
            verify("wrong horse battery".into(), Some(phc)).await,
            Verified::No
        );
    }

    #[tokio::test]
    async fn no_account_never_verifies() {
        assert_eq!(
            verify("questpath timing equaliser".into(), None).await,
            Verified::No
        );
    }

    #[tokio::test]
    async fn weaker_hashes_ask_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery")
        .unwrap()
        .to_string();
        assert_eq!(
            verify("correct horse battery".into(), Some(weak)).await,
            Verified::YesRehash
        );
    }

    #[tokio::test]
    async fn garbage_hashes_do_not_verify() {
        assert_eq!(
            verify("x".into(), Some("not a phc".into())).await,
            Verified::No
        );
    }
}
