//! The generic `hmac` scheme (and its `github` and `flow` presets): one header holding an
//! optionally prefixed hex or base64 MAC over a template of the body and, optionally, a
//! timestamp header.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::mac::{KeyedMac, Tag, any_matches};
use super::{
    Authenticated, Encoding, HmacSpec, SignatureError, SpecError, check_freshness, check_secrets,
    header_name, header_pair, parse_timestamp, required_header, unix_seconds,
};

pub(super) struct HmacHeader {
    header: HeaderName,
    prefix: String,
    encoding: Encoding,
    timestamp: Option<(HeaderName, Duration)>,
    template: Template,
    keys: Vec<KeyedMac>,
}

impl HmacHeader {
    pub(super) fn new(spec: &HmacSpec) -> Result<Self, SpecError> {
        check_secrets(&spec.secrets, "secret")?;
        let header = header_name(&spec.header)?;
        let timestamp = match &spec.timestamp_header {
            Some(name) => Some((header_name(name)?, spec.tolerance)),
            None => None,
        };
        let template = Template::parse(&spec.signed, timestamp.is_some())?;
        let keys = spec
            .secrets
            .iter()
            .enumerate()
            .map(|(index, secret)| KeyedMac::new(spec.algorithm, secret.as_bytes(), index + 1))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            header,
            prefix: spec.prefix.clone().unwrap_or_default(),
            encoding: spec.encoding,
            timestamp,
            template,
            keys,
        })
    }

    pub(super) fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Authenticated, SignatureError> {
        let value = required_header(headers, self.header.as_str())?;
        let timestamp = match &self.timestamp {
            Some((name, tolerance)) => {
                let text = required_header(headers, name.as_str())?;
                check_freshness(parse_timestamp(text)?, now, *tolerance)?;
                text
            }
            None => "",
        };
        let encoded = value
            .trim()
            .strip_prefix(self.prefix.as_str())
            .ok_or(SignatureError::BadSignature)?;
        let expected: Vec<Tag> = self
            .keys
            .iter()
            .map(|key| key.tag(self.template.parts(body, timestamp)))
            .collect();
        if !any_matches(&expected, self.encoding, [encoded]) {
            return Err(SignatureError::BadSignature);
        }
        Ok(Authenticated { event_id: None })
    }

    pub(super) fn sign(&self, body: &[u8], now: SystemTime) -> Vec<(HeaderName, HeaderValue)> {
        let Some(key) = self.keys.first() else {
            return Vec::new();
        };
        let timestamp = unix_seconds(now).to_string();
        let mac = key
            .tag(self.template.parts(body, &timestamp))
            .encode(self.encoding);
        let signature = header_pair(self.header.clone(), &format!("{}{mac}", self.prefix));
        let timestamp = self
            .timestamp
            .as_ref()
            .and_then(|(name, _)| header_pair(name.clone(), &timestamp));
        timestamp.into_iter().chain(signature).collect()
    }
}

/// A parsed `signed` template.
struct Template(Vec<Segment>);

enum Segment {
    Literal(Box<[u8]>),
    Body,
    Timestamp,
}

impl Template {
    /// Exactly one `{body}`; `{timestamp}` if and only if a timestamp header is configured
    /// (a checked but unsigned timestamp could be swapped by anyone replaying the request).
    fn parse(text: &str, has_timestamp_header: bool) -> Result<Self, SpecError> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some((before, after_open)) = rest.split_once('{') {
            let Some((name, after)) = after_open.split_once('}') else {
                break;
            };
            push_literal(&mut segments, before);
            segments.push(match name {
                "body" => Segment::Body,
                "timestamp" => Segment::Timestamp,
                other => {
                    return Err(SpecError::UnknownPlaceholder {
                        name: other.to_owned(),
                    });
                }
            });
            rest = after;
        }
        push_literal(&mut segments, rest);

        let count = segments
            .iter()
            .filter(|s| matches!(s, Segment::Body))
            .count();
        if count != 1 {
            return Err(SpecError::BodyPlaceholder { count });
        }
        let signs_timestamp = segments.iter().any(|s| matches!(s, Segment::Timestamp));
        match (signs_timestamp, has_timestamp_header) {
            (true, false) => Err(SpecError::TimestampWithoutHeader),
            (false, true) => Err(SpecError::TimestampNotSigned),
            _ => Ok(Self(segments)),
        }
    }

    fn parts<'a>(&'a self, body: &'a [u8], timestamp: &'a str) -> impl Iterator<Item = &'a [u8]> {
        self.0.iter().map(move |segment| match segment {
            Segment::Literal(bytes) => &bytes[..],
            Segment::Body => body,
            Segment::Timestamp => timestamp.as_bytes(),
        })
    }
}

fn push_literal(segments: &mut Vec<Segment>, text: &str) {
    if !text.is_empty() {
        segments.push(Segment::Literal(text.as_bytes().into()));
    }
}
