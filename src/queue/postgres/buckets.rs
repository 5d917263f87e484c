//! The tenants' rate buckets, shared by every process of the fleet: one row per client id
//! holding the tokens left at a time. Taking a token is one statement, which refills the row by
//! the time passed (on the database's clock, so the processes' clocks do not matter), takes a
//! token when there is one and otherwise says how long until there is. The row lock it takes
//! makes processes taking at once go one after the other, each seeing what the one before took.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Object;

use crate::config::RateLimitConfig;
use crate::flow::{SharedBuckets, Take};
use crate::order::StoreError;

use super::PgStore;

/// The tokens of row `b` at `now`: what it held, refilled at `$2` per second, at most `$3`.
/// A `now` earlier than the row's time (the statement waited for the row while another took a
/// token) refills nothing.
const REFILLED: &str = "least($3::float8, b.tokens + $2::float8 * greatest(0, extract(epoch FROM (%NOW% - b.updated_at))::float8))";

/// `$1` the key, `$2` tokens per second, `$3` the burst. A first use inserts a full bucket less
/// the token taken; after that the row is updated only when it holds a token (so `taken` has a
/// row exactly when one was taken). The wait is read from the statement's snapshot: when another
/// process took the token meanwhile, it is too short, and the caller simply asks again.
const TAKE: &str = "
    WITH now AS MATERIALIZED (SELECT pg_catalog.clock_timestamp() AS t),
    taken AS (
        INSERT INTO buckets AS b (key, tokens, updated_at)
        SELECT $1::text, $3::float8 - 1, now.t FROM now
        ON CONFLICT (key) DO UPDATE
        SET tokens = %REFILLED_AT_EXCLUDED% - 1,
            updated_at = greatest(b.updated_at, excluded.updated_at)
        WHERE %REFILLED_AT_EXCLUDED% >= 1
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM taken),
        (SELECT (1 - %REFILLED_AT_NOW%) / $2::float8 FROM buckets b, now WHERE b.key = $1)";

/// [`TAKE`] with its refill expressions written out, built once.
static TAKE_STATEMENT: LazyLock<String> = LazyLock::new(|| {
    TAKE.replace(
        "%REFILLED_AT_EXCLUDED%",
        &REFILLED.replace("%NOW%", "excluded.updated_at"),
    )
    .replace("%REFILLED_AT_NOW%", &REFILLED.replace("%NOW%", "now.t"))
});

pub(super) async fn take(
    client: &Object,
    key: &str,
    rate: RateLimitConfig,
) -> Result<Take, StoreError> {
    let statement = client.prepare_cached(&TAKE_STATEMENT).await?;
    let burst = f64::from(rate.burst);
    let row = client
        .query_one(&statement, &[&key, &rate.per_second, &burst])
        .await?;
    if row.try_get::<_, bool>(0)? {
        return Ok(Take::Taken);
    }
    let wait: Option<f64> = row.try_get(1)?;
    let wait = wait.filter(|w| w.is_finite()).unwrap_or(0.0).max(0.0);
    Ok(Take::Wait(
        Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX),
    ))
}

#[async_trait]
impl SharedBuckets for PgStore {
    async fn take(&self, key: &str, rate: RateLimitConfig) -> Result<Take, StoreError> {
        take(&self.client().await?, key, rate).await
    }
}
