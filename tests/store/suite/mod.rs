//! The store's behaviour suite, written against [`Store`] alone so every store runs the same
//! cases: a backend module (`sqlite.rs`, `postgres/mod.rs`) implements [`Backend`] and lists the
//! suite's trials with [`store_suite!`]. Cases are grouped by what they exercise: `enqueue`,
//! `claim`, `admin`, `upkeep`, `rejections`, `bodies`.

pub mod admin;
pub mod bodies;
pub mod claim;
pub mod enqueue;
pub mod rejections;
pub mod upkeep;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use flowgate::config::DeliveryMode;
use flowgate::order::OrderUpdate;
use flowgate::queue::{Attempt, DeliveryContent, Enqueued, Finish, NewDelivery, Store};

/// A store under test, on data of its own.
#[async_trait]
pub trait Backend: Send {
    fn store(&self) -> Arc<dyn Store>;
    /// Stops the store as a killed process would leave it and opens it again on the same data.
    /// Callers drop the stores they got from [`Backend::store`] first.
    async fn restart(&mut self);
}

/// The suite's trials, of the harness's `$kind`, each on a fresh backend made by `$backend`.
macro_rules! store_suite {
    ($kind:ident, $backend:expr) => {
        store_suite!(@cases $kind $backend;
            enqueue::enqueue_then_claim,
            enqueue::dedup_taken_within_the_window,
            enqueue::dedup_key_replaced_outside_the_window,
            enqueue::dedup_off_is_never_taken,
            enqueue::sync_dead_gives_the_key_back,
            enqueue::sync_delivered_keeps_the_key,
            enqueue::sync_deliveries_are_never_claimed,
            enqueue::concurrent_enqueues_each_acknowledged_once,
            enqueue::a_failing_delivery_among_concurrent_ones_fails_alone,
            enqueue::racing_enqueues_of_one_key_commit_one,
            claim::later_delivery_waits_for_the_earlier_one,
            claim::dead_delivery_leaves_the_line,
            claim::orders_run_in_parallel,
            claim::claim_waits_for_next_attempt_at,
            claim::claim_skips_paused_tenants,
            claim::a_resumed_tenant_is_claimed_in_due_order,
            claim::claim_honours_the_limit_in_due_order,
            claim::retry_counts_only_spent_attempts,
            claim::dead_keeps_flows_answer,
            claim::attempts_are_recorded_in_order,
            claim::expired_leases_are_released,
            claim::renew_extends_the_lease,
            claim::finish_of_an_unknown_delivery_is_harmless,
            claim::restart_recovers_what_was_in_flight,
            admin::list_filters,
            admin::list_pages_with_a_cursor,
            admin::get_shows_a_delivery_with_its_attempts,
            admin::operations_follow_the_update,
            admin::retry_rules,
            admin::retry_of_a_sync_delivery_is_refused,
            admin::retried_delivery_goes_first_in_its_order,
            admin::cancel_rules,
            admin::cancelled_in_flight_is_not_revived,
            admin::delete_rules,
            admin::redrive_counts,
            admin::order_deliveries_newest_first,
            upkeep::purge_delivered_by_retention,
            upkeep::purge_dead_only_with_a_retention,
            upkeep::dedup_keys_expire_with_the_window,
            upkeep::purge_forgets_untouched_orders,
            upkeep::depth_counts_and_oldest,
            upkeep::depth_by_tenant_counts_open_and_dead,
            upkeep::first_binding_wins,
            upkeep::last_sent_round_trip,
            upkeep::finish_records_what_was_sent,
            upkeep::a_working_store_is_accepting,
            rejections::kept_as_received_with_its_exact_bytes,
            rejections::listed_newest_first_by_vendor_code_and_time,
            rejections::listed_in_pages_with_a_cursor,
            rejections::read_for_replay_oldest_first_with_bodies,
            rejections::deleted_one_by_one,
            rejections::purged_by_retention,
            rejections::trimmed_to_the_newest_max,
            rejections::kept_while_webhooks_commit,
            rejections::a_failing_rejection_among_webhooks_fails_alone,
            bodies::kept_in_its_deliverys_commit_with_its_exact_bytes,
            bodies::listed_oldest_first_by_vendor_time_and_ids,
            bodies::listed_in_pages_with_a_cursor,
            bodies::purged_by_their_own_retention,
            bodies::deleted_with_their_delivery,
        )
    };
    (@cases $kind:ident $backend:expr; $($module:ident :: $case:ident),* $(,)?) => {
        vec![$(
            $crate::harness::$kind(
                $crate::harness::name(
                    module_path!(),
                    concat!(stringify!($module), "::", stringify!($case)),
                ),
                0,
                || async {
                    let mut backend = $backend;
                    $crate::suite::$module::$case(&mut backend).await;
                },
            )
        ),*]
    };
}
pub(crate) use store_suite;

// === fixtures ===

pub const VENDOR: &str = "photo";
pub const TENANT: &str = "demo";

/// Now, cut to the millisecond the stores keep, so times read back compare equal.
pub fn t0() -> DateTime<Utc> {
    let now = Utc::now().timestamp_millis();
    DateTime::from_timestamp_millis(now).expect("now is representable")
}

pub fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

pub fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// A queued delivery of `order` with a dedup key of its own, committed at `created_at`.
pub fn delivery(order: Uuid, created_at: DateTime<Utc>) -> NewDelivery {
    let id = Uuid::new_v4();
    NewDelivery {
        content: DeliveryContent {
            id,
            vendor: VENDOR.to_owned(),
            tenant: TENANT.to_owned(),
            order_id: order,
            event_id: format!("evt-{id}"),
            update: OrderUpdate {
                state: Some("InProcess".to_owned()),
                ..OrderUpdate::default()
            },
            state_default: Some("InProcess".to_owned()),
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            created_at,
        },
        dedup: true,
        body_hash: [7; 32],
        mode: DeliveryMode::Queued,
        body: None,
    }
}

pub fn sync_delivery(order: Uuid, created_at: DateTime<Utc>) -> NewDelivery {
    NewDelivery {
        mode: DeliveryMode::Sync,
        ..delivery(order, created_at)
    }
}

/// Commits `delivery` (its key free since a day before it) and returns its id.
pub async fn accept(store: &dyn Store, delivery: NewDelivery) -> Uuid {
    let id = delivery.content.id;
    let since = delivery.content.created_at - days(1);
    let enqueued = store.enqueue(delivery, since).await.expect("enqueue");
    assert_eq!(enqueued, Enqueued::Accepted);
    id
}

/// The ids a claim at `now` returns, leased for a minute.
pub async fn claim_ids(store: &dyn Store, now: DateTime<Utc>, limit: usize) -> Vec<Uuid> {
    let claimed = store
        .claim(now, limit, now + secs(60), &[])
        .await
        .expect("claim");
    claimed.into_iter().map(|c| c.content.id).collect()
}

/// Claims exactly `id` (it must be the only one due at `now`).
pub async fn claim_one(store: &dyn Store, now: DateTime<Utc>, id: Uuid) {
    assert_eq!(claim_ids(store, now, 10).await, vec![id]);
}

pub async fn finish(store: &dyn Store, id: Uuid, finish: Finish) {
    store
        .finish(id, Vec::new(), finish, None)
        .await
        .expect("finish");
}

pub fn retry_at(at: DateTime<Utc>, spent: bool) -> Finish {
    Finish::Retry {
        at,
        spent,
        patched: false,
        error: "flow answered 503".to_owned(),
    }
}

pub fn dead(status: u16) -> Finish {
    Finish::Dead {
        patched: false,
        flow_status: Some(status),
        flow_body: Some("{\"Message\":\"refused\"}".to_owned()),
        error: format!("flow answered {status}"),
    }
}

pub fn attempt(at: DateTime<Utc>, operation: &str, status: Option<u16>) -> Attempt {
    Attempt {
        at,
        operation: operation.to_owned(),
        status,
        duration_ms: 12,
        error: status
            .filter(|s| *s >= 400)
            .map(|s| format!("flow answered {s}")),
    }
}

/// Claims `id` at `now` and ends its turn with `end`.
pub async fn claim_and_finish(store: &dyn Store, now: DateTime<Utc>, id: Uuid, end: Finish) {
    claim_one(store, now, id).await;
    finish(store, id, end).await;
}
