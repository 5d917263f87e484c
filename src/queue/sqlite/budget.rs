//! What an accepted webhook writes, counted by SQLite itself: the entries of every b-tree of
//! the database (each table's rows, each index's entries, from the `dbstat` table of its
//! pages) before and after a batch of webhooks, so the budget of one row and a handful of index
//! entries per webhook cannot grow unnoticed.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use rusqlite::Connection;
use uuid::Uuid;

use crate::config::{DeliveryMode, SyncMode};
use crate::order::{LastSent, OrderUpdate};
use crate::queue::{DeliveryContent, Enqueued, Finish, NewDelivery};

use super::claims::{self, Claims, Held};
use super::keys::Keys;
use super::rows::millis;
use super::{book, deliveries, schema};

/// Webhooks per batch: enough that every b-tree has several pages.
const WEBHOOKS: i64 = 500;

/// Entries per b-tree: a rowid table's rows are its leaf cells; the entries of an index or of a
/// table without rowid are all its cells, as such a b-tree keeps entries in its interior pages
/// too.
fn entries(conn: &Connection) -> BTreeMap<String, i64> {
    let mut statement = conn
        .prepare(
            "SELECT s.name, SUM(s.ncell) FROM dbstat s
             JOIN sqlite_schema m ON m.name = s.name
             WHERE s.pagetype = 'leaf' OR (s.pagetype = 'internal'
                 AND (m.type = 'index' OR m.sql LIKE '%WITHOUT ROWID%'))
             GROUP BY s.name",
        )
        .expect("dbstat");
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("entries")
        .collect::<Result<_, _>>()
        .expect("entries")
}

/// What changed between two counts, per webhook (exactly: a share of a batch shows as one),
/// leaving out b-trees that did not change.
fn per_webhook(
    before: &BTreeMap<String, i64>,
    after: &BTreeMap<String, i64>,
) -> Vec<(String, f64)> {
    after
        .iter()
        .map(|(name, n)| {
            let added = n - before.get(name).unwrap_or(&0);
            (name.clone(), added as f64 / WEBHOOKS as f64)
        })
        .filter(|(_, n)| *n != 0.0)
        .collect()
}

fn budget(expected: &[(&str, f64)]) -> Vec<(String, f64)> {
    expected
        .iter()
        .map(|(n, c)| ((*n).to_owned(), *c))
        .collect()
}

fn webhook(n: i64) -> NewDelivery {
    let id = Uuid::now_v7();
    NewDelivery {
        content: DeliveryContent {
            id,
            vendor: "photo".to_owned(),
            tenant: "demo".to_owned(),
            order_id: Uuid::new_v4(),
            event_id: format!("evt-{n}"),
            update: OrderUpdate {
                state: Some("Completed".to_owned()),
                status: Some("Photos delivered".to_owned()),
                ..OrderUpdate::default()
            },
            state_default: None,
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            created_at: Utc::now(),
        },
        dedup: true,
        body_hash: [7; 32],
        mode: DeliveryMode::Queued,
        body: Some(Bytes::from_static(br#"{"id":"evt","state":"Completed"}"#)),
    }
}

#[test]
fn an_accepted_webhook_is_one_row_and_five_index_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = schema::prepare(&dir.path().join("budget.db"), SyncMode::Normal).expect("open");
    let keys = Keys::starting_after(0);
    let since = millis(Utc::now() - TimeDelta::days(1));
    let empty = entries(&conn);

    let mut accepted = Vec::new();
    for n in 0..WEBHOOKS {
        let delivery = webhook(n);
        let encoded = deliveries::Encoded::of(&delivery).expect("encode");
        let enqueued = deliveries::enqueue(&conn, &keys, &delivery, &encoded, since);
        assert_eq!(enqueued.expect("enqueue"), Enqueued::Accepted);
        accepted.push(delivery.content);
    }
    let queued = entries(&conn);
    let expected = budget(&[
        ("bodies", 1.0),
        ("deliveries", 1.0),
        ("deliveries_dedup", 1.0),
        ("deliveries_due", 1.0),
        ("deliveries_id", 1.0),
        ("deliveries_order", 1.0),
        ("deliveries_unfinished", 1.0),
    ]);
    assert_eq!(
        per_webhook(&empty, &queued),
        expected,
        "written by an accepted webhook"
    );

    // A claim writes nothing: it is held in memory.
    let now = Utc::now();
    let claims = Arc::new(Claims::default());
    claims::install(&conn, claims.clone()).expect("held()");
    let found = deliveries::claimable(&conn, millis(now), WEBHOOKS as usize, &[]).expect("claim");
    assert_eq!(found.len(), accepted.len());
    for (seq, state, claimed) in found {
        let held = Held {
            id: claimed.content.id,
            tenant: claimed.content.tenant,
            state,
            lease_until: millis(now),
        };
        assert!(claims.hold(seq, held));
    }
    assert_eq!(entries(&conn), queued, "a claim writes nothing");

    // Delivered: it leaves the claims' and the unfinished indexes; its order's last values
    // are one row.
    for content in &accepted {
        let sent = LastSent {
            state: Some("Completed".to_owned()),
            ..LastSent::default()
        };
        book::record_sent(&conn, content.order_id, &sent, millis(now)).expect("sent");
        deliveries::finish(&conn, &claims, content.id, &[], Finish::Delivered, now)
            .expect("finish");
    }
    let delivered = entries(&conn);
    let expected = budget(&[
        ("bodies", 1.0),
        ("deliveries", 1.0),
        ("deliveries_dedup", 1.0),
        ("deliveries_id", 1.0),
        ("deliveries_order", 1.0),
        ("last_sent", 1.0),
        ("last_sent_updated", 1.0),
    ]);
    assert_eq!(
        per_webhook(&empty, &delivered),
        expected,
        "kept once delivered"
    );
}
