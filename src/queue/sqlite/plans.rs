//! The statements of a webhook's turns compile to programs without a temporary table. SQLite
//! builds one, at every run, for an IN list of more than two values and to sort what an index
//! does not order; each one found by counting instructions had cost a delivered webhook 1 to
//! 9 % of its count (BENCHMARKS.md).

use std::sync::Arc;

use rusqlite::Connection;

use crate::config::SyncMode;

use super::{claims, deliveries, rejections, schema};

/// The opcodes of `sql`'s program that open a temporary table. Unbound parameters are NULL,
/// which leaves the program as it is.
fn temporary_tables(conn: &Connection, sql: &str) -> Vec<String> {
    let mut explain = conn.prepare(&format!("EXPLAIN {sql}")).expect("explain");
    let opcodes: Vec<String> = explain
        .raw_query()
        .mapped(|row| row.get(1))
        .collect::<Result<_, _>>()
        .expect("opcodes");
    opcodes
        .into_iter()
        .filter(|op| {
            matches!(
                op.as_str(),
                "OpenEphemeral" | "SorterOpen" | "OpenAutoindex"
            )
        })
        .collect()
}

#[test]
fn a_turns_statements_open_no_temporary_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = schema::prepare(&dir.path().join("plans.db"), SyncMode::Normal).expect("open");
    claims::install(&conn, Arc::default()).expect("held()");
    let statements = [
        ("insert", deliveries::INSERT),
        ("claim", deliveries::CLAIMABLE),
        ("delivered", deliveries::DELIVERED),
        ("retrying", deliveries::RETRYING),
        ("dead", deliveries::DEAD),
        ("schedule the next", deliveries::SCHEDULE_NEXT),
    ];
    for (name, sql) in statements {
        let found = temporary_tables(&conn, sql);
        assert!(found.is_empty(), "{name} opens {found:?}:\n{sql}");
    }
}

/// What SQLite says of how it runs `sql`: one line per step.
fn query_plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut explain = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    explain
        .raw_query()
        .mapped(|row| row.get(3))
        .collect::<Result<_, _>>()
        .expect("plan")
}

/// Rejections are listed, trimmed and purged along an index in its order: never a sort, and a
/// vendor's listing reads only that vendor's entries.
#[test]
fn rejections_are_read_in_the_order_of_an_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = schema::prepare(&dir.path().join("plans.db"), SyncMode::Normal).expect("open");
    let select = "SELECT id, vendor, code FROM rejections";
    let statements = [
        (
            format!("{select} WHERE id < ?1 ORDER BY id DESC LIMIT 51"),
            "sqlite_autoindex_rejections_1",
        ),
        (
            format!(
                "{select} WHERE vendor = ?1 AND code = ?2 AND id >= ?3 AND id < ?4 \
                 ORDER BY id DESC LIMIT 51"
            ),
            "rejections_vendor",
        ),
        (
            rejections::DROP_OLDEST.to_owned(),
            "sqlite_autoindex_rejections_1",
        ),
        (
            rejections::PURGE.to_owned(),
            "sqlite_autoindex_rejections_1",
        ),
    ];
    for (sql, index) in statements {
        let plan = query_plan(&conn, &sql).join("\n");
        assert!(plan.contains(index), "{sql}\n{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}\n{plan}");
    }
    let found = temporary_tables(&conn, rejections::INSERT);
    assert!(found.is_empty(), "the insert opens {found:?}");
}
