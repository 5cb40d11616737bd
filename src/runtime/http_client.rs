//! The one HTTP(S) client setup webhook delivery and `waitUrl` fetches share:
//! rustls over the system's CA store plus the operator's `tls_ca_file`, no
//! redirects (a redirect would leave the allow-list), a per-request timeout,
//! and errors put in words a log reader can act on.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

/// A blocking client for huddle's own threads (never a mixer or host thread).
pub fn agent(timeout: Duration, extra_roots: &[CertificateDer<'static>]) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .tls_config(tls_config(extra_roots))
        .build()
}

/// Trust: the system's CAs (Debian's ca-certificates, kept up to date by the
/// distribution rather than frozen into the library) and `extra_roots`.
fn tls_config(extra_roots: &[CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        log::warn!(target: "huddle::tls", "system CA store: {e}");
    }
    let (_, unusable) = roots.add_parsable_certificates(native.certs);
    if unusable > 0 {
        log::debug!(target: "huddle::tls", "{unusable} system CA certificate(s) not usable by rustls");
    }
    for cert in extra_roots {
        // Checked at config load, where a bad one names its file and line.
        if let Err(e) = roots.add(cert.clone()) {
            log::error!(target: "huddle::tls", "tls_ca_file: a certificate is not usable: {e}");
        }
    }
    if roots.is_empty() {
        log::warn!(target: "huddle::tls", "no CA certificates: every https:// URL will be refused");
    }
    // The ring provider explicitly: the process-wide default could be unset
    // or ambiguous inside a host that links other rustls users.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring implements TLS 1.2 and 1.3");
    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
}

/// Why a request failed, and whether trying again may help.
pub enum Failure {
    /// The server answered with this status.
    Status(u16),
    /// No answer: refused, timed out, reset, or the TLS handshake failed.
    Transport { why: String, retry: bool },
}

impl Failure {
    /// Whether a later attempt may succeed: 5xx answers and transport
    /// failures, except a certificate that is not trusted (it will not be
    /// in a few seconds either).
    pub fn retry(&self) -> bool {
        match self {
            Failure::Status(code) => *code >= 500,
            Failure::Transport { retry, .. } => *retry,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status(code) => write!(f, "HTTP {code}"),
            Failure::Transport { why, .. } => f.write_str(why),
        }
    }
}

impl From<ureq::Error> for Failure {
    fn from(e: ureq::Error) -> Failure {
        match e {
            ureq::Error::Status(code, _) => Failure::Status(code),
            ureq::Error::Transport(t) => match tls_error(&t) {
                Some(rustls::Error::InvalidCertificate(c)) => Failure::Transport {
                    why: format!("TLS: the server's certificate is not trusted ({c:?}): give its CA in [module] tls_ca_file or fix the server"),
                    retry: false,
                },
                Some(other) => Failure::Transport {
                    why: format!("TLS: {other}"),
                    retry: true,
                },
                None => Failure::Transport {
                    why: t.to_string(),
                    retry: true,
                },
            },
        }
    }
}

/// The rustls error behind a transport failure, if the handshake failed:
/// ureq wraps it in an `io::Error`, whose `source()` skips the payload.
fn tls_error(t: &ureq::Transport) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(t);
    for _ in 0..8 {
        let e = next?;
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        next = e.source();
    }
    None
}
