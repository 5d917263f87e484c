//! The W3C trace context of a request: the caller's `traceparent` when it is well-formed, else a
//! new trace. Set once at the edge, so the request's log lines (`trace_id`, `span_id`) and the
//! `traceparent` its delivery sends to Flow are the same trace.

use http::{HeaderMap, Request};

/// A well-formed `traceparent`, lowercase: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext(String);

impl TraceContext {
    /// The caller's context when its `traceparent` is well-formed, else a new trace.
    pub fn from_headers(headers: &HeaderMap) -> TraceContext {
        let given = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_traceparent(v));
        match given {
            Some(value) => TraceContext(value.to_ascii_lowercase()),
            None => {
                let trace = uuid::Uuid::new_v4().simple().to_string();
                let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
                TraceContext(format!("00-{trace}-{span}-01"))
            }
        }
    }

    /// The context a request carries, as the edge set it (or read from its headers when no
    /// layer did).
    pub fn of<B>(request: &Request<B>) -> TraceContext {
        request
            .extensions()
            .get::<TraceContext>()
            .cloned()
            .unwrap_or_else(|| TraceContext::from_headers(request.headers()))
    }

    /// The `traceparent` header value.
    pub fn traceparent(&self) -> &str {
        &self.0
    }

    pub fn trace_id(&self) -> &str {
        self.0.get(3..35).unwrap_or_default()
    }

    /// The caller's span, the parent of the gateway's work.
    pub fn span_id(&self) -> &str {
        self.0.get(36..52).unwrap_or_default()
    }
}

/// `00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(parts.as_slice(), [version, trace, span, flags]
        if hex(version, 2) && *version != "ff" && hex(trace, 32) && hex(span, 16) && hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && span.bytes().any(|b| b != b'0'))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn traceparents_are_checked() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert!(!is_traceparent(bad), "{bad}");
        }
    }

    #[test]
    fn the_ids_come_from_the_callers_context_or_a_new_trace() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            HeaderValue::from_static("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"),
        );
        let given = TraceContext::from_headers(&headers);
        assert_eq!(given.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(given.span_id(), "00f067aa0ba902b7");
        let fresh = TraceContext::from_headers(&HeaderMap::new());
        assert!(is_traceparent(fresh.traceparent()), "{fresh:?}");
        assert_eq!((fresh.trace_id().len(), fresh.span_id().len()), (32, 16));
    }
}
