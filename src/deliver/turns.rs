//! One order's calls take turns: while a delivery for an order runs, the next waits, so each
//! body is merged over what the previous one left.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};
use uuid::Uuid;

/// An order's turn; it ends when dropped.
pub type Turn = OwnedMutexGuard<()>;

/// Beyond this many remembered orders, those nobody is waiting for are forgotten.
const SWEEP_AT: usize = 1024;

#[derive(Default)]
pub struct OrderTurns {
    locks: Mutex<HashMap<Uuid, Weak<TurnLock<()>>>>,
}

impl OrderTurns {
    /// Waits for `order`'s turn; the turn ends when the guard is dropped.
    pub async fn take(&self, order: Uuid) -> Turn {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            if locks.len() >= SWEEP_AT {
                locks.retain(|_, lock| lock.strong_count() > 0);
            }
            match locks.get(&order).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(TurnLock::new(()));
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
        let turns = OrderTurns::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let held = turns.take(a).await;
        let other = tokio::time::timeout(Duration::from_secs(1), turns.take(b)).await;
        assert!(other.is_ok(), "another order is not blocked");
        let same = tokio::time::timeout(Duration::from_millis(50), turns.take(a)).await;
        assert!(same.is_err(), "the same order waits for its turn");
        drop(held);
        let after = tokio::time::timeout(Duration::from_secs(1), turns.take(a)).await;
        assert!(after.is_ok(), "the turn passes on when released");
    }
}
