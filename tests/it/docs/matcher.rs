//! Compares documented output with real output. What differs from run to run stands in the
//! document as an example value: a UUID, a 32- or 16-digit hex id, an RFC 3339 time, a duration
//! in milliseconds (`N ms`, `duration_ms=N`), or `…` for any text. Ids are variables: the first
//! time a documented id meets a real one they are bound, and from then on that id must be that
//! real one, in outputs and in later commands.

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value;

/// The ids bound so far, in both directions: one documented id is one real id.
#[derive(Clone, Debug, Default)]
pub struct Bindings {
    real: HashMap<String, String>,
    documented: HashMap<String, String>,
}

impl Bindings {
    /// `id` stands for itself (an order id of an example file).
    pub fn fix(&mut self, id: &str) {
        self.real.insert(id.to_owned(), id.to_owned());
        self.documented.insert(id.to_owned(), id.to_owned());
    }

    fn bind(&mut self, documented: &str, real: &str) -> bool {
        let known = (self.real.get(documented), self.documented.get(real));
        match known {
            (None, None) => {
                self.fix_pair(documented, real);
                true
            }
            (Some(r), Some(d)) => r == real && d == documented,
            _ => false,
        }
    }

    fn fix_pair(&mut self, documented: &str, real: &str) {
        self.real.insert(documented.to_owned(), real.to_owned());
        self.documented
            .insert(real.to_owned(), documented.to_owned());
    }

    /// `command` with each documented id replaced by its real one. An id nothing has bound yet
    /// is a mistake in the document: the reader could not know it either.
    pub fn apply(&self, command: &str) -> Result<String, String> {
        let mut missing = None;
        let replaced = ids().replace_all(command, |found: &regex::Captures<'_>| {
            let id = &found[0];
            self.real.get(id).cloned().unwrap_or_else(|| {
                missing.get_or_insert_with(|| id.to_owned());
                id.to_owned()
            })
        });
        match missing {
            Some(id) => Err(format!("no output shown before it names the id {id}")),
            None => Ok(replaced.into_owned()),
        }
    }
}

/// UUIDs and 32- or 16-digit hex ids (request and trace ids, span ids): the values that are
/// variables.
fn ids() -> Regex {
    Regex::new(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|[0-9a-f]{16}",
    )
    .expect("a valid pattern")
}

/// Every value that differs between runs, as it is written in the document.
fn placeholders() -> Regex {
    Regex::new(concat!(
        r"(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
        r"|(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d\d:\d\d))",
        r"|(?P<hex>[0-9a-f]{32}|[0-9a-f]{16})",
        r"|(?P<ms>\b\d+ ms\b|duration_ms=\d+(?:\.\d+)?)",
        r"|(?P<any>…)",
    ))
    .expect("a valid pattern")
}

/// Whether the real `line` is the documented one; binds the ids it meets.
pub fn line_matches(documented: &str, line: &str, bindings: &mut Bindings) -> bool {
    let mut pattern = String::from("^");
    let mut variables = Vec::new();
    let mut written = 0;
    for found in placeholders().captures_iter(documented) {
        let whole = found.get(0).expect("a match");
        pattern.push_str(&regex::escape(&documented[written..whole.start()]));
        written = whole.end();
        if found.name("uuid").is_some() || found.name("hex").is_some() {
            variables.push(whole.as_str().to_owned());
            if found.name("uuid").is_some() {
                pattern.push_str(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})");
            } else {
                pattern.push_str(&format!("([0-9a-f]{{{}}})", whole.len()));
            }
        } else if found.name("time").is_some() {
            pattern.push_str(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d");
            if found.name("fraction").is_some() {
                pattern.push_str(r"\.\d+");
            }
            pattern.push_str(match &found["zone"] {
                "Z" => "Z",
                _ => r"[+-]\d\d:\d\d",
            });
        } else if let Some(ms) = found.name("ms") {
            pattern.push_str(if ms.as_str().starts_with("duration_ms=") {
                r"duration_ms=\d+(?:\.\d+)?"
            } else {
                r"\d+ ms"
            });
        } else {
            pattern.push_str(".*?");
        }
    }
    pattern.push_str(&regex::escape(&documented[written..]));
    pattern.push('$');
    let Some(real) = Regex::new(&pattern)
        .expect("an escaped pattern")
        .captures(line)
    else {
        return false;
    };
    let mut tentative = bindings.clone();
    let bound = variables
        .iter()
        .zip(real.iter().skip(1))
        .all(|(documented, real)| tentative.bind(documented, real.map_or("", |m| m.as_str())));
    if bound {
        *bindings = tentative;
    }
    bound
}

/// Whether `lines` are the documented lines, or with `subset` hold them in order among others.
pub fn lines_match(documented: &[&str], lines: &[&str], subset: bool, b: &mut Bindings) -> bool {
    let mut tentative = b.clone();
    let matched = if subset {
        let mut rest = lines.iter();
        documented
            .iter()
            .all(|want| rest.any(|line| line_matches(want, line, &mut tentative)))
    } else {
        documented.len() == lines.len()
            && documented
                .iter()
                .zip(lines)
                .all(|(want, line)| line_matches(want, line, &mut tentative))
    };
    if matched {
        *b = tentative;
    }
    matched
}

/// Where the real JSON value differs from the documented one, as a path (`/a/0/b`); none when
/// it matches. Strings compare as lines; with `subset` objects may carry members the document
/// leaves out.
pub fn json_mismatch(
    documented: &Value,
    real: &Value,
    subset: bool,
    b: &mut Bindings,
) -> Option<String> {
    let here = |path: String| Some(path);
    match (documented, real) {
        (Value::String(want), Value::String(got)) => {
            (!line_matches(want, got, b)).then(String::new)
        }
        (Value::Array(want), Value::Array(got)) if want.len() == got.len() => {
            want.iter().zip(got).enumerate().find_map(|(i, (w, g))| {
                json_mismatch(w, g, subset, b).map(|path| format!("/{i}{path}"))
            })
        }
        (Value::Object(want), Value::Object(got)) => {
            if let Some(extra) = got.keys().find(|key| !subset && !want.contains_key(*key)) {
                return here(format!("/{extra}"));
            }
            want.iter().find_map(|(key, w)| match got.get(key) {
                Some(g) => json_mismatch(w, g, subset, b).map(|path| format!("/{key}{path}")),
                None => here(format!("/{key}")),
            })
        }
        _ => (documented != real).then(String::new),
    }
}

/// The first documented line the real lines do not show, for a failure's message.
pub fn first_mismatch(documented: &[&str], lines: &[&str], subset: bool, b: &Bindings) -> String {
    let mut b = b.clone();
    let missing = if subset {
        let mut rest = lines.iter();
        documented
            .iter()
            .position(|want| !rest.any(|line| line_matches(want, line, &mut b)))
    } else {
        documented
            .iter()
            .zip(lines)
            .position(|(want, line)| !line_matches(want, line, &mut b))
    };
    match missing {
        Some(i) => format!("line {}: {:?}", i + 1, documented[i]),
        None => format!("{} lines shown, {} printed", documented.len(), lines.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01a22259-0d86-7551-b74a-1eac197dd54f";

    #[test]
    fn varying_values_match_and_ids_stay_bound() {
        let mut b = Bindings::default();
        let doc = format!("{ID}  2026-11-28T13:29:51Z  0 ms  …");
        let real = "01a24f0d-9005-716c-8f6c-bdbdc688e949  2026-12-07T05:50:18Z  12 ms  x y";
        assert!(line_matches(&doc, real, &mut b));
        let other = "01a24f0e-c18b-7263-93c8-5222c058f9e9  2026-12-07T05:50:18Z  1 ms  -";
        assert!(!line_matches(&doc, other, &mut b), "the id is bound");
        assert_eq!(
            b.apply(&format!("show {ID}")).as_deref(),
            Ok("show 01a24f0d-9005-716c-8f6c-bdbdc688e949")
        );
        assert!(
            b.apply("show 01a22259-5eb4-7223-8cf4-1d3f052cfd6a")
                .is_err()
        );
        assert!(!line_matches("status 200", "status 503", &mut b));
    }

    #[test]
    fn json_compares_values_and_subset_allows_more_members() {
        let mut b = Bindings::default();
        let doc = serde_json::json!({"a": [1, {"t": "2026-11-28T13:29:51.243Z"}]});
        let real = serde_json::json!({"a": [1, {"t": "2026-12-07T05:50:18.639Z"}], "new": 2});
        assert_eq!(
            json_mismatch(&doc, &real, false, &mut b).as_deref(),
            Some("/new")
        );
        assert_eq!(json_mismatch(&doc, &real, true, &mut b), None);
        let other = serde_json::json!({"a": [2, {"t": "2026-12-07T05:50:18.639Z"}]});
        assert_eq!(
            json_mismatch(&doc, &other, true, &mut b).as_deref(),
            Some("/a/0")
        );
        assert!(lines_match(&["a", "c"], &["a", "b", "c"], true, &mut b));
        assert!(!lines_match(&["a", "c"], &["a", "b", "c"], false, &mut b));
    }
}
