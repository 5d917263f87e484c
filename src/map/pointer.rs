//! RFC 6901 JSON pointers, split and unescaped once at start-up so that a lookup per webhook
//! neither parses nor allocates (`Value::pointer` does both on every call).

use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Pointer {
    text: String,
    /// `None` when `text` is not a pointer at all: it then finds nothing, as `Value::pointer`.
    tokens: Option<Vec<Token>>,
}

#[derive(Clone, Debug)]
struct Token {
    member: String,
    /// The token as an array index, when it is one.
    index: Option<usize>,
}

impl Pointer {
    pub fn new(text: &str) -> Self {
        let tokens = if text.is_empty() {
            Some(Vec::new())
        } else {
            let rest = text.strip_prefix('/');
            rest.map(|rest| rest.split('/').map(Token::new).collect())
        };
        Self {
            text: text.to_owned(),
            tokens,
        }
    }

    /// The value the pointer finds in `document`, if any (a `null` is found like any value).
    pub fn find<'a>(&self, document: &'a Value) -> Option<&'a Value> {
        self.tokens
            .as_ref()?
            .iter()
            .try_fold(document, |value, token| match value {
                Value::Object(members) => members.get(&token.member),
                Value::Array(items) => items.get(token.index?),
                _ => None,
            })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Token {
    fn new(escaped: &str) -> Self {
        // RFC 6901 order: `~1` first, so that `~01` means `~1`, not `/`.
        let member = escaped.replace("~1", "/").replace("~0", "~");
        // As serde_json reads an index: digits only, no sign, no leading zero.
        let index = if member.starts_with('+') || (member.starts_with('0') && member.len() > 1) {
            None
        } else {
            member.parse().ok()
        };
        Self { member, index }
    }
}
