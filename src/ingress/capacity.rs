//! What requests hold while they run: a place among the requests in flight, and bytes of body
//! held in memory. Made once and kept by every configuration a reload swaps in, so requests
//! admitted under the old one still count against the new one's limits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Semaphore;

use crate::config::Config;

/// One limit: a semaphore of its size, resized in place.
#[derive(Clone)]
pub struct Capacity {
    permits: Arc<Semaphore>,
    size: Arc<AtomicUsize>,
    /// Serialises resizes, whose arithmetic reads and writes `size`.
    resizing: Arc<Mutex<()>>,
}

impl Capacity {
    pub fn new(size: usize) -> Capacity {
        let size = size.min(Semaphore::MAX_PERMITS);
        Capacity {
            permits: Arc::new(Semaphore::new(size)),
            size: Arc::new(AtomicUsize::new(size)),
            resizing: Arc::default(),
        }
    }

    /// Grows at once; shrinks by what is free now, and by the rest as requests holding it
    /// finish, so the limit is never exceeded for longer than those requests run.
    pub fn resize(&self, size: usize) {
        let size = size.min(Semaphore::MAX_PERMITS);
        let _one = self.resizing.lock().unwrap_or_else(PoisonError::into_inner);
        let was = self.size.swap(size, Ordering::Relaxed);
        if size > was {
            self.permits.add_permits(size - was);
            return;
        }
        let excess = was - size;
        let owed = excess - self.permits.forget_permits(excess);
        let Ok(owed) = u32::try_from(owed) else {
            return;
        };
        if owed > 0 {
            let permits = self.permits.clone();
            tokio::spawn(async move {
                if let Ok(taken) = permits.acquire_many_owned(owed).await {
                    taken.forget();
                }
            });
        }
    }

    pub fn semaphore(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }
}

/// The public listener's two limits.
#[derive(Clone)]
pub struct Capacities {
    /// `server.max_in_flight` requests.
    pub in_flight: Capacity,
    /// `server.max_buffered_bytes` of bodies.
    pub buffered: Capacity,
}

impl Capacities {
    pub fn new(config: &Config) -> Capacities {
        let server = &config.server;
        Capacities {
            in_flight: Capacity::new(server.max_in_flight),
            buffered: Capacity::new(bytes(server.max_buffered_bytes)),
        }
    }

    /// `config`'s limits, from now on.
    pub fn resize(&self, config: &Config) {
        let server = &config.server;
        self.in_flight.resize(server.max_in_flight);
        self.buffered.resize(bytes(server.max_buffered_bytes));
    }
}

fn bytes(max: u64) -> usize {
    usize::try_from(max).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_resize_grows_at_once_and_shrinks_as_holders_finish() {
        let capacity = Capacity::new(4);
        let held = capacity
            .semaphore()
            .try_acquire_many_owned(3)
            .expect("3 of 4");
        capacity.resize(6);
        assert_eq!(capacity.semaphore().available_permits(), 3);
        // Down to 2 while 3 are held: the free 3 go now, one more when the holders finish.
        capacity.resize(2);
        assert_eq!(capacity.semaphore().available_permits(), 0);
        drop(held);
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        assert_eq!(capacity.semaphore().available_permits(), 2);
    }
}
