//! The embedded store alone under webhook load: 64 tasks commit deliveries (each with a dedup
//! key, for 10 000 orders) while 32 workers claim, finish and record what they deliver, as the
//! gateway does. Prints commits/s and the CPU time the store's writer thread spent per delivery,
//! which moves little when the machine is busy. Usage: store-load [DELIVERIES] [full|normal]

#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use flowgate::config::{DeliveryMode, SyncMode};
use flowgate::order::{LastSent, OrderUpdate};
use flowgate::queue::sqlite::SqliteStore;
use flowgate::queue::{Attempt, DeliveryContent, DeliveryQueue, Finish, NewDelivery};
use tokio::task::JoinSet;
use uuid::Uuid;

const SENDERS: u64 = 64;
const WORKERS: usize = 32;
const ORDERS: u128 = 10_000;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().map_or(Ok(50_000), |n| n.parse())?;
    let sync = match args.next().as_deref() {
        Some("normal") => SyncMode::Normal,
        _ => SyncMode::Full,
    };
    let dir = std::env::temp_dir().join(format!("flowgate-store-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(&dir.join("load.db"), sync)?);
    let started = Instant::now();
    let writer_before = writer_cpu_ms();
    let mut tasks = JoinSet::new();
    for sender in 0..SENDERS {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for n in (sender..total).step_by(SENDERS as usize) {
                let window = Utc::now() - TimeDelta::hours(24);
                store.enqueue(delivery(n), window).await?;
            }
            Ok::<_, Failure>(())
        });
    }
    tasks.spawn(dispatch(Arc::clone(&store), total));
    while let Some(task) = tasks.join_next().await {
        task??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let writer_ms = writer_cpu_ms().saturating_sub(writer_before);
    let per = writer_ms as f64 * 1000.0 / total as f64;
    let rate = total as f64 / seconds;
    println!(
        "{total} deliveries in {seconds:.2}s: {rate:.0}/s; \
         writer thread {per:.1} µs CPU per delivery"
    );
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// As the gateway's dispatcher: claims up to [`WORKERS`] due deliveries and runs them at once,
/// each recording what it sent and finishing its delivery.
async fn dispatch(store: Arc<SqliteStore>, total: u64) -> Result<(), Failure> {
    let mut delivered = 0;
    while delivered < total {
        let now = Utc::now();
        let claimed = store
            .claim(now, WORKERS, now + TimeDelta::seconds(60), &[])
            .await?;
        if claimed.is_empty() {
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let mut turns = JoinSet::new();
        for turn in claimed {
            let store = Arc::clone(&store);
            turns.spawn(async move {
                let sent = LastSent {
                    state: Some("InProcess".to_owned()),
                    ..LastSent::default()
                };
                store
                    .finish(
                        turn.content.id,
                        vec![attempt()],
                        Finish::Delivered,
                        Some((turn.content.order_id, sent)),
                    )
                    .await?;
                Ok::<_, Failure>(())
            });
        }
        while let Some(turn) = turns.join_next().await {
            turn??;
            delivered += 1;
        }
    }
    Ok(())
}

fn delivery(n: u64) -> NewDelivery {
    let id = Uuid::now_v7();
    NewDelivery {
        content: DeliveryContent {
            id,
            vendor: "photo".to_owned(),
            tenant: "demo".to_owned(),
            order_id: Uuid::from_u128(u128::from(n) % ORDERS * 0x9E37_79B9_7F4A_7C15 + 1),
            event_id: format!("evt-{id}"),
            update: OrderUpdate {
                state: Some("InProcess".to_owned()),
                status: Some("Photos delivered, 24 images".to_owned()),
                ..OrderUpdate::default()
            },
            state_default: None,
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
            created_at: Utc::now(),
        },
        dedup: true,
        body_hash: [7; 32],
        mode: DeliveryMode::Queued,
        body: None,
    }
}

fn attempt() -> Attempt {
    Attempt {
        at: Utc::now(),
        operation: "updatestate".to_owned(),
        status: Some(200),
        duration_ms: 1,
        error: None,
    }
}

/// CPU time (user + system) of the thread named `flowgate-store`, in milliseconds.
fn writer_cpu_ms() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "flowgate-store" {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        return ticks * 10;
    }
    0
}
