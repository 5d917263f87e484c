//! Schema version 7: an accepted webhook is one row. The delivery's row carries its dedup key
//! (a 16-byte hash, in one unique index), its calls to Flow (JSON, written with the state change
//! that ends each turn) and ids as 16-byte blobs; its key is in time order (`keys.rs`), so the
//! purge and time filters are key ranges. Indexes on every row are only those the guarantees
//! need; admin filters read a partial index of unfinished rows or a bounded window.

use rusqlite::{Connection, params};

use crate::order::StoreError;
use crate::queue::dedup_key;

use super::keys;

/// The new tables beside the old ones, and the old keys' new values.
const TABLES: &str = "
CREATE TABLE deliveries_v7 (
    seq             INTEGER PRIMARY KEY,
    id              BLOB NOT NULL,
    vendor          TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    order_id        BLOB NOT NULL,
    event_id        TEXT NOT NULL,
    dedup_key       BLOB,
    mode            TEXT NOT NULL CHECK (mode = 'queued' OR mode = 'sync'),
    state           TEXT NOT NULL CHECK (state = 'pending' OR state = 'in_flight'
                        OR state = 'retrying' OR state = 'delivered' OR state = 'dead'),
    update_json     TEXT NOT NULL,
    state_default   TEXT,
    traceparent     TEXT NOT NULL,
    body_hash       BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    lease_until     INTEGER,
    attempts        INTEGER NOT NULL DEFAULT 0,
    patched         INTEGER NOT NULL DEFAULT 0,
    parked          INTEGER NOT NULL DEFAULT 0,
    flow_status     INTEGER,
    flow_body       TEXT,
    error           TEXT,
    calls           TEXT
);
CREATE TABLE bodies_v7 (
    seq  INTEGER PRIMARY KEY,
    body BLOB NOT NULL
);
-- Keyed by the order alone: a rowid table would keep a second b-tree for the key.
CREATE TABLE last_sent_v7 (
    order_id      TEXT PRIMARY KEY,
    title         TEXT,
    action_text   TEXT,
    metadata_json TEXT NOT NULL,
    state         TEXT,
    updated_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TEMP TABLE rekeyed (old INTEGER PRIMARY KEY, new INTEGER NOT NULL);
";

/// A UUID stored as hyphenated text, as a 16-byte blob.
macro_rules! blob {
    ($column:literal) => {
        concat!("unhex(replace(", $column, ", '-', ''))")
    };
}

/// Every row copied under its new key; attempts become each delivery's `calls`, as
/// `queue::Attempt` serialises (times in RFC 3339 with milliseconds).
const COPY: &str = concat!(
    "INSERT INTO deliveries_v7 (seq, id, vendor, tenant, order_id, event_id, mode, state,
         update_json, state_default, traceparent, body_hash, created_at, updated_at,
         next_attempt_at, lease_until, attempts, patched, parked, flow_status, flow_body, error,
         calls)
     SELECT r.new, ",
    blob!("d.id"),
    ", d.vendor, d.tenant, ",
    blob!("d.order_id"),
    ", d.event_id, d.mode, d.state, d.update_json, d.state_default, d.traceparent, d.body_hash,
         d.created_at, d.updated_at, d.next_attempt_at, d.lease_until, d.attempts, d.patched,
         d.parked, d.flow_status, d.flow_body, d.error,
         (SELECT '[' || group_concat(json_object(
                 'at', printf('%s.%03dZ', strftime('%Y-%m-%dT%H:%M:%S', a.at / 1000, 'unixepoch'),
                     a.at % 1000),
                 'operation', a.operation, 'status', a.status, 'duration_ms', a.duration_ms,
                 'error', a.error), ',') || ']'
          FROM (SELECT * FROM attempts WHERE delivery_seq = d.seq ORDER BY id) a)
     FROM deliveries d JOIN temp.rekeyed r ON r.old = d.seq;
     INSERT INTO bodies_v7 (seq, body)
     SELECT r.new, b.body FROM bodies b JOIN deliveries d ON d.id = b.delivery_id
         JOIN temp.rekeyed r ON r.old = d.seq;
     INSERT INTO last_sent_v7 SELECT order_id, title, action_text, metadata_json, state,
         updated_at FROM last_sent;"
);

/// The old tables go, the new ones take their names, and the indexes are built once.
const SWAP: &str = "
DROP TRIGGER deliveries_bodies_out;
DROP TABLE attempts;
DROP TABLE dedup;
DROP TABLE bodies;
DROP TABLE deliveries;
DROP TABLE last_sent;
DROP TABLE temp.rekeyed;
ALTER TABLE deliveries_v7 RENAME TO deliveries;
ALTER TABLE bodies_v7 RENAME TO bodies;
ALTER TABLE last_sent_v7 RENAME TO last_sent;
CREATE INDEX last_sent_updated ON last_sent (updated_at);
";

/// The indexes every accepted webhook writes, and those of the few rows that are not done.
pub(super) const INDEXES: &str = "
-- Admin lookups by id, and each webhook's answer names it: appended at the b-tree's end, as
-- v7 ids grow with time.
CREATE UNIQUE INDEX deliveries_id ON deliveries (id);
-- Dedup: one fixed-size entry per key; a key given back (a failed sync delivery) is NULL.
CREATE UNIQUE INDEX deliveries_dedup ON deliveries (dedup_key) WHERE dedup_key IS NOT NULL;
-- Per-order FIFO and the admin's order view: an order's open deliveries are found in the
-- index itself, without reading its history.
CREATE INDEX deliveries_order ON deliveries (order_id, state, seq);
-- Claims: only due queued deliveries are in it, so finished ones cost a claim nothing.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq)
    WHERE state IN ('pending', 'retrying') AND mode = 'queued' AND parked = 0;
-- Paused tenants' parked deliveries (`parked.rs`).
CREATE INDEX deliveries_parked ON deliveries (tenant) WHERE parked = 1;
-- What is not delivered (open or dead: few beside the delivered): the queue's depth, the dead
-- purge, redrive and the admin's state filters. A delivery leaves it once delivered.
CREATE INDEX deliveries_unfinished ON deliveries (state, seq) WHERE state <> 'delivered';
-- A delivery's deletion (admin, purge) takes its body: a lookup per deleted delivery, nothing
-- per commit.
CREATE TRIGGER deliveries_bodies_out AFTER DELETE ON deliveries
BEGIN
    DELETE FROM bodies WHERE seq = old.seq;
END;
";

/// Applies version 7 inside the migration's transaction.
pub(super) fn one_row_per_webhook(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(TABLES)?;
    rekey(conn)?;
    conn.execute_batch(COPY)?;
    fold_dedup_keys(conn)?;
    conn.execute_batch(SWAP)?;
    conn.execute_batch(INDEXES)?;
    Ok(())
}

/// New keys in the old order (the order a line of one order is served in), each at least the
/// delivery's time (`keys.rs`).
fn rekey(conn: &Connection) -> Result<(), StoreError> {
    let mut old = conn.prepare("SELECT seq, created_at FROM deliveries ORDER BY seq")?;
    let mut write = conn.prepare("INSERT INTO temp.rekeyed (old, new) VALUES (?1, ?2)")?;
    let mut last = 0;
    let mut rows = old.query([])?;
    while let Some(row) = rows.next()? {
        let (seq, created): (i64, i64) = (row.get(0)?, row.get(1)?);
        last = keys::after(last, created);
        write.execute(params![seq, last])?;
    }
    Ok(())
}

/// Each dedup key that still names its delivery moves onto the delivery's row, hashed.
fn fold_dedup_keys(conn: &Connection) -> Result<(), StoreError> {
    let mut keys = conn.prepare(
        "SELECT k.vendor, k.event_id, r.new FROM dedup k
         JOIN deliveries d ON d.id = k.delivery_id JOIN temp.rekeyed r ON r.old = d.seq",
    )?;
    let mut write = conn.prepare("UPDATE deliveries_v7 SET dedup_key = ?2 WHERE seq = ?1")?;
    let mut rows = keys.query([])?;
    while let Some(row) = rows.next()? {
        let (vendor, event_id, seq): (String, String, i64) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        write.execute(params![seq, dedup_key(&vendor, &event_id)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use rusqlite::Connection;
    use uuid::Uuid;

    use crate::config::SyncMode;
    use crate::queue::DeliveryState;

    use super::super::{admin, bodies, deliveries, keys, schema};

    const A: &str = "0190a0c8-0000-7000-8000-00000000000a";
    const B: &str = "0190a0c8-0000-7000-8000-00000000000b";
    const C: &str = "0190a0c8-0000-7000-8000-00000000000c";
    const ORDER: &str = "0190a0c8-0000-7000-8000-0000000000ff";
    const T: i64 = 1_790_000_000_000;

    /// A database as version 6 wrote it: a delivered queued delivery with two attempts, its
    /// dedup key and its body; a later one of the same order waiting unscheduled, with its key;
    /// a sync one that died and gave its key back.
    fn version_6(path: &std::path::Path) {
        let mut conn = Connection::open(path).expect("open");
        schema::migrate_to(&mut conn, 6).expect("version 6");
        conn.execute_batch(&format!(
            "INSERT INTO deliveries (id, vendor, tenant, order_id, event_id, mode, state,
                 update_json, traceparent, body_hash, created_at, updated_at, next_attempt_at,
                 attempts, patched)
             VALUES ('{A}', 'photo', 'demo', '{ORDER}', 'e-a', 'queued', 'delivered',
                 '{{\"state\":\"Completed\"}}', 'tp-a', zeroblob(32), {T}, {T}, NULL, 0, 1),
                ('{B}', 'photo', 'demo', '{ORDER}', 'e-b', 'queued', 'pending',
                 '{{\"state\":\"Completed\"}}', 'tp-b', zeroblob(32), {T}, {T}, NULL, 0, 0),
                ('{C}', 'print', 'demo', '{ORDER}', 'e-c', 'sync', 'dead',
                 '{{\"state\":\"Completed\"}}', 'tp-c', zeroblob(32), {T}, {T}, NULL, 0, 0);
             INSERT INTO attempts (delivery_seq, at, operation, status, duration_ms, error)
             VALUES (1, {T} + 5, 'patch', 200, 12, NULL),
                (1, {T} + 21, 'updatestate', 503, 7, 'Flow answered 503');
             INSERT INTO dedup (vendor, event_id, delivery_id, body_hash, created_at)
             VALUES ('photo', 'e-a', '{A}', x'aa', {T}), ('photo', 'e-b', '{B}', x'bb', {T});
             INSERT INTO bodies (delivery_id, body) VALUES ('{A}', x'7b7d');"
        ))
        .expect("version 6 rows");
    }

    #[test]
    fn a_version_6_database_keeps_its_deliveries_calls_keys_and_bodies() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v6.db");
        version_6(&path);
        let conn = schema::prepare(&path, SyncMode::Normal).expect("migrated");
        let id = |text: &str| Uuid::parse_str(text).expect("uuid");

        let a = admin::get(&conn, id(A)).expect("read").expect("kept");
        assert_eq!(a.state, DeliveryState::Delivered);
        assert_eq!(a.order_id, id(ORDER));
        let calls: Vec<_> = a
            .attempts
            .iter()
            .map(|c| {
                (
                    c.operation.as_str(),
                    c.status,
                    c.duration_ms,
                    c.error.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            calls,
            [
                ("patch", Some(200), 12, None),
                ("updatestate", Some(503), 7, Some("Flow answered 503"))
            ]
        );
        let at = DateTime::<Utc>::from_timestamp_millis(T + 21).expect("time");
        assert_eq!(a.attempts[1].at, at, "times kept to the millisecond");
        assert_eq!(
            bodies::get(&conn, id(A)).expect("body").as_deref(),
            Some(&b"{}"[..])
        );

        let taken = deliveries::find(&conn, "photo", "e-a", 0).expect("find");
        assert_eq!(taken.map(|e| e.id), Some(id(A)), "the key still dedups");
        let given_back = deliveries::find(&conn, "print", "e-c", 0).expect("find");
        assert_eq!(given_back, None);

        let b = admin::get(&conn, id(B)).expect("read").expect("kept");
        assert_eq!(b.next_attempt_at, None, "still waits its turn");
        let order = admin::order_deliveries(&conn, id(ORDER)).expect("order");
        let ids: Vec<Uuid> = order.iter().map(|d| d.id).collect();
        assert_eq!(ids, [id(C), id(B), id(A)], "the line's order is kept");

        let seqs: Vec<i64> = conn
            .prepare("SELECT seq FROM deliveries ORDER BY seq")
            .expect("keys")
            .query_map([], |row| row.get(0))
            .expect("keys")
            .collect::<Result<_, _>>()
            .expect("keys");
        assert_eq!(seqs[0], keys::first_at(T), "keys in time order");
        for gone in ["attempts", "dedup"] {
            let tables: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_schema WHERE name = ?1",
                    [gone],
                    |row| row.get(0),
                )
                .expect("schema");
            assert_eq!(tables, 0, "{gone}");
        }
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity check");
        assert_eq!(integrity, "ok");
    }
}
