//! Single-flight: identical concurrent work runs once and every caller gets its result.
//!
//! The work runs in its own tokio task, so a caller that gives up (a FUSE request
//! interrupted, a client dropped) does not cancel it for the others. The key is removed
//! when the work finishes; a caller arriving later starts a new flight.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

type Flights<K, V> = Arc<Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>>;

pub struct SingleFlight<K, V> {
    flights: Flights<K, V>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        SingleFlight {
            flights: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Runs `make()` unless a flight for `key` is already under way, and awaits its result.
    pub async fn run<F>(&self, key: K, make: impl FnOnce() -> F) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let flight = {
            let mut flights = self.flights.lock().expect("single-flight map poisoned");
            if let Some(flight) = flights.get(&key) {
                flight.clone()
            } else {
                let work = make();
                let map = Arc::clone(&self.flights);
                let task_key = key.clone();
                let task = tokio::spawn(async move {
                    let out = work.await;
                    map.lock()
                        .expect("single-flight map poisoned")
                        .remove(&task_key);
                    out
                });
                let flight = async move {
                    match task.await {
                        Ok(out) => out,
                        Err(join) => std::panic::resume_unwind(join.into_panic()),
                    }
                }
                .boxed()
                .shared();
                flights.insert(key, flight.clone());
                flight
            }
        };
        flight.await
    }

    /// Flights under way now (for status reporting and tests).
    pub fn in_flight(&self) -> usize {
        self.flights
            .lock()
            .expect("single-flight map poisoned")
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flight: Arc<SingleFlight<&'static str, u32>> = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicU32::new(0));
        let mut handles = Vec::new();
        for _ in 0..16 {
            let flight = Arc::clone(&flight);
            let runs = Arc::clone(&runs);
            handles.push(tokio::spawn(async move {
                flight
                    .run("k", || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        7
                    })
                    .await
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flight.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_caller_does_not_cancel_the_work() {
        let flight: Arc<SingleFlight<u8, u8>> = Arc::new(SingleFlight::default());
        let first = {
            let flight = Arc::clone(&flight);
            tokio::spawn(async move {
                flight
                    .run(1, || async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        9
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        first.abort();
        let second = flight.run(1, || async { 1 }).await;
        assert_eq!(second, 9, "joined the flight already under way");
    }
}
