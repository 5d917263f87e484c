//! The database's settings, its migrations (numbered by `PRAGMA user_version`, applied in one
//! transaction) and the start-up recovery of deliveries a previous process left in flight.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use crate::config::SyncMode;
use crate::order::{StoreError, StoreErrorKind as Kind};

use super::deliveries::requeue_in_flight;
use super::rows::millis;
use super::schema_v7;

/// How long a statement waits for another connection's lock (a checkpoint, an operator's
/// `sqlite3` shell) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// WAL pages after which the writer checkpoints by itself: only when the checkpoint thread
/// (`checkpoint.rs`) has fallen far behind, so the WAL stays bounded (~40 MiB) whatever happens.
const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// Prepared statements kept per connection: every query of the store fits, so none is
/// compiled twice.
const STATEMENT_CACHE: usize = 64;

/// Migration `n` (from 1) brings `user_version` from `n - 1` to `n`. Append, never edit.
const MIGRATIONS: [Migration; 7] = [
    Migration::Sql(V1),
    Migration::Sql(V2),
    Migration::Sql(V3),
    Migration::Run(state_check_without_a_list),
    Migration::Sql(V5),
    Migration::Sql(V6),
    Migration::Run(schema_v7::one_row_per_webhook),
];

enum Migration {
    Sql(&'static str),
    /// A step SQL alone cannot write (it computes a PRAGMA's value).
    Run(fn(&Connection) -> Result<(), StoreError>),
}

const V1: &str = "
CREATE TABLE deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    vendor          TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('queued', 'sync')),
    state           TEXT NOT NULL
                    CHECK (state IN ('pending', 'in_flight', 'retrying', 'delivered', 'dead')),
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
    flow_status     INTEGER,
    flow_body       TEXT,
    error           TEXT
);
-- Claims: only due queued deliveries are in it, so finished ones cost the claim nothing.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq)
    WHERE state IN ('pending', 'retrying') AND mode = 'queued';
-- Per-order FIFO and the admin's order view: an order has a handful of deliveries.
CREATE INDEX deliveries_order ON deliveries (order_id, seq);
CREATE INDEX deliveries_vendor ON deliveries (vendor, seq);
CREATE INDEX deliveries_tenant ON deliveries (tenant, seq);
CREATE INDEX deliveries_state ON deliveries (state, seq);
CREATE INDEX deliveries_purge ON deliveries (state, updated_at);

CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_seq INTEGER NOT NULL REFERENCES deliveries (seq) ON DELETE CASCADE,
    at           INTEGER NOT NULL,
    operation    TEXT NOT NULL,
    status       INTEGER,
    duration_ms  INTEGER NOT NULL,
    error        TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_seq, id);

-- Keyed by the key alone (no rowid, no index on delivery_id, no foreign key): each of these
-- would cost every commit a page write at a random place. A key whose delivery was deleted
-- names nothing and counts as free (readers join to deliveries); the purge removes it.
CREATE TABLE dedup (
    vendor      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    body_hash   BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (vendor, event_id)
) WITHOUT ROWID;
CREATE INDEX dedup_created ON dedup (created_at);

CREATE TABLE bindings (
    order_id    TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    vendor      TEXT NOT NULL,
    case_id     INTEGER,
    broker_json TEXT NOT NULL,
    token_hash  BLOB NOT NULL,
    bound_at    INTEGER NOT NULL
);
CREATE INDEX bindings_bound ON bindings (bound_at);

CREATE TABLE last_sent (
    order_id      TEXT PRIMARY KEY,
    title         TEXT,
    action_text   TEXT,
    metadata_json TEXT NOT NULL,
    state         TEXT,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX last_sent_updated ON last_sent (updated_at);
";

/// Fewer index writes per delivery, and each order's line found without reading its history.
/// Rebuilding the two indexes reads the table once, at the first start after the upgrade.
const V2: &str = "
-- An order's open deliveries are found in the index itself: every commit, claim and finish
-- asks whether an order has one, and (order_id, seq) alone read the row of every earlier
-- delivery of the order still kept (a hot order's whole history).
DROP INDEX deliveries_order;
CREATE INDEX deliveries_order ON deliveries (order_id, state, seq);
-- The purge finds delivered deliveries by age; dead ones are few and the (state, seq) index
-- finds them. An entry is written once, when a delivery is done, instead of at every change of
-- state.
DROP INDEX deliveries_purge;
CREATE INDEX deliveries_delivered ON deliveries (updated_at) WHERE state = 'delivered';
";

/// Paused tenants' due deliveries leave the claims' index (`parked.rs`).
const V3: &str = "
ALTER TABLE deliveries ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, seq)
    WHERE state IN ('pending', 'retrying') AND mode = 'queued' AND parked = 0;
-- Holds only parked deliveries: a claim asks it which tenants have any.
CREATE INDEX deliveries_parked ON deliveries (tenant) WHERE parked = 1;
";

/// Refused webhooks (`rejections.rs`). Keyed by their v7 id as text, which sorts as the ids'
/// bytes, so by when each was received: the listing, the trim and the purge all walk the key's
/// index. A rowid table, not WITHOUT ROWID: rows carry whole bodies. The body is the last
/// column, so reading the others never reads its overflow pages. Their number is kept in a row
/// of its own, so the trim, every second, reads one row instead of counting the index.
const V5: &str = "
CREATE TABLE rejections (
    id           TEXT PRIMARY KEY,
    vendor       TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    status       INTEGER NOT NULL,
    code         TEXT NOT NULL,
    detail       TEXT NOT NULL,
    errors       TEXT,
    event_id     TEXT,
    request_id   TEXT NOT NULL,
    content_type TEXT,
    delivery_id  TEXT,
    body         BLOB NOT NULL
);
-- An operator's listing (and a replay) of one vendor's rejections, newest first, reads only
-- that vendor's; the code filter is checked on the rows a listing reads.
CREATE INDEX rejections_vendor ON rejections (vendor, id);

CREATE TABLE rejections_count (n INTEGER NOT NULL);
INSERT INTO rejections_count (n) VALUES (0);
CREATE TRIGGER rejections_in AFTER INSERT ON rejections
BEGIN
    UPDATE rejections_count SET n = n + 1;
END;
CREATE TRIGGER rejections_out AFTER DELETE ON rejections
BEGIN
    UPDATE rejections_count SET n = n - 1;
END;
";

/// Accepted webhooks' bodies (`bodies.rs`), in a table of their own so a delivery's row stays
/// small and the purge can drop bodies while their deliveries stay. Keyed by the delivery's id
/// alone, as text like `deliveries.id` (so the two join), with no other index: keeping a body
/// writes one row and one key, each at the end of its b-tree (v7 ids sort by time), and the
/// purge deletes a range of the key. A rowid table, as for rejections: WITHOUT ROWID would copy
/// bodies into the b-tree's interior pages. The trigger takes a body with its delivery, wherever
/// that is deleted (admin, purge): a lookup per deleted delivery, nothing per commit.
const V6: &str = "
CREATE TABLE bodies (
    delivery_id TEXT PRIMARY KEY,
    body        BLOB NOT NULL
);
CREATE TRIGGER deliveries_bodies_out AFTER DELETE ON deliveries
BEGIN
    DELETE FROM bodies WHERE delivery_id = old.id;
END;
";

/// V1's check on `state`, as V1 wrote it.
const STATE_CHECK_V1: &str =
    "CHECK (state IN ('pending', 'in_flight', 'retrying', 'delivered', 'dead'))";
/// The same check without a list: SQLite runs an IN list of more than two values through a
/// temporary b-tree, built at every insert and every change of state (8 % of a delivered
/// webhook's instructions).
const STATE_CHECK: &str = "CHECK (state = 'pending' OR state = 'in_flight' OR state = 'retrying'
                           OR state = 'delivered' OR state = 'dead')";

/// Replaces the check on `state` with one no row can fail differently, in place: SQLite's
/// documented way to change a constraint without rebuilding the table (the stored definition
/// edited, the schema version bumped so every connection reads it again), which keeps an
/// upgrade instant whatever the table holds.
fn state_check_without_a_list(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA schema_version", [], |row| row.get(0))?;
    conn.execute_batch("PRAGMA writable_schema = ON")?;
    conn.execute(
        "UPDATE sqlite_schema SET sql = replace(sql, ?1, ?2)
         WHERE type = 'table' AND name = 'deliveries'",
        [STATE_CHECK_V1, STATE_CHECK],
    )?;
    // PRAGMA takes no parameters; the value is a number read above.
    conn.execute_batch(&format!(
        "PRAGMA schema_version = {}; PRAGMA writable_schema = OFF;",
        version + 1
    ))?;
    // Reads the edited definition: a malformed one fails here and the migration rolls back.
    conn.execute_batch("SELECT 1 FROM deliveries LIMIT 0")?;
    Ok(())
}

/// The writer's connection: opened, configured, migrated, recovered and analysed.
pub(super) fn prepare(path: &Path, sync: SyncMode) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path)?;
    configure(&conn, sync)?;
    migrate(&mut conn)?;
    recover(&mut conn, Utc::now())?;
    optimize(&conn)?;
    Ok(conn)
}

/// WAL lets readers run beside the writer; `synchronous` is what `store.sync` promises.
fn configure(conn: &Connection, sync: SyncMode) -> Result<(), StoreError> {
    tune(conn)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::new(
            Kind::Setup,
            format!("the database cannot use WAL (journal mode {mode})"),
        ));
    }
    conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
    conn.execute_batch(match sync {
        SyncMode::Full => "PRAGMA synchronous = FULL;",
        SyncMode::Normal => "PRAGMA synchronous = NORMAL;",
    })?;
    // Each request's savepoint keeps the pages it changes until its release: in memory, not
    // in a temporary file written page by page.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;")?;
    Ok(())
}

/// Refreshes the planner's statistics where they are missing or stale, with a bounded scan
/// (SQLite's advice for a connection that stays open).
fn optimize(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002;")?;
    Ok(())
}

/// Settings every connection shares. The query planner's stability guarantee keeps one plan
/// per statement: without it SQLite recompiles a cached statement whenever a newly bound value
/// might suggest another plan, which cost every commit a parse of its queries.
fn tune(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

/// Read connections may not write, so no write can slip past the group commit.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    tune(&conn)?;
    Ok(conn)
}

/// The checkpoint thread's connection: it writes the database file, never a row.
pub(super) fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// Brings the schema to the newest version; a database from a newer flowgate is refused.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, MIGRATIONS.len())
}

/// Brings the schema up to version `target` (an older one, in the tests of a migration).
pub(super) fn migrate_to(conn: &mut Connection, target: usize) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let known = MIGRATIONS.len();
    let applied = usize::try_from(version).unwrap_or(usize::MAX);
    if applied > known {
        return Err(StoreError::new(
            Kind::Corrupt,
            format!("the database has schema version {version}; this flowgate knows up to {known}"),
        ));
    }
    for migration in MIGRATIONS.get(applied..target).unwrap_or_default() {
        match migration {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Run(step) => step(&tx)?,
        }
    }
    let version = target.max(applied);
    // PRAGMA takes no parameters; `version` is a number, not input.
    tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
    tx.commit()?;
    Ok(())
}

/// This process holds the file's lock (`lock.rs`), so no other process is running on it and
/// whatever is `in_flight` was interrupted (crash, kill -9):
/// queued deliveries are due again at once; sync ones are dead (the vendor got no answer and
/// will retry) and give their dedup key back.
fn recover(conn: &mut Connection, now: DateTime<Utc>) -> Result<(), StoreError> {
    let now = millis(now);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let requeued = requeue_in_flight(&tx, now)?;
    let interrupted = tx.execute(
        "UPDATE deliveries SET state = 'dead', error = 'interrupted', next_attempt_at = NULL,
             lease_until = NULL, dedup_key = NULL, updated_at = ?1
         WHERE state <> 'delivered' AND state = 'in_flight' AND mode = 'sync'",
        params![now],
    )?;
    tx.commit()?;
    if requeued > 0 || interrupted > 0 {
        tracing::warn!(
            requeued,
            interrupted,
            "deliveries left in flight by the previous run recovered"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database of the first schema, with a delivery in it, opens on the current one with its
    /// rows intact and the indexes the queries name.
    #[test]
    fn a_version_1_database_is_migrated_with_its_rows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(V1).expect("version 1");
            conn.execute_batch("PRAGMA user_version = 1")
                .expect("version");
            conn.execute(
                "INSERT INTO deliveries (id, vendor, tenant, order_id, event_id, mode, state,
                     update_json, traceparent, body_hash, created_at, updated_at)
                 VALUES ('0190a0c8-0000-7000-8000-000000000001', 'photo', 'demo',
                     '0190a0c8-0000-7000-8000-0000000000aa', 'e1', 'queued', 'delivered', '{}',
                     'tp', x'00', 1, 1)",
                [],
            )
            .expect("a delivery");
        }
        let conn = prepare(&path, SyncMode::Normal).expect("migrated");
        let number = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).expect(sql) };
        assert_eq!(number("PRAGMA user_version"), MIGRATIONS.len() as i64);
        let d1 = "x'0190a0c8000070008000000000000001'";
        assert_eq!(
            number(&format!("SELECT COUNT(*) FROM deliveries WHERE id = {d1}")),
            1
        );
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_index_info('deliveries_order') ORDER BY seqno")
            .expect("index info")
            .query_map([], |row| row.get(0))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("names");
        assert_eq!(columns, ["order_id", "state", "seq"]);
        let index = |name: &str| {
            number(&format!(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name = '{name}'"
            ))
        };
        for gone in [
            "deliveries_purge",
            "deliveries_delivered",
            "deliveries_state",
        ] {
            assert_eq!(index(gone), 0, "{gone}");
        }
        assert_eq!(index("deliveries_parked"), 1);
        assert_eq!(index("deliveries_unfinished"), 1);
        assert_eq!(
            number(&format!("SELECT parked FROM deliveries WHERE id = {d1}")),
            0
        );
        assert_eq!(index("rejections_vendor"), 1);
        assert_eq!(number("SELECT n FROM rejections_count"), 0);
        assert_eq!(number("SELECT COUNT(*) FROM bodies"), 0);
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity check");
        assert_eq!(integrity, "ok");
    }

    /// The state check, changed in place by version 4 and written without a list since, holds
    /// as before: a bogus state is refused (`plans.rs` checks that it builds no temporary table).
    #[test]
    fn the_state_check_is_kept_without_a_list() {
        assert!(
            V1.contains(STATE_CHECK_V1),
            "the text the migration replaces"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = prepare(&dir.path().join("check.db"), SyncMode::Normal).expect("open");
        let table: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'deliveries'",
                [],
                |row| row.get(0),
            )
            .expect("definition");
        assert!(
            table.contains("state = 'dead'") && !table.contains("state IN"),
            "{table}"
        );
        let insert = "INSERT INTO deliveries (id, vendor, tenant, order_id, event_id, mode,
                          state, update_json, traceparent, body_hash, created_at, updated_at)
                      VALUES (?1, 'photo', 'demo', x'01', 'e1', 'queued', ?2, '{}', 'tp', x'00',
                          1, 1)";
        conn.execute(insert, ["d1", "pending"])
            .expect("a valid state");
        let refused = conn
            .execute(insert, ["d2", "bogus"])
            .expect_err("a bogus state");
        assert!(
            refused.to_string().contains("CHECK constraint failed"),
            "{refused}"
        );
    }
}
