//! Turning JSON values into the strings Flow takes, and cutting long strings to
//! `limits.max_field_chars` Unicode scalar values with "…" as the last one.

use std::borrow::Cow;

use serde_json::Value;

/// The mark a cut string ends with; it counts towards the limit.
pub const ELLIPSIS: char = '…';

/// How many scalar values of a payload value an error message may quote.
const QUOTE_CHARS: usize = 50;

/// A string, number or boolean as text (numbers as JSON writes them); `None` for anything else.
pub fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(text) => Some(Cow::Borrowed(text)),
        Value::Number(number) => Some(Cow::Owned(number.to_string())),
        Value::Bool(true) => Some(Cow::Borrowed("true")),
        Value::Bool(false) => Some(Cow::Borrowed("false")),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// What a value is, for a message saying it is not what was wanted.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `text` cut to `max` scalar values, the last of them "…"; `None` when it already fits.
pub fn cut(text: &str, max: usize) -> Option<String> {
    // A string has at least as many bytes as scalar values: short ones need no counting.
    if text.len() <= max {
        return None;
    }
    // A limit of 0 (the config refuses it) leaves no room even for the ellipsis.
    let Some(kept) = max.checked_sub(1) else {
        return Some(String::new());
    };
    let mut starts = text.char_indices().map(|(at, _)| at);
    let end = starts.nth(kept)?;
    starts.next()?;
    let mut short = String::with_capacity(end + ELLIPSIS.len_utf8());
    short.push_str(&text[..end]);
    short.push(ELLIPSIS);
    Some(short)
}

/// A payload value quoted for an error message, cut short so an answer never echoes a payload.
pub fn quote(text: &str) -> String {
    format!("`{}`", cut(text, QUOTE_CHARS).as_deref().unwrap_or(text))
}

/// Cuts the strings of one webhook and remembers which canonical fields it cut.
pub struct Cutter {
    max: usize,
    fields: Vec<&'static str>,
}

impl Cutter {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            fields: Vec::new(),
        }
    }

    /// `text` as an owned string within the limit; a cut is recorded under `field`.
    pub fn apply(&mut self, text: Cow<'_, str>, field: &'static str) -> String {
        match cut(&text, self.max) {
            Some(short) => {
                self.record(field);
                short
            }
            None => text.into_owned(),
        }
    }

    /// Records a cut made earlier (a configured metadata key, cut once at start-up).
    pub fn record(&mut self, field: &'static str) {
        if !self.fields.contains(&field) {
            self.fields.push(field);
        }
    }

    pub fn into_fields(self) -> Vec<&'static str> {
        self.fields
    }
}
