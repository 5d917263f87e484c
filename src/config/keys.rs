//! The keys the configuration knows, read from the model's types so they cannot drift from it;
//! and the known keys nearest to a misspelt one.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The field names of the struct `T`, as its derived `Deserialize` asks for them.
pub(super) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The deserializer always fails once it has seen the names: no value is ever built.
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// Up to three of `known` that `given` most likely meant, the nearest first.
pub(super) fn closest<'k>(given: &str, known: &[&'k str]) -> Vec<&'k str> {
    // Above this Jaro-Winkler similarity a key reads as a slip of the same word.
    const LIKENESS: f64 = 0.8;
    let mut scored: Vec<(f64, &str)> = known
        .iter()
        .map(|key| (strsim::jaro_winkler(given, key), *key))
        .filter(|(score, _)| *score > LIKENESS)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, key)| key).collect()
}

/// A deserializer that only records the field list a struct hands to `deserialize_struct`.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
