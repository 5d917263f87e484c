use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

use super::*;
use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;

/// A CA of the tests' own, and what it signs.
struct TestCa(CertifiedIssuer<'static, KeyPair>);

/// A certificate and its key, both PEM.
struct Issued {
    cert: String,
    key: String,
    der: CertificateDer<'static>,
    not_after: u64,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a CA key");
        TestCa(CertifiedIssuer::self_signed(params, key).expect("a CA certificate"))
    }

    /// A server certificate for `localhost`, expiring at the start of `year`.
    fn server(&self, name: &str, year: i32) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.0).expect("a certificate");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().clone(),
            not_after: params
                .not_after
                .unix_timestamp()
                .try_into()
                .expect("after 1970"),
        }
    }

    fn pem(&self) -> String {
        self.0.pem()
    }
}

/// `[server.tls]` of `table`, with `files` written next to the config, loaded.
fn load_with(table: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write a file");
    }
    let path = dir.path().join("config.toml");
    std::fs::write(&path, format!("[server.tls]\n{table}")).expect("write config");
    let config = Config::load_with_env(&path, []).expect("the config loads");
    (dir, config)
}

const TABLE: &str = "cert_file = \"server.crt\"\nkey_file = \"server.key\"\n";

fn errors(table: &str, files: &[(&str, &str)]) -> Vec<ConfigError> {
    let (_dir, config) = load_with(table, files);
    load(&config).expect_err("the TLS files must be refused")
}

/// The one error under `key`, whose message must contain `words`.
fn assert_error(errors: &[ConfigError], key: &str, words: &str) {
    let found: Vec<&ConfigError> = errors.iter().filter(|e| e.key == key).collect();
    assert_eq!(found.len(), 1, "one error under {key}: {errors:#?}");
    assert!(found[0].message.contains(words), "{}", found[0]);
}

#[test]
fn without_the_table_there_is_nothing_to_load() {
    let config = Config::default();
    assert!(load(&config).expect("nothing to refuse").is_none());
}

#[test]
fn a_certificate_and_its_key_load_with_both_protocols_offered() {
    let ca = TestCa::new("Test CA");
    let server = ca.server("gateway.test", 2041);
    let (_dir, config) = load_with(
        TABLE,
        &[("server.crt", &server.cert), ("server.key", &server.key)],
    );
    let loaded = load(&config).expect("loads").expect("TLS is configured");
    assert_eq!(loaded.not_after(), server.not_after);
    assert_eq!(loaded.subject(), "CN=gateway.test");
    assert!(!loaded.expired());
    assert!(
        loaded.describe().contains("2041-01-01T00:00:00+00:00"),
        "{}",
        loaded.describe()
    );
    let alpn = &loaded.server_config().alpn_protocols;
    assert_eq!(alpn, &[b"h2".to_vec(), b"http/1.1".to_vec()]);
}

#[test]
fn missing_files_are_all_named_with_their_keys_and_paths() {
    let table = format!("{TABLE}client_ca_file = \"ca.pem\"\n");
    let all = errors(&table, &[]);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_error(&all, "server.tls.cert_file", "server.crt");
    assert_error(&all, "server.tls.key_file", "server.key");
    assert_error(&all, "server.tls.client_ca_file", "ca.pem");
    assert!(
        all.iter().all(|e| e.message.starts_with("cannot read /")),
        "resolved against the config's directory: {all:#?}"
    );
}

#[test]
fn a_file_without_a_certificate_or_a_key_is_refused() {
    let server = TestCa::new("Test CA").server("gateway.test", 2041);
    // Each file holds what the other should.
    let all = errors(
        TABLE,
        &[("server.crt", &server.key), ("server.key", &server.cert)],
    );
    assert_error(&all, "server.tls.cert_file", "holds no certificate");
    assert_error(&all, "server.tls.key_file", "holds no private key");
    let all = errors(
        "cert_file = \"\"\nkey_file = \"server.key\"\n",
        &[("server.key", &server.key)],
    );
    assert_error(&all, "server.tls.cert_file", "must name a PEM file");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let ca = TestCa::new("Test CA");
    let (one, other) = (ca.server("one", 2041), ca.server("other", 2041));
    let all = errors(
        TABLE,
        &[("server.crt", &one.cert), ("server.key", &other.key)],
    );
    assert_error(
        &all,
        "server.tls.key_file",
        "does not match the certificate",
    );
}

#[test]
fn an_unparseable_key_or_certificate_is_refused() {
    let server = TestCa::new("Test CA").server("gateway.test", 2041);
    let garbage = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    let all = errors(
        TABLE,
        &[("server.crt", &server.cert), ("server.key", garbage)],
    );
    assert_error(&all, "server.tls.key_file", "cannot be used");
    let broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n";
    let all = errors(
        TABLE,
        &[("server.crt", broken), ("server.key", &server.key)],
    );
    assert_error(&all, "server.tls.cert_file", "no END line");
    let not_x509 = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    let all = errors(
        TABLE,
        &[("server.crt", not_x509), ("server.key", &server.key)],
    );
    assert_error(&all, "server.tls.cert_file", "not an X.509 certificate");
}

#[test]
fn an_empty_or_invalid_client_ca_file_is_refused() {
    let ca = TestCa::new("Test CA");
    let server = ca.server("gateway.test", 2041);
    let table = format!("{TABLE}client_ca_file = \"ca.pem\"\n");
    let with_ca = |ca: &str| {
        let files = [
            ("server.crt", server.cert.as_str()),
            ("server.key", server.key.as_str()),
            ("ca.pem", ca),
        ];
        let (dir, config) = load_with(&table, &files);
        (dir, load(&config))
    };
    let (_dir, loaded) = with_ca("");
    let all = loaded.expect_err("an empty CA file");
    assert_error(&all, "server.tls.client_ca_file", "holds no certificate");
    let not_x509 = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
    let (_dir, loaded) = with_ca(not_x509);
    let all = loaded.expect_err("a CA file of no certificate");
    assert_error(
        &all,
        "server.tls.client_ca_file",
        "not a usable CA certificate",
    );
    let (_dir, loaded) = with_ca(&ca.pem());
    assert!(loaded.expect("a CA file loads").is_some());
}

/// Completes a handshake with `live` as a client trusting `ca`; the certificate it was shown.
async fn served_certificate(live: &LiveTls, ca: &TestCa) -> CertificateDer<'static> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.0.der().clone()).expect("the CA as a root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from("localhost").expect("a name");
    let (client, server) = tokio::join!(
        TlsConnector::from(Arc::new(client)).connect(name, client_io),
        live.acceptor().accept(server_io),
    );
    server.expect("the server completes the handshake");
    let client = client.expect("the client completes the handshake");
    let certificates = client
        .get_ref()
        .1
        .peer_certificates()
        .expect("a certificate");
    certificates[0].clone()
}

#[tokio::test]
async fn replace_changes_the_certificate_new_handshakes_see_and_the_gauge() {
    let ca = TestCa::new("Test CA");
    let (old, new) = (ca.server("old", 2041), ca.server("new", 2042));
    let (dir, config) = load_with(
        TABLE,
        &[("server.crt", &old.cert), ("server.key", &old.key)],
    );
    let metrics = Metrics::new([], []);
    let live = LiveTls::new(load(&config).expect("loads").expect("TLS"), &metrics);
    let gauge = |metrics: &Metrics| {
        let text = metrics.render();
        let prefix = "flowgate_tls_cert_expiry_timestamp_seconds ";
        let line = text.lines().find_map(|l| l.strip_prefix(prefix));
        line.map(|value| value.parse::<f64>().expect("a number"))
    };
    assert_eq!(served_certificate(&live, &ca).await, old.der);
    assert_eq!(gauge(&metrics), Some(old.not_after as f64));

    write(dir.path(), "server.crt", &new.cert);
    write(dir.path(), "server.key", &new.key);
    // A clone shares the configuration, as the listener's copy does.
    live.clone()
        .replace(load(&config).expect("loads").expect("TLS"));
    assert_eq!(served_certificate(&live, &ca).await, new.der);
    assert_eq!(gauge(&metrics), Some(new.not_after as f64));
    assert_eq!(live.current().subject(), "CN=new");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a file");
}
