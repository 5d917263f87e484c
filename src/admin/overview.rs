//! `/admin/overview`: the gateway at a glance (contract section 18): what runs, the queue as the
//! gauges last counted it, each tenant's pause and circuit, and each vendor's webhooks of the
//! last hour as this process answered them. It asks the store nothing once the gauges counted.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::tenants::{TenantState, states};
use super::{AdminState, store_failed};
use crate::problem::Problem;
use crate::queue::QueueDepth;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Overview {
    version: &'static str,
    started_at: DateTime<Utc>,
    config_hash: String,
    queue: QueueCounts,
    oldest_age_seconds: OldestAges,
    tenants: Vec<TenantState>,
    vendors: Vec<VendorTraffic>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct QueueCounts {
    pending: u64,
    in_flight: u64,
    retrying: u64,
    dead: u64,
}

/// Whole seconds since the oldest delivery in the state was committed; 0 when there is none,
/// as `flowgate_queue_oldest_age_seconds` says.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct OldestAges {
    pending: u64,
    retrying: u64,
}

/// A configured vendor's webhooks of the last hour.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct VendorTraffic {
    vendor: String,
    accepted_1h: u64,
    rejected_1h: u64,
}

pub async fn overview(State(admin): State<AdminState>) -> Result<Response, Problem> {
    // Counted before the gateway is ready and every second after; counted here only when
    // nothing counted yet.
    let depth = match admin.metrics.queue() {
        Some(depth) => depth,
        None => (admin.store.depth().await).map_err(|e| store_failed("overview", e))?,
    };
    let now = Utc::now();
    let age = |oldest: Option<DateTime<Utc>>| {
        oldest.map_or(0, |at| u64::try_from((now - at).num_seconds()).unwrap_or(0))
    };
    let QueueDepth {
        pending,
        in_flight,
        retrying,
        dead,
        oldest_pending,
        oldest_retrying,
    } = depth;
    let overview = Overview {
        version: env!("CARGO_PKG_VERSION"),
        started_at: admin.started_at,
        config_hash: admin.config.settings.hash(),
        queue: QueueCounts {
            pending,
            in_flight,
            retrying,
            dead,
        },
        oldest_age_seconds: OldestAges {
            pending: age(oldest_pending),
            retrying: age(oldest_retrying),
        },
        tenants: states(&admin.control),
        vendors: vendors(&admin),
    };
    Ok(Json(overview).into_response())
}

/// Each configured vendor's webhooks of the last hour, by name.
fn vendors(admin: &AdminState) -> Vec<VendorTraffic> {
    (admin.config.vendors.keys())
        .map(|vendor| {
            let counts = admin.metrics.vendor(vendor).last_hour();
            VendorTraffic {
                vendor: vendor.clone(),
                accepted_1h: counts.accepted,
                rejected_1h: counts.rejected,
            }
        })
        .collect()
}
