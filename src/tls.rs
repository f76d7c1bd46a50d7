//! TLS set-up shared by every HTTPS client in the process.

/// Installs rustls's ring crypto provider as the process default. reqwest is built
/// without a provider of its own (to avoid a second, C-built one), so this must run
/// before any `reqwest::Client` is built; calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
