//! TLS for the tests: a CA of their own (rcgen), the certificates it signs, and a real TLS
//! client (rustls through tokio-rustls, then hyper's HTTP/1.1 or HTTP/2 as ALPN chose) that
//! says exactly which versions, protocols and client certificate it offers.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::client::Reply;
use super::{TIMEOUT, within};

/// Where [`server_table`] expects the server's certificate and key, next to the config.
pub const CERT_FILE: &str = "tls/server.crt";
pub const KEY_FILE: &str = "tls/server.key";

/// A certificate authority of the tests' own.
pub struct TestCa(CertifiedIssuer<'static, KeyPair>);

/// A certificate it signed, and its key, as PEM.
pub struct Issued {
    pub cert: String,
    pub key: String,
    /// The certificate's notAfter, in seconds since the Unix epoch.
    pub not_after: i64,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a CA key");
        TestCa(CertifiedIssuer::self_signed(params, key).expect("a CA certificate"))
    }

    /// The CA's own certificate, PEM.
    pub fn pem(&self) -> String {
        self.0.pem()
    }

    /// A server certificate for `localhost` and 127.0.0.1.
    pub fn server(&self) -> Issued {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        self.issue(
            names,
            "flowgate test server",
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate, for a server that asks for one.
    pub fn client(&self, name: &str) -> Issued {
        self.issue(Vec::new(), name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, names: Vec<String>, name: &str, usage: ExtendedKeyUsagePurpose) -> Issued {
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        params.not_after = rcgen::date_time_ymd(2040, 6, 30);
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.0).expect("a certificate");
        Issued {
            cert: cert.pem(),
            key: key.serialize_pem(),
            not_after: params.not_after.unix_timestamp(),
        }
    }

    fn root(&self) -> CertificateDer<'static> {
        self.0.der().clone()
    }
}

/// `[server.tls]` serving [`CERT_FILE`] and [`KEY_FILE`] with `more` keys, for the body of
/// `[server]` in `fixtures::config` (after `server`'s own keys).
pub fn server_table(server: &str, more: &str) -> String {
    format!(
        "{server}\n\n[server.tls]\ncert_file = \"{CERT_FILE}\"\nkey_file = \"{KEY_FILE}\"\n{more}"
    )
}

/// The files [`server_table`] names, holding `issued`.
pub fn server_files(issued: &Issued) -> [(&'static str, &str); 2] {
    [(CERT_FILE, &issued.cert), (KEY_FILE, &issued.key)]
}

/// What a test client offers: its TLS versions, ALPN protocols and certificate.
pub struct TlsClient {
    config: Arc<ClientConfig>,
}

impl TlsClient {
    /// A client trusting `ca`, offering `versions` and `alpn`, with `identity` as its
    /// certificate when one is given.
    pub fn new(
        ca: &TestCa,
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&str],
        identity: Option<&Issued>,
    ) -> TlsClient {
        let mut roots = RootCertStore::empty();
        roots.add(ca.root()).expect("the CA as a root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("versions the provider has")
            .with_root_certificates(roots);
        let mut config = match identity {
            Some(issued) => {
                let chain = CertificateDer::pem_slice_iter(issued.cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("a PEM chain");
                let key = PrivateKeyDer::from_pem_slice(issued.key.as_bytes()).expect("a key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("a client certificate")
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        TlsClient {
            config: Arc::new(config),
        }
    }

    /// TLS 1.2 and 1.3, ALPN as given, no certificate.
    pub fn offering(ca: &TestCa, alpn: &[&str]) -> TlsClient {
        TlsClient::new(ca, rustls::ALL_VERSIONS, alpn, None)
    }

    /// Connects to `address` and completes a handshake for `localhost`.
    pub async fn connect(&self, address: SocketAddr) -> Result<TlsStream<TcpStream>, String> {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        self.handshake(stream).await
    }

    /// A handshake on a connection already open (after a PROXY header, say).
    pub async fn handshake(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let name = ServerName::try_from("localhost").expect("a server name");
        let connector = TlsConnector::from(self.config.clone());
        within(
            TIMEOUT,
            "the TLS handshake",
            connector.connect(name, stream),
        )
        .await
        .map_err(|e| chain(&e))
    }

    /// Connects, completes a handshake and sends `request`: the answer and its HTTP version,
    /// or what failed, with its causes.
    pub async fn send(
        &self,
        address: SocketAddr,
        request: Request<Full<Bytes>>,
    ) -> Result<(Version, Reply), String> {
        let stream = self.connect(address).await?;
        send_on(stream, request).await
    }
}

/// Sends `request` on an established TLS connection, as HTTP/2 when ALPN chose `h2`, else
/// HTTP/1.1.
pub async fn send_on(
    stream: TlsStream<TcpStream>,
    mut request: Request<Full<Bytes>>,
) -> Result<(Version, Reply), String> {
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    if !h2 {
        // HTTP/1.1 names the path, and the authority in Host (HTTP/2 sends both as they are).
        let uri = request.uri().clone();
        let authority = uri.authority().expect("an absolute URI").as_str();
        let host = http::HeaderValue::from_str(authority).expect("a Host value");
        request.headers_mut().insert(http::header::HOST, host);
        *request.uri_mut() = uri
            .path_and_query()
            .expect("a path")
            .as_str()
            .parse()
            .expect("a path");
    }
    let io = TokioIo::new(stream);
    let response = if h2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|e| chain(&e))?;
        tokio::spawn(connection);
        within(TIMEOUT, "an HTTP/2 answer", sender.send_request(request)).await
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| chain(&e))?;
        tokio::spawn(connection);
        within(TIMEOUT, "an HTTP/1.1 answer", sender.send_request(request)).await
    }
    .map_err(|e| chain(&e))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| chain(&e))?.to_bytes();
    let reply = Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    };
    Ok((parts.version, reply.checked()))
}

/// `POST https://localhost/<path>` with `headers` and `body`, as both HTTP versions take it.
pub fn post(
    address: SocketAddr,
    path: &str,
    headers: impl IntoIterator<Item = (http::HeaderName, http::HeaderValue)>,
    body: String,
) -> Request<Full<Bytes>> {
    let mut request = Request::post(format!("https://localhost:{}{path}", address.port()))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request
        .body(Full::new(Bytes::from(body)))
        .expect("a request")
}

/// `GET https://localhost/<path>`.
pub fn get(address: SocketAddr, path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("https://localhost:{}{path}", address.port()))
        .body(Full::default())
        .expect("a request")
}

/// An error and its causes, one after the other: hyper's own words rarely say what TLS said.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
