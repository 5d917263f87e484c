//! One lock per order: while a delivery for an order runs, the next waits for the lock, so each
//! body is merged over what the previous one left.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{Mutex as OrderLock, OwnedMutexGuard};
use uuid::Uuid;

/// An order's lock, held; it is released when dropped.
pub type OrderGuard = OwnedMutexGuard<()>;

/// Beyond this many remembered orders, those nobody is waiting for are forgotten.
const SWEEP_AT: usize = 1024;

/// The locks of the orders being delivered, each kept while someone holds or awaits it.
#[derive(Default)]
pub struct OrderLocks {
    locks: Mutex<HashMap<Uuid, Weak<OrderLock<()>>>>,
}

impl OrderLocks {
    /// Waits for `order`'s lock; it is released when the guard is dropped.
    pub async fn lock(&self, order: Uuid) -> OrderGuard {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            if locks.len() >= SWEEP_AT {
                locks.retain(|_, lock| lock.strong_count() > 0);
            }
            match locks.get(&order).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(OrderLock::new(()));
                    locks.insert(order, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_order_waits_another_does_not() {
        let locks = OrderLocks::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let held = locks.lock(a).await;
        let other = tokio::time::timeout(Duration::from_secs(1), locks.lock(b)).await;
        assert!(other.is_ok(), "another order is not blocked");
        let same = tokio::time::timeout(Duration::from_millis(50), locks.lock(a)).await;
        assert!(same.is_err(), "the same order waits for its lock");
        drop(held);
        let after = tokio::time::timeout(Duration::from_secs(1), locks.lock(a)).await;
        assert!(after.is_ok(), "the lock passes on when released");
    }
}
