//! The log of every `/flow` call the simulator answered, with secrets redacted, served by
//! `GET /sim/calls` so tests can assert on exactly what the gateway sent.

use std::collections::VecDeque;

use axum::http::{HeaderMap, header};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::operations::Operation;

/// Calls kept; older ones are dropped first.
const MAX_CALLS: usize = 10_000;

/// One call to the simulated Flow, as the call log keeps it.
#[derive(Debug, Clone)]
pub(super) struct RecordedCall {
    pub(super) at: DateTime<Utc>,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) operation: Option<Operation>,
    pub(super) status: u16,
    pub(super) headers: Map<String, Value>,
    pub(super) body: Value,
}

/// Which calls `GET /sim/calls` returns.
#[derive(Debug, Clone, Copy)]
pub(super) enum Since {
    All,
    /// Calls with a sequence number greater than this.
    Seq(u64),
    /// Calls received at or after this time.
    Time(DateTime<Utc>),
}

impl Since {
    /// Parses `since`: an integer sequence number or an RFC 3339 time.
    pub(super) fn parse(raw: Option<&str>) -> Result<Since, String> {
        let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else {
            return Ok(Since::All);
        };
        if let Ok(seq) = raw.parse::<u64>() {
            return Ok(Since::Seq(seq));
        }
        // An unescaped `+` in a query string arrives as a space; take it back.
        DateTime::parse_from_rfc3339(&raw.replace(' ', "+"))
            .map(|at| Since::Time(at.with_timezone(&Utc)))
            .map_err(|_| format!("since must be a sequence number or an RFC 3339 time: {raw}"))
    }
}

#[derive(Debug, Default)]
pub(super) struct CallLog {
    calls: VecDeque<(u64, RecordedCall)>,
    last_seq: u64,
}

impl CallLog {
    /// Records a finished call. Sequence numbers follow completion order, so a client that
    /// polls with the last seq it saw never misses a call that was still in flight.
    pub(super) fn record(&mut self, call: RecordedCall) {
        self.last_seq += 1;
        if self.calls.len() == MAX_CALLS {
            self.calls.pop_front();
        }
        self.calls.push_back((self.last_seq, call));
    }

    pub(super) fn list(&self, since: Since) -> Vec<Value> {
        self.calls
            .iter()
            .filter(|(seq, call)| match since {
                Since::All => true,
                Since::Seq(after) => *seq > after,
                Since::Time(from) => call.at >= from,
            })
            .map(|(seq, call)| to_json(*seq, call))
            .collect()
    }
}

fn to_json(seq: u64, call: &RecordedCall) -> Value {
    json!({
        "seq": seq,
        "at": call.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "method": call.method,
        "path": call.path,
        "operation": call.operation.map(Operation::name),
        "status": call.status,
        "headers": call.headers,
        "body": call.body,
    })
}

/// Request headers by lowercase name, with the credential in Authorization hidden.
pub(super) fn redacted_headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let mut value = values.join(", ");
        if name == header::AUTHORIZATION {
            value = redact_authorization(&value);
        }
        out.insert(name.as_str().to_owned(), Value::String(value));
    }
    out
}

fn redact_authorization(value: &str) -> String {
    match value.trim().split_once(' ') {
        Some((scheme, _)) => format!("{scheme} ***"),
        None => "***".to_owned(),
    }
}

/// The body as recorded: the token form with its secret hidden, else JSON, else text.
pub(super) fn recorded_body(operation: Option<Operation>, body: &[u8]) -> Value {
    if operation == Some(Operation::AuthToken) {
        return token_form_json(body);
    }
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn token_form_json(body: &[u8]) -> Value {
    let mut form = Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        let value = if key == "client_secret" {
            "***".to_owned()
        } else {
            value.into_owned()
        };
        form.insert(key.into_owned(), Value::String(value));
    }
    Value::Object(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_a_seq_or_a_time() {
        assert!(matches!(Since::parse(None), Ok(Since::All)));
        assert!(matches!(Since::parse(Some("12")), Ok(Since::Seq(12))));
        let Ok(Since::Time(at)) = Since::parse(Some("2026-01-02T03:04:05 01:00")) else {
            panic!("a time with a decoded plus");
        };
        assert_eq!(at.to_rfc3339(), "2026-01-02T02:04:05+00:00");
        assert!(Since::parse(Some("yesterday")).is_err());
    }

    #[test]
    fn the_log_keeps_only_the_newest_calls() {
        let mut log = CallLog::default();
        let call = RecordedCall {
            at: Utc::now(),
            method: "POST".into(),
            path: "/flow/authtoken".into(),
            operation: None,
            status: 200,
            headers: Map::new(),
            body: Value::Null,
        };
        for _ in 0..MAX_CALLS + 5 {
            log.record(call.clone());
        }
        let calls = log.list(Since::All);
        assert_eq!(calls.len(), MAX_CALLS);
        assert_eq!(calls[0]["seq"], 6);
        assert_eq!(log.list(Since::Seq(MAX_CALLS as u64 + 3)).len(), 2);
    }

    #[test]
    fn the_token_form_secret_is_redacted() {
        let body = recorded_body(
            Some(Operation::AuthToken),
            b"grant_type=client_credentials&client_id=me&client_secret=s3cret",
        );
        assert_eq!(
            body,
            json!({"grant_type": "client_credentials", "client_id": "me", "client_secret": "***"})
        );
    }
}
