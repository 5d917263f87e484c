use super::{days, delivery, t0};
use crate::config::SyncMode;
use crate::queue::Store;
use crate::queue::sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn bench_enqueue() {
    let dir = tempfile::TempDir::new().unwrap();
    for sync in [SyncMode::Full, SyncMode::Normal] {
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join(format!("{sync:?}.db")), sync).unwrap());
        for conc in [1usize, 64] {
            let per = 20000 / conc;
            let start = Instant::now();
            let tasks: Vec<_> = (0..conc)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        for _ in 0..per {
                            store
                                .enqueue(delivery(Uuid::new_v4(), t0()), t0() - days(1))
                                .await
                                .unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let el = start.elapsed();
            eprintln!(
                "{sync:?} conc {conc}: {:.0} enqueues/s",
                (per * conc) as f64 / el.as_secs_f64()
            );
        }
        let start = Instant::now();
        for _ in 0..100 {
            store.claim(t0(), 32, t0() + days(1), &[]).await.unwrap();
        }
        eprintln!(
            "{sync:?} claim of 32 from 40k: {:?} each",
            start.elapsed() / 100
        );
    }
}
