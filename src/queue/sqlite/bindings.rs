//! Order bindings kept in memory in front of the database: every webhook asks for its order's
//! binding, and most orders have none. This process is the database's only writer, so it sees
//! every bind and can also remember that an order is unbound. A binding never changes once made
//! (the first wins), so a remembered one stays true.

use std::sync::{Mutex, PoisonError};

use moka::sync::Cache;
use uuid::Uuid;

use crate::order::Binding;

/// Orders remembered at most; the least used are forgotten first.
const CAPACITY: u64 = 50_000;

pub(super) struct BindingCache {
    orders: Cache<Uuid, Option<Binding>>,
    /// Counts binds; taken with every insert so that a lookup that raced a bind cannot
    /// remember the order as unbound after the bind was remembered.
    binds: Mutex<u64>,
}

/// Where a lookup started, for [`BindingCache::remember`].
#[derive(Clone, Copy)]
pub(super) struct Lookup(u64);

impl BindingCache {
    pub(super) fn new() -> BindingCache {
        BindingCache {
            orders: Cache::new(CAPACITY),
            binds: Mutex::new(0),
        }
    }

    /// The remembered answer for `order`, if any (`Some(None)`: known to be unbound).
    pub(super) fn get(&self, order: Uuid) -> Option<Option<Binding>> {
        self.orders.get(&order)
    }

    /// Called before reading the database, so the answer can be remembered afterwards.
    pub(super) fn start(&self) -> Lookup {
        Lookup(*self.lock())
    }

    /// Remembers what the database said for `order`. "Unbound" is remembered only when no
    /// bind was committed since `lookup` started: that bind may be the order's.
    pub(super) fn remember(&self, order: Uuid, found: Option<Binding>, lookup: Lookup) {
        let binds = self.lock();
        if found.is_some() || *binds == lookup.0 {
            self.orders.insert(order, found);
        }
    }

    /// Called once a bind of `order` is committed, with the binding that won.
    pub(super) fn bound(&self, order: Uuid, binding: Binding) {
        let mut binds = self.lock();
        *binds += 1;
        self.orders.insert(order, Some(binding));
    }

    /// Forgets everything: the purge has removed bindings.
    pub(super) fn forget(&self) {
        let mut binds = self.lock();
        *binds += 1;
        self.orders.invalidate_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.binds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::order::Broker;

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
        let cache = BindingCache::new();
        let order = Uuid::new_v4();
        assert_eq!(cache.get(order), None, "nothing known yet");
        let lookup = cache.start();
        cache.remember(order, None, lookup);
        assert_eq!(cache.get(order), Some(None));
        cache.bound(order, binding());
        assert_eq!(cache.get(order), Some(Some(binding())));
    }

    #[test]
    fn a_lookup_that_raced_a_bind_does_not_forget_it() {
        let cache = BindingCache::new();
        let order = Uuid::new_v4();
        // The lookup read the database before the bind committed, and answers after it.
        let lookup = cache.start();
        cache.bound(order, binding());
        cache.orders.invalidate(&order); // as if evicted meanwhile
        cache.remember(order, None, lookup);
        assert_eq!(cache.get(order), None, "unbound is not remembered");
        let lookup = cache.start();
        cache.remember(order, Some(binding()), lookup);
        assert_eq!(cache.get(order), Some(Some(binding())));
    }

    #[test]
    fn forget_drops_every_order() {
        let cache = BindingCache::new();
        let order = Uuid::new_v4();
        cache.bound(order, binding());
        cache.forget();
        assert_eq!(cache.get(order), None);
    }
}
