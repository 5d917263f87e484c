//! A paused tenant's due deliveries are parked: flagged out of the claims' index, so a claim
//! never steps over them. Without this every claim (one follows every commit) read the whole
//! backlog of a paused tenant, and a long pause under traffic slowed every tenant's ingest.
//! Parking changes no due time: a tenant no longer paused gets its deliveries back in the order
//! they were due. Pauses live in the process, so the first claim after a restart unparks all.

use rusqlite::{Connection, OptionalExtension, params};

use crate::order::StoreError;

use super::error::json_error;

/// Brings the parked deliveries in line with `paused`, ahead of a claim in the same
/// transaction: parks the due deliveries of paused tenants, unparks those of any other tenant.
pub(super) fn park_paused(
    conn: &Connection,
    now: i64,
    paused: &[String],
) -> Result<(), StoreError> {
    for tenant in parked_tenants(conn)? {
        if !paused.contains(&tenant) {
            conn.prepare_cached(
                "UPDATE deliveries INDEXED BY deliveries_parked SET parked = 0
                 WHERE parked = 1 AND tenant = ?1",
            )?
            .execute([&tenant])?;
        }
    }
    if paused.is_empty() {
        return Ok(());
    }
    // Only deliveries due by now are in the claims' way; later ones are parked once due, and
    // one held in flight ends its turn first. The walk covers what no claim has taken yet,
    // which parking keeps short.
    let paused = serde_json::to_string(paused).map_err(json_error)?;
    conn.prepare_cached(
        "UPDATE deliveries INDEXED BY deliveries_due SET parked = 1
         WHERE state IN ('pending', 'retrying') AND mode = 'queued' AND parked = 0
           AND next_attempt_at <= ?1 AND NOT held(seq)
           AND tenant IN (SELECT value FROM json_each(?2))",
    )?
    .execute(params![now, paused])?;
    Ok(())
}

/// The tenants with parked deliveries, one index seek each: a claim with nothing parked pays a
/// single seek into an empty index.
fn parked_tenants(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut next = conn.prepare_cached(
        "SELECT tenant FROM deliveries INDEXED BY deliveries_parked
         WHERE parked = 1 AND tenant > ?1 ORDER BY tenant LIMIT 1",
    )?;
    let mut tenants: Vec<String> = Vec::new();
    loop {
        let after = tenants.last().map_or("", String::as_str);
        match next.query_row([after], |row| row.get(0)).optional()? {
            Some(tenant) => tenants.push(tenant),
            None => return Ok(tenants),
        }
    }
}
