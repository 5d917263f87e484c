//! The TLS configuration the public listener accepts with, swappable while it runs: every new
//! connection takes the current one when its handshake starts, so a reload changes the
//! certificate for the next connection and never touches one already open.

use std::fmt;
use std::sync::Arc;

use ::metrics::Gauge;
use arc_swap::ArcSwap;
use tokio_rustls::TlsAcceptor;

use super::LoadedTls;
use crate::metrics::Metrics;

/// The public listener's current TLS configuration, and the expiry gauge that follows it.
/// Cheap to clone: clones share the configuration.
#[derive(Clone)]
pub struct LiveTls {
    current: Arc<ArcSwap<LoadedTls>>,
    /// `flowgate_tls_cert_expiry_timestamp_seconds`: the served certificate's notAfter.
    expiry: Gauge,
}

impl LiveTls {
    /// Serves `loaded`, and exports its certificate's expiry from now on.
    pub fn new(loaded: LoadedTls, metrics: &Metrics) -> LiveTls {
        let live = LiveTls {
            current: Arc::new(ArcSwap::from_pointee(loaded)),
            expiry: metrics.tls_cert_expiry(),
        };
        live.announce(&live.current.load());
        live
    }

    /// Serves `loaded` to every connection whose handshake starts from now on.
    pub fn replace(&self, loaded: LoadedTls) {
        let loaded = Arc::new(loaded);
        self.current.store(loaded.clone());
        self.announce(&loaded);
    }

    /// What a new connection's handshake is accepted with: the configuration current now.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load().server_config())
    }

    /// The configuration served now.
    pub fn current(&self) -> Arc<LoadedTls> {
        self.current.load_full()
    }

    /// Sets the gauge, and says which certificate is served (loudly when it has expired).
    fn announce(&self, loaded: &LoadedTls) {
        // Seconds since the epoch fit a float's 53 bits exactly until the year 285 million.
        self.expiry.set(loaded.not_after() as f64);
        let certificate = loaded.describe();
        if loaded.expired() {
            tracing::warn!(%certificate, "the public listener serves an expired TLS certificate");
        } else {
            tracing::info!(%certificate, "the public listener serves TLS");
        }
    }
}

impl fmt::Debug for LiveTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveTls")
            .field("current", &self.current.load().describe())
            .finish()
    }
}
