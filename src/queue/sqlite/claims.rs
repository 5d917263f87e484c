//! Claims held in memory. One process owns the database (`lock.rs`), so a claim need not be
//! written: a claimed delivery's row stays `pending` or `retrying`, due as it was, while this
//! process remembers that its attempt runs. A claim then writes no row and moves no index
//! entry, and a process that dies leaves what it held due at once, as an interrupted attempt
//! must be. Every view of a delivery shows a held one as `in_flight` ([`Claims::overlay`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use crate::queue::{DeliveryRecord, DeliveryState, QueueDepth, TenantDepth};

/// One held claim: what the views need to show it in flight.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub seq: i64,
    pub tenant: String,
    /// The row's state, `pending` or `retrying`.
    pub state: DeliveryState,
    pub lease_until: i64,
}

/// The claims of this process's workers, by delivery id: at most the workers' concurrency.
#[derive(Debug, Default)]
pub(super) struct Claims {
    held: Mutex<HashMap<Uuid, Held>>,
}

impl Claims {
    fn held(&self) -> MutexGuard<'_, HashMap<Uuid, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `id` unless it is held already; whether it was taken.
    pub(super) fn hold(&self, id: Uuid, held: Held) -> bool {
        let mut all = self.held();
        if all.contains_key(&id) {
            return false;
        }
        all.insert(id, held);
        true
    }

    pub(super) fn is_held(&self, id: Uuid) -> bool {
        self.held().contains_key(&id)
    }

    pub(super) fn count(&self) -> usize {
        self.held().len()
    }

    /// The keys held, for a listing of what is in flight.
    pub(super) fn seqs(&self) -> Vec<i64> {
        self.held().values().map(|held| held.seq).collect()
    }

    pub(super) fn renew(&self, id: Uuid, lease_until: i64) {
        if let Some(held) = self.held().get_mut(&id) {
            held.lease_until = lease_until;
        }
    }

    /// The turn of `id` ended (or its delivery is gone).
    pub(super) fn release(&self, id: Uuid) {
        self.held().remove(&id);
    }

    /// Lets go of claims whose lease ended before `now` (a worker that stopped without ending
    /// its turn): their rows are due already.
    pub(super) fn release_expired(&self, now: i64) -> u64 {
        let mut all = self.held();
        let before = all.len();
        all.retain(|_, held| held.lease_until >= now);
        (before - all.len()) as u64
    }

    /// Shows held deliveries as in flight.
    pub(super) fn overlay(&self, record: &mut DeliveryRecord) {
        if matches!(
            record.state,
            DeliveryState::Pending | DeliveryState::Retrying
        ) && self.is_held(record.id)
        {
            record.state = DeliveryState::InFlight;
        }
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

    fn held(seq: i64, lease_until: i64) -> Held {
        Held {
            seq,
            tenant: "demo".to_owned(),
            state: DeliveryState::Pending,
            lease_until,
        }
    }

    #[test]
    fn a_claim_is_held_once_until_released_or_expired() {
        let claims = Claims::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(claims.hold(a, held(1, 100)));
        assert!(!claims.hold(a, held(1, 100)), "held already");
        assert!(claims.hold(b, held(2, 100)));
        claims.renew(b, 300);
        assert_eq!(claims.release_expired(200), 1);
        assert!(!claims.is_held(a) && claims.is_held(b));
        claims.release(b);
        assert_eq!(claims.count(), 0);
    }
}
