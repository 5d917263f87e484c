//! A small HTTP/1 client for the gateway: every answer is checked for a safe `x-request-id`
//! before a test sees it, and `assert_problem` checks the whole RFC 9457 shape.

use std::net::SocketAddr;

use bytes::Bytes;
use flowgate::verify::signature::VerifierSpec;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::raw::Held;
use super::sign::{Headers, sign};
use super::{Gateway, TIMEOUT, within};

/// One answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// Checks what every answer must carry, then hands the reply over.
    pub fn checked(self) -> Reply {
        let id = self.request_id();
        assert!(
            is_safe_request_id(id),
            "x-request-id {id:?} is not [A-Za-z0-9._-]{{1,128}}"
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("an ASCII header"))
    }

    pub fn request_id(&self) -> &str {
        self.header("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on {self:?}"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// `Retry-After` in whole seconds.
    pub fn retry_after(&self) -> u64 {
        self.header("retry-after")
            .unwrap_or_else(|| panic!("no Retry-After on {self:?}"))
            .parse()
            .expect("Retry-After in seconds")
    }
}

pub fn is_safe_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks a problem answer whole: status, media type, every member of the body, and that the
/// body's `request_id` is the header's. Returns the body for further checks.
pub fn assert_problem(reply: &Reply, status: u16, code: &str) -> Value {
    let body_text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status.as_u16(), status, "status; body: {body_text}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "content type; body: {body_text}"
    );
    let body = reply.json();
    assert_eq!(
        body["type"],
        format!("urn:flowgate:problem:{code}"),
        "{body}"
    );
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    for member in ["title", "detail"] {
        let text = body[member].as_str().unwrap_or_default();
        assert!(
            !text.is_empty(),
            "`{member}` must be a non-empty string: {body}"
        );
    }
    assert_eq!(body["request_id"], reply.request_id(), "{body}");
    if code == "schema-violation" {
        let errors = body["errors"].as_array().expect("`errors` is a list");
        assert!(!errors.is_empty(), "{body}");
        for error in errors {
            assert!(error["pointer"].is_string(), "{error}");
            assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{error}"
            );
        }
    } else {
        assert!(
            body.get("errors").is_none(),
            "only schema-violation lists errors: {body}"
        );
    }
    body
}

/// Sends one request to the gateway; see [`exchange`].
pub async fn send(request: Request<Full<Bytes>>) -> Reply {
    exchange(request).await.checked()
}

/// Sends one request on a fresh connection (no pooling, so no test sees another's connection
/// state) and reads the answer whole, checking nothing (the simulator sets no request id).
pub async fn exchange(request: Request<Full<Bytes>>) -> Reply {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    let uri = request.uri().clone();
    within(TIMEOUT, &format!("{} {uri}", request.method()), async {
        let response = client
            .request(request)
            .await
            .unwrap_or_else(|e| panic!("{uri}: {e}"));
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("the body").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    })
    .await
}

/// `method url` with an optional JSON body, unchecked (for the simulator's `/sim` routes).
pub async fn request(method: &str, url: &str, json: Option<String>) -> Reply {
    let method = Method::from_bytes(method.as_bytes()).expect("a method");
    let mut builder = Request::builder().method(method).uri(url);
    if json.is_some() {
        builder = builder.header(CONTENT_TYPE, "application/json");
    }
    let body = Full::new(Bytes::from(json.unwrap_or_default()));
    exchange(builder.body(body).expect("a request")).await
}

pub async fn get(url: &str) -> Reply {
    send(bare(Method::GET, url)).await
}

pub async fn head(url: &str) -> Reply {
    send(bare(Method::HEAD, url)).await
}

/// A request with no body and only the headers given.
pub fn bare(method: Method, url: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::new()))
        .expect("a request")
}

/// A webhook being put together: `application/json` unless changed, unsigned unless signed.
pub struct Post {
    address: SocketAddr,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Gateway {
    /// `POST /webhooks/{vendor}` with `body` as `application/json`.
    pub fn webhook(&self, vendor: &str, body: impl Into<Bytes>) -> Post {
        self.post(&format!("/webhooks/{vendor}"), body)
    }

    /// `POST /webhooks/{vendor}` signed with the canonical vendors' secret, sent as it is.
    pub async fn send_signed(&self, vendor: &str, body: impl Into<Bytes>) -> Reply {
        let canonical = super::fixtures::canonical();
        self.webhook(vendor, body).signed(&canonical).send().await
    }

    pub fn post(&self, path: &str, body: impl Into<Bytes>) -> Post {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Post {
            address: self.public,
            path: path.to_owned(),
            headers,
            body: body.into(),
        }
    }
}

impl Post {
    /// Signs the current body as the vendor of `spec` would.
    pub fn signed(self, spec: &VerifierSpec) -> Post {
        let headers = sign(spec, &self.body);
        self.headers(headers)
    }

    pub fn headers(mut self, headers: Headers) -> Post {
        for (name, value) in headers {
            self.headers.insert(name, value);
        }
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Post {
        self.headers.insert(
            HeaderName::try_from(name).expect("a header name"),
            HeaderValue::try_from(value).expect("a header value"),
        );
        self
    }

    pub fn without(mut self, name: &str) -> Post {
        self.headers.remove(name);
        self
    }

    /// Replaces the body, keeping any signature made for the old one.
    pub fn body(mut self, body: impl Into<Bytes>) -> Post {
        self.body = body.into();
        self
    }

    pub async fn send(self) -> Reply {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}{}", self.address, self.path));
        if let Some(headers) = request.headers_mut() {
            headers.extend(self.headers);
        }
        send(request.body(Full::new(self.body)).expect("a request")).await
    }

    /// Sends the head and the first `sent` bytes of the body over raw TCP, announcing the full
    /// Content-Length, and holds the request open there.
    pub async fn hold(self, sent: usize) -> Held {
        let mut head = format!("POST {} HTTP/1.1\r\nhost: {}\r\n", self.path, self.address);
        for (name, value) in &self.headers {
            let value = value.to_str().expect("an ASCII header");
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        assert!(!self.headers.contains_key(CONTENT_LENGTH));
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            self.body.len()
        ));
        Held::start(self.address, head.into_bytes(), self.body, sent).await
    }
}
