//! The schema: created if missing, migrated by numbered steps recorded in `migrations`, all in
//! one transaction under an advisory lock, so replicas starting at once take turns (the first
//! migrates, the others find it done). And the start-up recovery of what processes that are no
//! longer running left in flight.

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;

use crate::order::{StoreError, StoreErrorKind as Kind};

use super::presence::PRESENT_OWNERS;

/// Migration `n` (from 1) is recorded as version `n` once applied. Append, never edit.
const MIGRATIONS: [&str; 5] = [V1, V2, V3, V4, V5];

const V1: &str = "
CREATE TABLE deliveries (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              uuid NOT NULL UNIQUE,
    vendor          text NOT NULL,
    tenant          text NOT NULL,
    order_id        uuid NOT NULL,
    event_id        text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('queued', 'sync')),
    state           text NOT NULL
                    CHECK (state IN ('pending', 'in_flight', 'retrying', 'delivered', 'dead')),
    order_update    jsonb NOT NULL,
    state_default   text,
    traceparent     text NOT NULL,
    body_hash       bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    next_attempt_at timestamptz,
    -- In flight: until when the claim holds, and the process that holds it (its presence key).
    lease_until     timestamptz,
    claimed_by      bigint,
    attempts        integer NOT NULL DEFAULT 0,
    patched         boolean NOT NULL DEFAULT false,
    flow_status     integer,
    flow_body       text,
    error           text
);
-- Claims: only due queued deliveries are in it, so finished ones cost a claim nothing.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq)
    WHERE state IN ('pending', 'retrying') AND mode = 'queued';
-- Per-order FIFO: each order's open deliveries, in commit order.
CREATE INDEX deliveries_line ON deliveries (order_id, seq)
    WHERE state IN ('pending', 'in_flight', 'retrying');
CREATE INDEX deliveries_leases ON deliveries (lease_until) WHERE state = 'in_flight';
CREATE INDEX deliveries_order ON deliveries (order_id, seq);
CREATE INDEX deliveries_vendor ON deliveries (vendor, seq);
CREATE INDEX deliveries_tenant ON deliveries (tenant, seq);
CREATE INDEX deliveries_state ON deliveries (state, seq);
CREATE INDEX deliveries_purge ON deliveries (state, updated_at);

CREATE TABLE attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_seq bigint NOT NULL REFERENCES deliveries (seq) ON DELETE CASCADE,
    at           timestamptz NOT NULL,
    operation    text NOT NULL,
    status       integer,
    duration_ms  bigint NOT NULL,
    error        text
);
CREATE INDEX attempts_delivery ON attempts (delivery_seq, id);

-- A key always names a delivery: deleting the delivery deletes its key.
CREATE TABLE dedup (
    vendor      text NOT NULL,
    event_id    text NOT NULL,
    delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    body_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (vendor, event_id)
);
CREATE INDEX dedup_delivery ON dedup (delivery_id);
CREATE INDEX dedup_created ON dedup (created_at);

CREATE TABLE bindings (
    order_id   uuid PRIMARY KEY,
    tenant     text NOT NULL,
    vendor     text NOT NULL,
    case_id    bigint,
    broker     jsonb NOT NULL,
    token_hash bytea NOT NULL,
    bound_at   timestamptz NOT NULL
);
CREATE INDEX bindings_bound ON bindings (bound_at);

CREATE TABLE last_sent (
    order_id    uuid PRIMARY KEY,
    title       text,
    action_text text,
    metadata    jsonb NOT NULL,
    state       text,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX last_sent_updated ON last_sent (updated_at);
";

/// The tenants' rate buckets, one per client id, shared by every process (`buckets.rs`).
const V2: &str = "
CREATE TABLE buckets (
    key        text PRIMARY KEY,
    -- Tokens left at `updated_at` (the database's clock); refilled by time when next taken.
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL
);
";

/// The buckets leave the WAL. Every Flow call of a tenant updates its one row, and a logged
/// update held the row's lock until its commit was flushed to disk, so the fleet's calls to one
/// tenant went one per WAL flush (~300 delivered webhooks a second on the bench's machine,
/// whatever its `rate_limit`). Unlogged, a take commits without a flush; what a crash of the
/// database loses is the tokens' count, and every bucket starts again full, as it did at its
/// first use.
const V3: &str = "ALTER TABLE buckets SET UNLOGGED;";

/// Refused webhooks (`rejections.rs`). Keyed by their v7 id, which sorts (as bytes, as `uuid`
/// compares) by when each was received: the listing, the trim and the purge all walk the key's
/// index.
const V4: &str = "
CREATE TABLE rejections (
    id           uuid PRIMARY KEY,
    vendor       text NOT NULL,
    received_at  timestamptz NOT NULL,
    status       integer NOT NULL,
    code         text NOT NULL,
    detail       text NOT NULL,
    errors       jsonb,
    event_id     text,
    request_id   text NOT NULL,
    content_type text,
    delivery_id  uuid,
    body         bytea NOT NULL
);
-- An operator's listing (and a replay) of one vendor's rejections, newest first, reads only
-- that vendor's; the code filter is checked on the rows a listing reads.
CREATE INDEX rejections_vendor ON rejections (vendor, id);
";

/// Accepted webhooks' bodies (`bodies.rs`), in a table of their own so a delivery's row stays
/// small and the purge can drop bodies while their deliveries stay. Keyed by the delivery's id
/// alone (a `uuid`, like `deliveries.id`), with no other index: keeping a body writes one row
/// and one key at the end of its index (v7 ids sort by time), and the purge deletes a range of
/// the key. The reference takes a body with its delivery (admin delete, purge) through that key.
const V5: &str = "
CREATE TABLE bodies (
    delivery_id uuid PRIMARY KEY REFERENCES deliveries (id) ON DELETE CASCADE,
    body        bytea NOT NULL
);
";

/// Creates the schema when missing and brings it to the newest version; a schema written by a
/// newer flowgate is refused. The connection's `search_path` is the schema already.
pub(super) async fn migrate(client: &mut Object, schema: &str) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    // One lock per schema: replicas of one fleet take turns, other fleets do not wait.
    let key = format!("flowgate migrations {schema}");
    tx.execute(
        "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended($1, 0))",
        &[&key],
    )
    .await?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
            &[&schema],
        )
        .await?
        .is_some();
    // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the
    // schema exists. The name is a checked identifier; quoted, it keeps its case.
    if !exists {
        tx.batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\"; SET LOCAL search_path TO \"{schema}\""
        ))
        .await?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS migrations (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let version: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM migrations", &[])
        .await?
        .try_get(0)?;
    let known = MIGRATIONS.len();
    let applied = usize::try_from(version).unwrap_or(usize::MAX);
    if applied > known {
        return Err(StoreError::new(
            Kind::Corrupt,
            format!("the database has schema version {version}; this flowgate knows up to {known}"),
        ));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(migration).await?;
        let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
        tx.execute("INSERT INTO migrations (version) VALUES ($1)", &[&number])
            .await?;
    }
    tx.commit().await?;
    if applied < known {
        tracing::info!(
            from = applied,
            to = known,
            "the store's schema was migrated"
        );
    }
    Ok(())
}

/// Queued deliveries whose claim belongs to no running process are due again at once (the
/// interrupted attempt spent nothing); sync ones are dead (their vendor got no answer and
/// will retry) and give their dedup key back. Claims of running processes are left alone.
const REQUEUE_ORPHANS: &str = "
    WITH present AS MATERIALIZED (%PRESENT%)
    UPDATE deliveries
    SET state = CASE WHEN attempts > 0 THEN 'retrying' ELSE 'pending' END,
        next_attempt_at = $1, lease_until = NULL, claimed_by = NULL, updated_at = $1
    WHERE state = 'in_flight' AND mode = 'queued'
      AND (claimed_by IS NULL OR claimed_by NOT IN (SELECT * FROM present))";

const INTERRUPT_ORPHANS: &str = "
    WITH present AS MATERIALIZED (%PRESENT%),
    interrupted AS (
        UPDATE deliveries
        SET state = 'dead', error = 'interrupted', next_attempt_at = NULL, lease_until = NULL,
            claimed_by = NULL, updated_at = $1
        WHERE state = 'in_flight' AND mode = 'sync'
          AND (claimed_by IS NULL OR claimed_by NOT IN (SELECT * FROM present))
        RETURNING id
    ),
    keys AS (DELETE FROM dedup WHERE delivery_id IN (SELECT id FROM interrupted))
    SELECT count(*) FROM interrupted";

pub(super) async fn recover(client: &mut Object, now: DateTime<Utc>) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    let requeued = tx
        .execute(
            &REQUEUE_ORPHANS.replace("%PRESENT%", PRESENT_OWNERS),
            &[&now],
        )
        .await?;
    let interrupted: i64 = tx
        .query_one(
            &INTERRUPT_ORPHANS.replace("%PRESENT%", PRESENT_OWNERS),
            &[&now],
        )
        .await?
        .try_get(0)?;
    tx.commit().await?;
    if requeued > 0 || interrupted > 0 {
        tracing::warn!(
            requeued,
            interrupted,
            "deliveries left in flight by processes no longer running recovered"
        );
    }
    Ok(())
}
