//! The text log's field formatter. Every value a line carries is escaped on its way out, so
//! nothing a request sends (a path, a header, a vendor name, a value quoted in an error) can end
//! the line, start a forged one or close a quoted value early: numbers and booleans are bare,
//! every other value is quoted, and a value is cut after [`MAX_VALUE_CHARS`] characters.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// The most characters of one value a line repeats: room for any detail the gateway writes,
/// while a 60 000-character path or header cannot make a line of that size.
pub const MAX_VALUE_CHARS: usize = 2_048;

/// Written where a value was cut.
const CUT: &str = "…";

/// Formats the fields of events and spans as `message name="value" count=3`, escaped.
#[derive(Clone, Copy, Debug, Default)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            writer: &mut writer,
            result: Ok(()),
            empty: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes each field as it is recorded; the first failed write stops the rest.
struct EscapingVisitor<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
    empty: bool,
}

impl EscapingVisitor<'_, '_> {
    fn separate(&mut self) -> fmt::Result {
        if !std::mem::replace(&mut self.empty, false) {
            self.writer.write_char(' ')?;
        }
        Ok(())
    }

    /// `name=value` for a value whose text is ours (a number, a boolean).
    fn bare(&mut self, field: &Field, value: &dyn fmt::Display) {
        if self.result.is_ok() && !from_log(field) {
            self.result = self
                .separate()
                .and_then(|()| write!(self.writer, "{}={value}", name(field)));
        }
    }

    /// `name="value"`, or the message alone (escaped, not quoted: it ends at the next field).
    fn text(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_ok() && !from_log(field) {
            let message = field.name() == "message";
            self.result = self.separate().and_then(|()| {
                if !message {
                    write!(self.writer, "{}=\"", name(field))?;
                }
                write_escaped(self.writer, value, !message)?;
                if !message {
                    self.writer.write_char('"')?;
                }
                Ok(())
            });
        }
    }
}

impl Visit for EscapingVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format_args!("{value:?}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.bare(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.bare(field, &value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.bare(field, &value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.bare(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.bare(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.bare(field, &value);
    }
}

/// A field a `log` record carries (`log.target`, `log.file`…): the line's target and location
/// already say it.
pub fn from_log(field: &Field) -> bool {
    field.name().starts_with("log.")
}

/// A field's name as written in code (`r#type` is `type`).
fn name(field: &Field) -> &str {
    let name = field.name();
    name.strip_prefix("r#").unwrap_or(name)
}

/// Writes `value` escaped, cut after [`MAX_VALUE_CHARS`]; `quoted` also escapes `"` and `\`.
pub fn write_escaped(out: &mut dyn Write, value: fmt::Arguments<'_>, quoted: bool) -> fmt::Result {
    let mut escaper = Escaper {
        out,
        left: MAX_VALUE_CHARS,
        cut: false,
        quoted,
    };
    // The escaper stops writing when the budget is spent but never fails for it.
    escaper.write_fmt(value)?;
    if escaper.cut {
        escaper.out.write_str(CUT)?;
    }
    Ok(())
}

/// Escapes what passes through it, up to a budget of characters.
struct Escaper<'a> {
    out: &'a mut dyn Write,
    left: usize,
    cut: bool,
    quoted: bool,
}

impl Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        // Runs of plain characters are written whole.
        let mut plain = 0;
        for (at, c) in s.char_indices() {
            if self.left == 0 {
                self.cut = true;
                return self.out.write_str(&s[plain..at]);
            }
            self.left -= 1;
            let escaped = match c {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '"' if self.quoted => "\\\"",
                '\\' if self.quoted => "\\\\",
                c if must_escape(c) => "",
                _ => continue,
            };
            self.out.write_str(&s[plain..at])?;
            if escaped.is_empty() {
                write!(self.out, "\\u{{{:x}}}", u32::from(c))?;
            } else {
                self.out.write_str(escaped)?;
            }
            plain = at + c.len_utf8();
        }
        self.out.write_str(&s[plain..])
    }
}

/// Characters a line never carries as they are: control characters (C0, DEL, C1: NUL, ESC, CR,
/// LF, NEL…), Unicode's line and paragraph separators, and the invisible format characters that
/// hide or reorder text on a terminal (zero-width and bidirectional controls, the BOM).
pub fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tracing_subscriber::fmt::format::Writer;

    use super::*;
    use crate::telemetry::Captured;

    fn escaped(value: &str, quoted: bool) -> String {
        let mut out = String::new();
        write_escaped(&mut Writer::new(&mut out), format_args!("{value}"), quoted)
            .expect("written");
        out
    }

    /// Reverses the escaping of a quoted value; `None` when a `"` is left bare.
    fn unescape(text: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return None,
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    'u' => {
                        let rest: String = chars.by_ref().take_while(|c| *c != '}').collect();
                        let code = u32::from_str_radix(rest.strip_prefix('{')?, 16).ok()?;
                        out.push(char::from_u32(code)?);
                    }
                    _ => return None,
                },
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn a_forged_line_stays_on_its_own() {
        let forged =
            "x\n2026-12-07T04:50:00Z  INFO webhook answered vendor=\"demo\" outcome=\"accepted\"";
        let out = escaped(forged, true);
        assert_eq!(
            out,
            "x\\n2026-12-07T04:50:00Z  INFO webhook answered vendor=\\\"demo\\\" outcome=\\\"accepted\\\""
        );
        assert_eq!(
            escaped("a\0b\u{1b}[31m\r\u{85}\u{2028}\u{202e}", true),
            "a\\u{0}b\\u{1b}[31m\\r\\u{85}\\u{2028}\\u{202e}"
        );
        assert_eq!(escaped("plain text: Größe 5", true), "plain text: Größe 5");
    }

    #[test]
    fn a_long_value_is_cut() {
        let out = escaped(&"v".repeat(60_000), true);
        assert_eq!(out.chars().count(), MAX_VALUE_CHARS + CUT.chars().count());
        assert!(out.ends_with(CUT));
        assert_eq!(
            escaped(&"v".repeat(MAX_VALUE_CHARS), true),
            "v".repeat(MAX_VALUE_CHARS)
        );
    }

    #[test]
    fn a_line_quotes_text_and_leaves_numbers_bare() {
        let buffer = Captured::default();
        let written = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(EscapedFields)
            .without_time()
            .with_ansi(false)
            .with_target(false)
            .with_writer(move || written.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let path = "/webhooks/x\ny";
            let span = tracing::info_span!("request", path, id = %"a b");
            let _entered = span.enter();
            tracing::info!(vendor = "v\"", status = 404, took = ?std::time::Duration::from_millis(2), "webhook answered");
            tracing::info!(log.file = "hs.rs", log.line = 7, "from a log record");
        });
        let text = buffer.text();
        assert_eq!(
            text,
            " INFO request{path=\"/webhooks/x\\ny\" id=\"a b\"}: webhook answered vendor=\"v\\\"\" status=404 took=\"2ms\"\n \
             INFO request{path=\"/webhooks/x\\ny\" id=\"a b\"}: from a log record\n"
        );
    }

    proptest! {
        #[test]
        fn escaped_text_holds_no_control_character_and_reads_back(value in any::<String>()) {
            let out = escaped(&value, true);
            prop_assert!(!out.chars().any(must_escape), "{out:?}");
            if value.chars().count() <= MAX_VALUE_CHARS {
                prop_assert_eq!(unescape(&out), Some(value.clone()));
            }
            let message = escaped(&value, false);
            prop_assert!(!message.chars().any(must_escape), "{message:?}");
        }

        #[test]
        fn line_breaks_and_quotes_never_pass(value in "[\\x00-\\x1f\"\\\\a \u{85}\u{2028}\u{2029}]{0,64}") {
            let out = escaped(&value, true);
            let breaks = ['\n', '\r', '\0', '\u{85}', '\u{2028}', '\u{2029}'];
            prop_assert!(!out.contains(breaks), "{:?}", out);
            prop_assert_eq!(unescape(&out), Some(value.clone()));
        }
    }
}
