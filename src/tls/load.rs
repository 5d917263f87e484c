//! `[server.tls]` read and checked: the certificate chain, its private key (which must match
//! the certificate), the client CA when one is set, and the versions offered, built into one
//! rustls `ServerConfig` offering ALPN `h2` and `http/1.1`. Every file's mistakes are reported
//! together, each naming its key and path, as `check-config`, `serve` and a reload show them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{NoClientAuth, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
use rustls::{InconsistentKeys, RootCertStore, ServerConfig, SupportedProtocolVersion};
// x509-cert (RustCrypto) reads the leaf's notAfter and subject: rustls-webpki parses the
// certificate too but keeps its validity private, and x509-parser would bring nom and asn1-rs
// for two fields. x509-cert needs only der, spki and const-oid, and is maintained with them.
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::config::{Config, ConfigError, TlsConfig, TlsVersion};

/// What ALPN offers, in the server's order of preference.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

const CERT_FILE: &str = "server.tls.cert_file";
const KEY_FILE: &str = "server.tls.key_file";
const CLIENT_CA_FILE: &str = "server.tls.client_ca_file";
const MIN_VERSION: &str = "server.tls.min_version";

/// `[server.tls]` loaded: the rustls configuration new connections are accepted with, and what
/// operators are told about its certificate.
#[derive(Clone, Debug)]
pub struct LoadedTls {
    server: Arc<ServerConfig>,
    /// The leaf certificate's notAfter, in seconds since the Unix epoch.
    not_after: u64,
    /// The leaf certificate's subject, as RFC 4514 writes it.
    subject: String,
}

impl LoadedTls {
    /// The rustls configuration a handshake is accepted with.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }

    /// When the served certificate expires, in seconds since the Unix epoch.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Whether the served certificate has expired by now.
    pub fn expired(&self) -> bool {
        unix_now() > self.not_after
    }

    /// One line for operators: whose certificate it is and when it expires.
    pub fn describe(&self) -> String {
        let expires = i64::try_from(self.not_after)
            .ok()
            .and_then(|at| chrono::DateTime::from_timestamp(at, 0))
            .map_or_else(|| self.not_after.to_string(), |at| at.to_rfc3339());
        let expired = if self.expired() { " (EXPIRED)" } else { "" };
        format!("certificate `{}`, expires {expires}{expired}", self.subject)
    }
}

/// Reads and checks every file of `[server.tls]`: `None` without that table. Each error names
/// its key and the path it read.
pub fn load(config: &Config) -> Result<Option<LoadedTls>, Vec<ConfigError>> {
    let Some(tls) = &config.server.tls else {
        return Ok(None);
    };
    let files = Files(config);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = files.chain(&tls.cert_file);
    let key = files.key(&tls.key_file, &provider);
    let verifier = match &tls.client_ca_file {
        Some(path) => files.client_verifier(path, &provider).map(Some),
        None => Ok(None),
    };
    let (chain, key, verifier) = match (chain, key, verifier) {
        (Ok(chain), Ok(key), Ok(verifier)) => (chain, key, verifier),
        (chain, key, verifier) => {
            let errors = [chain.err(), key.err(), verifier.err()];
            return Err(errors.into_iter().flatten().collect());
        }
    };
    let certified = CertifiedKey::new(chain.certificates, key);
    files
        .check_match(tls, &certified)
        .map_err(|error| vec![error])?;
    let server = server_config(tls, provider, verifier, certified)
        .map_err(|e| vec![files.error(MIN_VERSION, e.to_string())])?;
    Ok(Some(LoadedTls {
        server: Arc::new(server),
        not_after: chain.not_after,
        subject: chain.subject,
    }))
}

/// The versions from `min_version` up, the client verifier, the certificate and ALPN.
fn server_config(
    tls: &TlsConfig,
    provider: Arc<CryptoProvider>,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    certified: CertifiedKey,
) -> Result<ServerConfig, rustls::Error> {
    let versions: &[&SupportedProtocolVersion] = match tls.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let verifier = verifier.unwrap_or_else(|| Arc::new(NoClientAuth));
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
    server.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(server)
}

/// The certificate chain of `cert_file`, and what its leaf says.
struct Chain {
    certificates: Vec<CertificateDer<'static>>,
    not_after: u64,
    subject: String,
}

/// Reads the files `[server.tls]` names, each error under its key.
struct Files<'a>(&'a Config);

impl Files<'_> {
    fn path(&self, key: &str, path: &Path) -> PathBuf {
        self.0.source.resolve(key, path)
    }

    fn error(&self, key: &str, message: String) -> ConfigError {
        self.0.source.error(key, message)
    }

    /// The file's bytes and its resolved path.
    fn read(&self, key: &str, path: &Path) -> Result<(Vec<u8>, PathBuf), ConfigError> {
        if path.as_os_str().is_empty() {
            return Err(self.error(key, "must name a PEM file".to_owned()));
        }
        let path = self.path(key, path);
        match std::fs::read(&path) {
            Ok(bytes) => Ok((bytes, path)),
            Err(e) => Err(self.error(key, format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Every certificate of a PEM file, at least one.
    fn certificates(
        &self,
        key: &str,
        path: &Path,
    ) -> Result<(Vec<CertificateDer<'static>>, PathBuf), ConfigError> {
        let (bytes, path) = self.read(key, path)?;
        let certificates = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(key, format!("{}: {}", path.display(), pem_error(&e))))?;
        if certificates.is_empty() {
            let message = format!(
                "{} holds no certificate (a PEM `BEGIN CERTIFICATE` block)",
                path.display()
            );
            return Err(self.error(key, message));
        }
        Ok((certificates, path))
    }

    /// `cert_file`: the leaf first, then its intermediates.
    fn chain(&self, path: &Path) -> Result<Chain, ConfigError> {
        let (certificates, path) = self.certificates(CERT_FILE, path)?;
        let leaf = Certificate::from_der(&certificates[0]).map_err(|e| {
            let message = format!(
                "the first certificate in {} is not an X.509 certificate: {e}",
                path.display()
            );
            self.error(CERT_FILE, message)
        })?;
        let tbs = leaf.tbs_certificate();
        Ok(Chain {
            not_after: tbs.validity().not_after.to_unix_duration().as_secs(),
            subject: tbs.subject().to_string(),
            certificates,
        })
    }

    /// The key must be the certificate's: else every handshake would fail.
    fn check_match(&self, tls: &TlsConfig, certified: &CertifiedKey) -> Result<(), ConfigError> {
        let (cert, key) = (
            self.path(CERT_FILE, &tls.cert_file),
            self.path(KEY_FILE, &tls.key_file),
        );
        match certified.keys_match() {
            // The provider could not tell the key's public half: the handshake will tell.
            Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
            Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                let message = format!(
                    "the key in {} does not match the certificate in {}",
                    key.display(),
                    cert.display()
                );
                Err(self.error(KEY_FILE, message))
            }
            Err(e) => {
                let message = format!("the certificate in {} cannot be used: {e}", cert.display());
                Err(self.error(CERT_FILE, message))
            }
        }
    }

    /// `key_file`: the first private key in it, loaded by the provider that will sign with it.
    fn key(
        &self,
        path: &Path,
        provider: &CryptoProvider,
    ) -> Result<Arc<dyn SigningKey>, ConfigError> {
        let (bytes, path) = self.read(KEY_FILE, path)?;
        let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
            let problem = match e {
                pem::Error::NoItemsFound => "holds no private key (an unencrypted PEM `BEGIN \
                     PRIVATE KEY`, `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` block)"
                    .to_owned(),
                other => pem_error(&other),
            };
            self.error(KEY_FILE, format!("{} {problem}", path.display()))
        })?;
        provider.key_provider.load_private_key(key).map_err(|e| {
            let message = format!("{} holds a key that cannot be used: {e}", path.display());
            self.error(KEY_FILE, message)
        })
    }

    /// `client_ca_file`: a client must present a certificate signed by one of its CAs.
    fn client_verifier(
        &self,
        path: &Path,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ClientCertVerifier>, ConfigError> {
        let (certificates, path) = self.certificates(CLIENT_CA_FILE, path)?;
        let mut roots = RootCertStore::empty();
        for (i, certificate) in certificates.into_iter().enumerate() {
            roots.add(certificate).map_err(|e| {
                let message = format!(
                    "certificate {} in {} is not a usable CA certificate: {e}",
                    i + 1,
                    path.display()
                );
                self.error(CLIENT_CA_FILE, message)
            })?;
        }
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| self.error(CLIENT_CA_FILE, format!("{}: {e}", path.display())))
    }
}

/// A PEM mistake in words (rustls-pki-types prints the bytes of a bad line as numbers).
fn pem_error(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no END line".to_owned(),
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".to_owned(),
        pem::Error::Base64Decode(_) => "a PEM block is not valid base64".to_owned(),
        other => format!("not PEM: {other}"),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
