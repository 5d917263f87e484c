//! The JSON log's line: one object per event with every field at the top level, the event's own
//! fields first, then those of the spans it happened in (a request's `request_id`, `trace_id`,
//! `span_id`, `method`, `path`), so a collector indexes them without unpacking. Line and
//! paragraph separators and C1 controls, which JSON leaves as they are but some readers take for
//! line ends, are written as `\u` escapes.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Number, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::text::from_log;

/// Formats an event as one flat JSON object.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlatJson;

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let mut line = Line::default();
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), event.metadata().level().as_str().into());
        event.record(&mut line);
        // The innermost span first: an event's own field wins over a span's, a nearer span's
        // over an outer one's.
        for span in ctx.event_scope().into_iter().flatten() {
            let extensions = span.extensions();
            let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                continue;
            };
            if let Ok(fields) = serde_json::from_str::<Map<String, Value>>(fields) {
                for (name, value) in fields {
                    line.insert(name, value);
                }
            }
        }
        // A `log` record names its own target; the event's is the bridge's.
        let target = line.log_target.take();
        let target = target.unwrap_or_else(|| event.metadata().target().to_owned());
        line.insert("target".into(), target.into());
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        write_line_safe(&mut writer, &text)?;
        writeln!(writer)
    }
}

/// The fields of one line in the order they were met; a name met again keeps its first value.
#[derive(Default)]
struct Line {
    fields: Vec<(String, Value)>,
    /// The target of a `log` record (`log.target`), whose other `log.*` fields are dropped.
    log_target: Option<String>,
}

impl Line {
    fn insert(&mut self, name: String, value: Value) {
        if !self.fields.iter().any(|(known, _)| *known == name) {
            self.fields.push((name, value));
        }
    }

    fn record(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if from_log(field) {
            if let ("log.target", Value::String(target)) = (name, value) {
                self.log_target = Some(target);
            }
            return;
        }
        self.insert(name.strip_prefix("r#").unwrap_or(name).to_owned(), value);
    }
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (name, value) in &self.fields {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, format!("{value:?}").into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record(
            field,
            Number::from_f64(value).map_or(Value::Null, Value::Number),
        );
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(field, value.into());
    }
}

/// Writes serialized JSON with the characters that may break a line for some readers escaped;
/// they only ever occur inside strings, where a `\u` escape means the same.
fn write_line_safe(writer: &mut Writer<'_>, text: &str) -> fmt::Result {
    let mut plain = 0;
    for (at, c) in text.char_indices() {
        if breaks_lines(c) {
            writer.write_str(&text[plain..at])?;
            write!(writer, "\\u{:04x}", u32::from(c))?;
            plain = at + c.len_utf8();
        }
    }
    writer.write_str(&text[plain..])
}

/// What serde_json writes as it is but a line-oriented reader may split on: DEL, C1 (NEL among
/// them), Unicode's line and paragraph separators.
fn breaks_lines(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::Captured;

    /// The lines `emit` logs, each parsed.
    fn logged(emit: impl FnOnce()) -> Vec<Value> {
        let buffer = Captured::default();
        let written = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(move || written.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = buffer.text();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    #[test]
    fn fields_are_flat_and_the_event_wins_over_its_spans() {
        let lines = logged(|| {
            let outer =
                tracing::info_span!("request", request_id = "r-1", trace_id = "t", path = "/a");
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner", path = "/b");
            let _inner = inner.enter();
            tracing::info!(request_id = "own", status = 202, "webhook answered");
        });
        let line = &lines[0];
        assert_eq!(line["message"], "webhook answered");
        assert_eq!(line["request_id"], "own");
        assert_eq!(line["status"], 202);
        assert_eq!(line["trace_id"], "t");
        assert_eq!(line["path"], "/b");
        assert!(
            line.get("fields").is_none() && line.get("span").is_none(),
            "{line}"
        );
    }

    #[test]
    fn a_log_record_keeps_its_own_target_and_drops_the_bridges_fields() {
        let lines = logged(|| {
            tracing::info!(
                log.target = "rustls::client",
                log.file = "hs.rs",
                log.line = 7,
                "hello"
            );
        });
        let line = &lines[0];
        assert_eq!(line["target"], "rustls::client", "{line}");
        assert!(
            line.get("log.file").is_none() && line.get("log.line").is_none(),
            "{line}"
        );
    }

    #[test]
    fn separators_are_escaped_and_the_json_reads_back() {
        let value = "a\u{2028}b\u{85}c\u{2029}\u{7f}\n";
        let text = serde_json::to_string(&serde_json::json!({ "v": value })).expect("json");
        let mut out = String::new();
        write_line_safe(&mut Writer::new(&mut out), &text).expect("written");
        assert!(
            !out.contains(['\u{2028}', '\u{2029}', '\u{85}', '\u{7f}', '\n']),
            "{out}"
        );
        let back: Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(back["v"], value);
    }
}
