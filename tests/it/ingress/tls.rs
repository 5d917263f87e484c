//! TLS on the public listener (DESIGN section 15), with real TLS clients: ALPN chooses HTTP/2 or
//! HTTP/1.1, `min_version` and `client_ca_file` refuse handshakes, the handshake has its own
//! deadline after the PROXY header, and the certificate's expiry is exported.

use http::{StatusCode, Version};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{assert_accepted, assert_cut_after_one_second};
use crate::support::client::get;
use crate::support::fixtures::{self, CANONICAL_SECRET, canonical, canonical_body};
use crate::support::tls::{self, Issued, TestCa, TlsClient};
use crate::support::{Gateway, TIMEOUT, sign, within};

/// A gateway serving TLS with a certificate of `ca`, `more` keys in `[server.tls]`, `server`
/// keys in `[server]`, and `files` beside the config.
async fn tls_gateway(
    ca: &TestCa,
    server: &str,
    more: &str,
    extra: &str,
    files: &[(&str, &str)],
) -> (Gateway, Issued) {
    let issued = ca.server();
    let mut all: Vec<(&str, &str)> = tls::server_files(&issued).to_vec();
    all.extend_from_slice(files);
    let table = tls::server_table(server, more);
    let gw = fixtures::gateway_with_files(&table, extra, &all).await;
    (gw, issued)
}

/// A signed canonical update of a new order, as an HTTPS request to `gw`.
fn signed_webhook(gw: &Gateway, vendor: &str) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    let order = uuid::Uuid::new_v4().to_string();
    let body = canonical_body(&order, json!({"state": "Completed"}));
    let headers = sign::sign(&canonical(), body.as_bytes());
    tls::post(gw.public, &format!("/webhooks/{vendor}"), headers, body)
}

#[tokio::test]
async fn a_signed_webhook_over_tls_is_answered_as_on_plain_http_in_the_protocol_alpn_chose() {
    let ca = TestCa::new("flowgate test CA");
    let (gw, _) = tls_gateway(&ca, "", "", "", &[]).await;
    for (alpn, version) in [
        (&["http/1.1"][..], Version::HTTP_11),
        (&["h2", "http/1.1"][..], Version::HTTP_2),
        (&[][..], Version::HTTP_11),
    ] {
        let client = TlsClient::offering(&ca, alpn);
        let (answered, reply) = client
            .send(gw.public, signed_webhook(&gw, "canonical"))
            .await
            .unwrap_or_else(|e| panic!("offering {alpn:?}: {e}"));
        assert_eq!(answered, version, "offering {alpn:?}");
        assert_accepted(&reply);
    }
    let calls = gw.sim().calls_of("updatestate").await;
    assert_eq!(calls.len(), 3, "each delivered once: {calls:?}");
    // Refusals are the same problem documents.
    let client = TlsClient::offering(&ca, &["h2"]);
    let unsigned = tls::post(gw.public, "/webhooks/canonical", [], "{}".to_owned());
    let (_, reply) = client.send(gw.public, unsigned).await.expect("an answer");
    crate::support::assert_problem(&reply, 401, "signature-invalid");
}

#[tokio::test]
async fn plain_http_to_a_tls_listener_gets_a_tls_alert_and_no_answer() {
    let ca = TestCa::new("flowgate test CA");
    let (gw, _) = tls_gateway(&ca, "", "", "", &[]).await;
    let mut plain = TcpStream::connect(gw.public).await.expect("connect");
    plain
        .write_all(b"GET /ping HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("send");
    let mut heard = Vec::new();
    within(TIMEOUT, "the server closing", plain.read_to_end(&mut heard))
        .await
        .expect("a clean close");
    // A TLS alert record (content type 21), never an HTTP answer.
    assert_eq!(heard.first(), Some(&21), "{heard:?}");
}

#[tokio::test]
async fn with_min_version_1_3_a_tls_1_2_client_fails_the_handshake() {
    let ca = TestCa::new("flowgate test CA");
    let (gw, _) = tls_gateway(&ca, "", "min_version = \"1.3\"\n", "", &[]).await;
    let old = TlsClient::new(&ca, &[&rustls::version::TLS12], &["http/1.1"], None);
    let error = old
        .connect(gw.public)
        .await
        .expect_err("TLS 1.2 is refused");
    assert!(
        error.contains("fatal alert: ProtocolVersion"),
        "refused by the server: {error}"
    );
    let current = TlsClient::new(&ca, &[&rustls::version::TLS13], &["http/1.1"], None);
    let (_, reply) = current
        .send(gw.public, tls::get(gw.public, "/ping"))
        .await
        .expect("TLS 1.3 served");
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    // With the default, 1.2 is still served.
    let (gw, _) = tls_gateway(&ca, "", "", "", &[]).await;
    let (_, reply) = old
        .send(gw.public, tls::get(gw.public, "/ping"))
        .await
        .expect("TLS 1.2 served");
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
}

#[tokio::test]
async fn with_client_ca_file_only_clients_it_signed_complete_the_handshake() {
    let ca = TestCa::new("flowgate test CA");
    let clients = TestCa::new("vendor client CA");
    let stranger = TestCa::new("some other CA");
    let more = "client_ca_file = \"tls/clients.pem\"\n";
    let files = [("tls/clients.pem", clients.pem())];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (gw, _) = tls_gateway(&ca, "", more, "", &files).await;
    let (signed, foreign) = (clients.client("vendor"), stranger.client("vendor"));
    let refused = [
        ("no certificate", None, "CertificateRequired"),
        ("another CA's", Some(&foreign), "UnknownCA"),
    ];
    for (who, identity, alert) in refused {
        for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
            let client = TlsClient::new(&ca, &[version], &["http/1.1"], identity);
            // In TLS 1.3 the client finishes first and hears the refusal on its first read.
            let error = client
                .send(gw.public, signed_webhook(&gw, "canonical"))
                .await
                .expect_err(who);
            assert!(
                error.contains(&format!("fatal alert: {alert}")),
                "{who} ({version:?}): {error}"
            );
        }
    }
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let client = TlsClient::new(&ca, &[version], &["h2"], Some(&signed));
        let (_, reply) = client
            .send(gw.public, signed_webhook(&gw, "canonical"))
            .await
            .unwrap_or_else(|e| panic!("signed by the CA ({version:?}): {e}"));
        assert_accepted(&reply);
    }
    assert_eq!(gw.sim().calls_of("updatestate").await.len(), 2);
}

#[tokio::test]
async fn a_connection_that_does_not_complete_its_handshake_is_closed_after_request_timeout() {
    let ca = TestCa::new("flowgate test CA");
    let (gw, _) = tls_gateway(&ca, "request_timeout = \"1s\"", "", "", &[]).await;
    assert_cut_after_one_second(&gw, b"").await;
    // A TLS record header announcing a ClientHello, and the first bytes of it.
    let partial_hello = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    assert_cut_after_one_second(&gw, &partial_hello).await;
}

#[tokio::test]
async fn the_certificates_expiry_is_exported() {
    let ca = TestCa::new("flowgate test CA");
    let (gw, issued) = tls_gateway(&ca, "", "", "", &[]).await;
    let metrics = get(&gw.admin_url("/metrics")).await;
    let text = String::from_utf8_lossy(&metrics.body);
    let name = "flowgate_tls_cert_expiry_timestamp_seconds";
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"));
    assert_eq!(
        value.parse::<f64>().expect("a number"),
        issued.not_after as f64
    );
    assert!(text.contains(&format!("# TYPE {name} gauge")), "{text}");

    // Without TLS there is no such series.
    let plain = fixtures::gateway("", "").await;
    let metrics = get(&plain.admin_url("/metrics")).await;
    assert!(!String::from_utf8_lossy(&metrics.body).contains(name));
}

#[tokio::test]
async fn behind_proxy_protocol_the_header_comes_before_the_handshake() {
    let ca = TestCa::new("flowgate test CA");
    let ranged = format!(
        "[vendors.ranged]\nverify = {{ scheme = \"standard-webhooks\", secrets = [\"{CANONICAL_SECRET}\"] }}\ntenant = \"sim\"\ndelivery = \"sync\"\nallow_ips = [\"203.0.113.0/24\"]\n"
    );
    let (gw, _) = tls_gateway(&ca, "proxy_protocol = true", "", &ranged, &[]).await;
    let client = TlsClient::offering(&ca, &["h2", "http/1.1"]);
    let mut stream = TcpStream::connect(gw.public).await.expect("connect");
    let header = b"PROXY TCP4 203.0.113.9 127.0.0.1 55555 443\r\n";
    stream
        .write_all(header)
        .await
        .expect("send the PROXY header");
    let stream = client.handshake(stream).await.expect("the handshake");
    let (_, reply) = tls::send_on(stream, signed_webhook(&gw, "ranged"))
        .await
        .expect("an answer");
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the header's client is allowed: {reply:?}"
    );
    // Without the header, the handshake never starts: the ClientHello is no PROXY header.
    let error = client
        .send(gw.public, signed_webhook(&gw, "ranged"))
        .await
        .expect_err("no PROXY header");
    assert!(!error.is_empty());
    assert_eq!(gw.sim().calls_of("updatestate").await.len(), 1);
}
