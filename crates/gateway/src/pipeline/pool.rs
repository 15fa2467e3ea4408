//! The CPU pool: a fixed number of worker threads (one per core) that run the data path's bulk work — MD5,
//! CRC-64, sealing and opening segments — handed to them piece by piece through a bounded queue.
//!
//! No worker ever waits on the network: a request submits a piece of work only once its bytes are in memory,
//! and awaits the result asynchronously. However many requests stall, they hold no thread; when the queue is
//! full, submitters wait (back-pressure) instead of spawning more threads.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The work could not be run: the pool is shutting down, or the work panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("CPU pool unavailable or the work failed")]
pub struct PoolError;

/// A fixed pool of CPU worker threads fed by a bounded queue.
#[derive(Clone)]
pub struct CpuPool {
    queue: mpsc::Sender<Job>,
    workers: usize,
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPool")
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl CpuPool {
    /// `workers` threads (at least one) and a queue of `depth` pieces of work. The threads end when the last
    /// handle is dropped.
    pub fn new(workers: usize, depth: usize) -> Self {
        let workers = workers.max(1);
        let (queue, jobs) = mpsc::channel::<Job>(depth.max(1));
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..workers {
            let jobs = Arc::clone(&jobs);
            let spawned = std::thread::Builder::new()
                .name(format!("cang-cpu-{i}"))
                .spawn(move || worker(&jobs));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "CPU worker thread not started");
            }
        }
        Self { queue, workers }
    }

    /// One worker per available core.
    pub fn per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self::new(cores, cores * 8)
    }

    /// Runs `work` on a worker and returns its result. Waits for room in the queue first.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // A receiver that went away (the request was dropped) just discards the result.
            let _ = done.send(work());
        });
        self.queue.send(job).await.map_err(|_| PoolError)?;
        result.await.map_err(|_| PoolError)
    }
}

fn worker(jobs: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job; running it happens outside.
        let job = jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .blocking_recv();
        let Some(job) = job else { return };
        // A panicking job must not take the worker with it; its submitter sees the dropped result.
        if std::panic::catch_unwind(AssertUnwindSafe(job)).is_err() {
            tracing::error!("a CPU job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_survives_a_panic() {
        let pool = CpuPool::new(2, 4);
        assert_eq!(pool.run(|| 21 * 2).await, Ok(42));
        #[allow(clippy::panic)] // the point of the test
        let failed = pool.run(|| -> u8 { panic!("boom") }).await;
        assert_eq!(failed, Err(PoolError));
        assert_eq!(pool.run(|| "still serving").await, Ok("still serving"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_submitters_share_a_fixed_number_of_threads() {
        let pool = CpuPool::new(2, 2);
        let names = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (pool, names) = (pool.clone(), Arc::clone(&names));
                tokio::spawn(async move {
                    pool.run(move || {
                        let name = std::thread::current().name().map(str::to_owned);
                        names.lock().unwrap().insert(name);
                        i
                    })
                    .await
                })
            })
            .collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await.unwrap().unwrap();
        }
        assert_eq!(sum, (0..64).sum::<i32>());
        assert!(names.lock().unwrap().len() <= 2, "no thread beyond the pool's");
    }
}
