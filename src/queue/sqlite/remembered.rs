//! What the database says of an order, kept in memory in front of it: every webhook asks for
//! its order's binding (most orders have none), and every delivery reads what Flow last
//! accepted for its order. This process is the database's only writer, so it sees every write
//! and can remember an answer, "unbound" and "never sent" included, for as long as it holds.

use std::sync::{Mutex, PoisonError};

use moka::sync::Cache;
use uuid::Uuid;

use crate::order::StoreError;

pub(super) struct Remembered<V> {
    orders: Cache<Uuid, V>,
    /// Counts writes; taken with every insert so that a lookup that raced a write cannot
    /// remember what the database said before it.
    writes: Mutex<u64>,
}

/// Where a lookup started, for [`Remembered::remember`].
#[derive(Clone, Copy)]
struct Lookup(u64);

impl<V: Clone + Send + Sync + 'static> Remembered<V> {
    /// Remembers `capacity` orders at most; the least used are forgotten first.
    pub(super) fn new(capacity: u64) -> Remembered<V> {
        Remembered {
            orders: Cache::new(capacity),
            writes: Mutex::new(0),
        }
    }

    /// The remembered answer for `order`, if any.
    fn get(&self, order: Uuid) -> Option<V> {
        self.orders.get(&order)
    }

    /// The remembered answer for `order`, else what `read` finds in the database, remembered.
    pub(super) async fn get_or_read<F, R>(&self, order: Uuid, read: F) -> Result<V, StoreError>
    where
        F: FnOnce() -> R,
        R: Future<Output = Result<V, StoreError>>,
    {
        if let Some(known) = self.get(order) {
            return Ok(known);
        }
        let lookup = self.start();
        let found = read().await?;
        self.remember(order, found.clone(), lookup);
        Ok(found)
    }

    /// Called before reading the database, so the answer can be remembered afterwards.
    fn start(&self) -> Lookup {
        Lookup(*self.lock())
    }

    /// Remembers what the database said for `order`, unless a write was committed since
    /// `lookup` started: that write may be the order's, and newer than the answer.
    fn remember(&self, order: Uuid, found: V, lookup: Lookup) {
        let writes = self.lock();
        if *writes == lookup.0 {
            self.orders.insert(order, found);
        }
    }

    /// Called once a write for `order` is committed, with what the database now holds.
    pub(super) fn written(&self, order: Uuid, value: V) {
        let mut writes = self.lock();
        *writes += 1;
        self.orders.insert(order, value);
    }

    /// Forgets everything: the purge has removed orders.
    pub(super) fn forget(&self) {
        let mut writes = self.lock();
        *writes += 1;
        self.orders.invalidate_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::order::{Binding, Broker};

    fn binding() -> Binding {
        Binding {
            tenant: "demo".to_owned(),
            vendor: "photo".to_owned(),
            case_id: None,
            broker: Broker::default(),
            token_hash: [1; 32],
            bound_at: DateTime::from_timestamp_millis(1_700_000_000_000).expect("a time"),
        }
    }

    #[test]
    fn an_unbound_order_is_remembered_until_it_is_bound() {
        let cache = Remembered::new(16);
        let order = Uuid::new_v4();
        assert_eq!(cache.get(order), None, "nothing known yet");
        let lookup = cache.start();
        cache.remember(order, None, lookup);
        assert_eq!(cache.get(order), Some(None));
        cache.written(order, Some(binding()));
        assert_eq!(cache.get(order), Some(Some(binding())));
    }

    #[test]
    fn a_lookup_that_raced_a_write_does_not_replace_it() {
        let cache = Remembered::new(16);
        let order = Uuid::new_v4();
        // The lookup read the database before the bind committed, and answers after it.
        let lookup = cache.start();
        cache.written(order, Some(binding()));
        cache.orders.invalidate(&order); // as if evicted meanwhile
        cache.remember(order, None, lookup);
        assert_eq!(cache.get(order), None, "the older answer is not remembered");
        let lookup = cache.start();
        cache.remember(order, Some(binding()), lookup);
        assert_eq!(cache.get(order), Some(Some(binding())));
    }

    #[test]
    fn forget_drops_every_order() {
        let cache = Remembered::new(16);
        let order = Uuid::new_v4();
        cache.written(order, Some(binding()));
        cache.forget();
        assert_eq!(cache.get(order), None);
    }
}
