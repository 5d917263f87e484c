//! Claims held in memory. One process owns the database (`lock.rs`), so a claim need not be
//! written: a claimed delivery's row stays `pending` or `retrying`, due as it was, while this
//! process remembers that its attempt runs. A claim then writes no row and moves no index
//! entry, and a process that dies leaves what it held due at once, as an interrupted attempt
//! must be. Every view of a delivery shows a held one as `in_flight` ([`Claims::overlay`]).
//! The claims' query asks SQL's `held(seq)` ([`install`]), which it answers from the due
//! index's entry alone, so stepping over the held ones reads none of their rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use uuid::Uuid;

use crate::order::StoreError;
use crate::queue::{DeliveryRecord, DeliveryState, QueueDepth, TenantDepth};

/// Gives `conn` the SQL function `held(seq)`: whether a worker of this process holds the
/// delivery `seq`.
pub(super) fn install(conn: &Connection, claims: Arc<Claims>) -> Result<(), StoreError> {
    conn.create_scalar_function("held", 1, FunctionFlags::SQLITE_UTF8, move |call| {
        Ok(claims.held().contains_key(&call.get::<i64>(0)?))
    })?;
    Ok(())
}

/// One held claim: what the views need to show it in flight.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub id: Uuid,
    pub tenant: String,
    /// The row's state, `pending` or `retrying`.
    pub state: DeliveryState,
    pub lease_until: i64,
}

/// The claims of this process's workers, by delivery key: at most the workers' concurrency,
/// so lookups by id walk them all.
#[derive(Debug, Default)]
pub(super) struct Claims {
    held: Mutex<HashMap<i64, Held>>,
}

impl Claims {
    fn held(&self) -> MutexGuard<'_, HashMap<i64, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds the delivery `seq` unless it is held already; whether it was taken.
    pub(super) fn hold(&self, seq: i64, held: Held) -> bool {
        let mut all = self.held();
        if all.contains_key(&seq) {
            return false;
        }
        all.insert(seq, held);
        true
    }

    pub(super) fn is_held(&self, id: Uuid) -> bool {
        self.held().values().any(|held| held.id == id)
    }

    pub(super) fn count(&self) -> usize {
        self.held().len()
    }

    /// The keys held, for a listing of what is in flight.
    pub(super) fn seqs(&self) -> Vec<i64> {
        self.held().keys().copied().collect()
    }

    pub(super) fn renew(&self, id: Uuid, lease_until: i64) {
        if let Some(held) = self.held().values_mut().find(|held| held.id == id) {
            held.lease_until = lease_until;
        }
    }

    /// The turn of `id` ended (or its delivery is gone).
    pub(super) fn release(&self, id: Uuid) {
        self.held().retain(|_, held| held.id != id);
    }

    /// Lets go of claims whose lease ended before `now` (a worker that stopped without ending
    /// its turn): their rows are due already.
    pub(super) fn release_expired(&self, now: i64) -> u64 {
        let mut all = self.held();
        let before = all.len();
        all.retain(|_, held| held.lease_until >= now);
        (before - all.len()) as u64
    }

    /// The state a delivery whose row says `state` is shown in: `in_flight` while it is held
    /// and its row still open (a finished one may be held until its turn's end is released).
    pub(super) fn shown(&self, id: Uuid, state: DeliveryState) -> DeliveryState {
        match state {
            DeliveryState::Pending | DeliveryState::Retrying if self.is_held(id) => {
                DeliveryState::InFlight
            }
            state => state,
        }
    }

    /// Shows a held delivery as in flight.
    pub(super) fn overlay(&self, record: &mut DeliveryRecord) {
        record.state = self.shown(record.id, record.state);
    }

    /// The depth as the rows count it, with the held deliveries moved to `in_flight`.
    pub(super) fn adjust_depth(&self, depth: &mut QueueDepth) {
        for held in self.held().values() {
            let counts = (
                &mut depth.pending,
                &mut depth.retrying,
                &mut depth.in_flight,
            );
            move_in_flight(held.state, counts);
        }
    }

    /// [`Claims::adjust_depth`] for each tenant's counts.
    pub(super) fn adjust_tenants(&self, depths: &mut BTreeMap<String, TenantDepth>) {
        for held in self.held().values() {
            let depth = depths.entry(held.tenant.clone()).or_default();
            let counts = (
                &mut depth.pending,
                &mut depth.retrying,
                &mut depth.in_flight,
            );
            move_in_flight(held.state, counts);
        }
    }
}

/// One held delivery leaves the count of its row's state for the (pending, retrying,
/// in_flight) count of an attempt running.
fn move_in_flight(
    state: DeliveryState,
    (pending, retrying, in_flight): (&mut u64, &mut u64, &mut u64),
) {
    let from = match state {
        DeliveryState::Pending => pending,
        _ => retrying,
    };
    *from = from.saturating_sub(1);
    *in_flight += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(id: Uuid, lease_until: i64) -> Held {
        Held {
            id,
            tenant: "demo".to_owned(),
            state: DeliveryState::Pending,
            lease_until,
        }
    }

    #[test]
    fn a_claim_is_held_once_until_released_or_expired() {
        let claims = Claims::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(claims.hold(1, held(a, 100)));
        assert!(!claims.hold(1, held(a, 100)), "held already");
        assert!(claims.hold(2, held(b, 100)));
        claims.renew(b, 300);
        assert_eq!(claims.release_expired(200), 1);
        assert!(!claims.is_held(a) && claims.is_held(b));
        claims.release(b);
        assert_eq!(claims.count(), 0);
    }
}
