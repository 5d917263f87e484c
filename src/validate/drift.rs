//! Drift: the undeclared pointers each vendor's webhooks carried lately, the most recent
//! [`MAX_POINTERS`] distinct ones with how often and when last seen. Held in memory for the
//! process's life, across reloads, for the vendors the running configuration names.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The distinct pointers remembered per vendor; a new one pushes out the least recently seen.
pub const MAX_POINTERS: usize = 100;

/// One undeclared pointer of a vendor's payloads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DriftPointer {
    pub pointer: String,
    /// Webhooks that carried it.
    pub count: u64,
    pub last_seen: DateTime<Utc>,
}

/// Every configured vendor's drift; shared by the pipeline, which records, and the admin API.
#[derive(Debug, Default)]
pub struct Drift {
    vendors: Mutex<HashMap<String, VendorDrift>>,
}

#[derive(Debug, Default)]
struct VendorDrift {
    pointers: HashMap<String, Seen>,
    /// Increases with each sighting: orders the pointers by recency.
    clock: u64,
}

#[derive(Debug)]
struct Seen {
    count: u64,
    last_seen: DateTime<Utc>,
    order: u64,
}

impl Drift {
    /// The vendors of the configuration now running: theirs is kept, the others' forgotten.
    pub fn keep_vendors<'a>(&self, names: impl IntoIterator<Item = &'a String>) {
        let mut vendors = self.lock();
        let mut kept: HashMap<String, VendorDrift> = HashMap::new();
        for name in names {
            kept.insert(name.clone(), vendors.remove(name).unwrap_or_default());
        }
        *vendors = kept;
    }

    /// One webhook of `vendor` carried `pointers` (each once), at `now`.
    pub fn record(&self, vendor: &str, pointers: &[String], now: DateTime<Utc>) {
        let mut vendors = self.lock();
        let Some(drift) = vendors.get_mut(vendor) else {
            return;
        };
        for pointer in pointers {
            drift.clock += 1;
            let order = drift.clock;
            if let Some(seen) = drift.pointers.get_mut(pointer) {
                seen.count += 1;
                seen.last_seen = now;
                seen.order = order;
                continue;
            }
            if drift.pointers.len() >= MAX_POINTERS {
                drift.forget_oldest();
            }
            let seen = Seen {
                count: 1,
                last_seen: now,
                order,
            };
            drift.pointers.insert(pointer.clone(), seen);
        }
    }

    /// `vendor`'s pointers, the most recently seen first; `None` for a vendor not configured.
    pub fn pointers(&self, vendor: &str) -> Option<Vec<DriftPointer>> {
        let vendors = self.lock();
        let drift = vendors.get(vendor)?;
        let mut seen: Vec<(&String, &Seen)> = drift.pointers.iter().collect();
        seen.sort_by_key(|(_, seen)| std::cmp::Reverse(seen.order));
        let pointers = seen.into_iter().map(|(pointer, seen)| DriftPointer {
            pointer: pointer.clone(),
            count: seen.count,
            last_seen: seen.last_seen,
        });
        Some(pointers.collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VendorDrift>> {
        // What it guards stays whole if a holder panicked: every update is a few field writes.
        self.vendors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl VendorDrift {
    fn forget_oldest(&mut self) {
        let oldest = self.pointers.iter().min_by_key(|(_, seen)| seen.order);
        if let Some(pointer) = oldest.map(|(pointer, _)| pointer.clone()) {
            self.pointers.remove(&pointer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, second)
            .single()
            .expect("a time")
    }

    fn drift_for(vendor: &str) -> Drift {
        let drift = Drift::default();
        drift.keep_vendors([&vendor.to_owned()]);
        drift
    }

    #[test]
    fn pointers_are_counted_and_listed_most_recent_first() {
        let drift = drift_for("acme");
        drift.record("acme", &["/a".to_owned(), "/b".to_owned()], at(1));
        drift.record("acme", &["/a".to_owned()], at(2));
        let listed = drift.pointers("acme").expect("configured");
        let summary: Vec<(&str, u64, DateTime<Utc>)> = listed
            .iter()
            .map(|p| (p.pointer.as_str(), p.count, p.last_seen))
            .collect();
        assert_eq!(summary, [("/a", 2, at(2)), ("/b", 1, at(1))]);
        assert_eq!(drift.pointers("other"), None);
    }

    #[test]
    fn only_the_most_recent_distinct_pointers_are_kept() {
        let drift = drift_for("acme");
        for i in 0..=MAX_POINTERS {
            drift.record("acme", &[format!("/f{i}")], at(0));
            if i == 10 {
                // Seen again, so it outlives the ones seen once after it.
                drift.record("acme", &["/f0".to_owned()], at(0));
            }
        }
        let listed = drift.pointers("acme").expect("configured");
        assert_eq!(listed.len(), MAX_POINTERS);
        assert_eq!(listed[0].pointer, format!("/f{MAX_POINTERS}"));
        let kept: Vec<&str> = listed.iter().map(|p| p.pointer.as_str()).collect();
        assert!(kept.contains(&"/f0"), "{kept:?}");
        assert!(
            !kept.contains(&"/f1"),
            "the least recently seen goes: {kept:?}"
        );
    }

    #[test]
    fn a_reload_keeps_the_drift_of_vendors_still_configured() {
        let drift = drift_for("acme");
        drift.record("acme", &["/a".to_owned()], at(1));
        drift.keep_vendors(["acme".to_owned(), "beta".to_owned()].iter());
        assert_eq!(drift.pointers("acme").map(|p| p.len()), Some(1));
        assert_eq!(drift.pointers("beta"), Some(vec![]));
        drift.keep_vendors(["beta".to_owned()].iter());
        assert_eq!(drift.pointers("acme"), None);
        drift.record("acme", &["/a".to_owned()], at(2));
        assert_eq!(drift.pointers("acme"), None);
    }
}
