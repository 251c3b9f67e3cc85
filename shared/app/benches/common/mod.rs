//! What the benchmarks share: store and queue wrappers that count calls, items, time and conflicts, and the
//! machine/environment helpers (load, CPU time, sizes, copies, settings). Shared by `benches/dunning.rs` and `benches/sla.rs` (`mod common;`).

#![allow(dead_code)] // each bench reads the counters it prints

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rentops_ports::{Condition, Item, Page, PortResult, Query, Queue, SendOptions, Store, WriteOp};

/// Counters, summed over every call (concurrent calls add up their times).
#[derive(Default)]
pub struct Timings {
    pub reads: AtomicU64,
    pub read_us: AtomicU64,
    pub items_read: AtomicU64,
    pub transacts: AtomicU64,
    pub transact_us: AtomicU64,
    pub ops_written: AtomicU64,
    pub conflicts: AtomicU64,
    pub sends: AtomicU64,
    pub send_us: AtomicU64,
}

/// The counters at one instant; `a - b` is what happened in between.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snap {
    pub reads: u64,
    pub read_us: u64,
    pub items_read: u64,
    pub transacts: u64,
    pub transact_us: u64,
    pub ops_written: u64,
    pub conflicts: u64,
    pub sends: u64,
    pub send_us: u64,
}

impl Timings {
    pub fn snap(&self) -> Snap {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snap {
            reads: l(&self.reads),
            read_us: l(&self.read_us),
            items_read: l(&self.items_read),
            transacts: l(&self.transacts),
            transact_us: l(&self.transact_us),
            ops_written: l(&self.ops_written),
            conflicts: l(&self.conflicts),
            sends: l(&self.sends),
            send_us: l(&self.send_us),
        }
    }
}

impl std::ops::Sub for Snap {
    type Output = Snap;
    fn sub(self, o: Snap) -> Snap {
        Snap {
            reads: self.reads - o.reads,
            read_us: self.read_us - o.read_us,
            items_read: self.items_read - o.items_read,
            transacts: self.transacts - o.transacts,
            transact_us: self.transact_us - o.transact_us,
            ops_written: self.ops_written - o.ops_written,
            conflicts: self.conflicts - o.conflicts,
            sends: self.sends - o.sends,
            send_us: self.send_us - o.send_us,
        }
    }
}

pub fn us(t: Instant) -> u64 {
    t.elapsed().as_micros() as u64
}

/// A store that counts and times every call of `inner`.
pub struct TimedStore {
    pub inner: Arc<dyn Store>,
    pub t: Arc<Timings>,
}

impl TimedStore {
    fn wrote<T>(&self, s: Instant, ops: u64, r: &PortResult<T>) {
        self.t.transacts.fetch_add(1, Ordering::Relaxed);
        self.t.ops_written.fetch_add(ops, Ordering::Relaxed);
        self.t.transact_us.fetch_add(us(s), Ordering::Relaxed);
        if let Err(e) = r
            && e.is_condition_failure()
        {
            self.t.conflicts.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn read(&self, s: Instant, items: u64) {
        self.t.reads.fetch_add(1, Ordering::Relaxed);
        self.t.read_us.fetch_add(us(s), Ordering::Relaxed);
        self.t.items_read.fetch_add(items, Ordering::Relaxed);
    }
}

#[async_trait]
impl Store for TimedStore {
    async fn get(&self, pk: &str, sk: &str) -> PortResult<Option<Item>> {
        let s = Instant::now();
        let r = self.inner.get(pk, sk).await;
        self.read(s, u64::from(matches!(r, Ok(Some(_)))));
        r
    }
    async fn put(&self, item: Item, condition: Condition) -> PortResult<u64> {
        let s = Instant::now();
        let r = self.inner.put(item, condition).await;
        self.wrote(s, 1, &r);
        r
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> PortResult<()> {
        let s = Instant::now();
        let r = self.inner.delete(pk, sk, condition).await;
        self.wrote(s, 1, &r);
        r
    }
    async fn query(&self, query: Query) -> PortResult<Page> {
        let s = Instant::now();
        let r = self.inner.query(query).await;
        self.read(s, r.as_ref().map_or(0, |p| p.items.len() as u64));
        r
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> PortResult<()> {
        let n = ops.iter().filter(|o| !matches!(o, WriteOp::Check { .. })).count() as u64;
        let s = Instant::now();
        let r = self.inner.transact(ops).await;
        self.wrote(s, n, &r);
        r
    }
}

/// A queue that counts and times the sends of `inner`.
pub struct TimedQueue {
    pub inner: Arc<dyn Queue>,
    pub t: Arc<Timings>,
}

#[async_trait]
impl Queue for TimedQueue {
    async fn send(&self, queue: &str, body: &str, options: SendOptions) -> PortResult<String> {
        let s = Instant::now();
        let r = self.inner.send(queue, body, options).await;
        self.t.sends.fetch_add(1, Ordering::Relaxed);
        self.t.send_us.fetch_add(us(s), Ordering::Relaxed);
        r
    }
    async fn receive(&self, queue: &str, max: u32, visibility: Duration) -> PortResult<Vec<rentops_ports::Message>> {
        self.inner.receive(queue, max, visibility).await
    }
    async fn delete(&self, queue: &str, receipt: &str) -> PortResult<()> {
        self.inner.delete(queue, receipt).await
    }
    async fn change_visibility(&self, queue: &str, receipt: &str, visibility: Duration) -> PortResult<()> {
        self.inner.change_visibility(queue, receipt, visibility).await
    }
    async fn depth(&self, queue: &str) -> PortResult<u64> {
        self.inner.depth(queue).await
    }
    async fn redrive(&self, queue: &str, max: u32) -> PortResult<u32> {
        self.inner.redrive(queue, max).await
    }
}

// ------------------------------------------------------------------------------------------------ helpers

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(e.file_name());
        if e.metadata().expect("metadata").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

pub fn default_component() -> Vec<u8> {
    let path = target_dir().join("plugins/default.wasm");
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}. Build the guests first: scripts/build-plugins.sh", path.display()))
}

pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// User + system CPU seconds of this process (all threads: workers, SQLite writer, checkpointer).
pub fn process_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let after = stat.rsplit_once(')').map(|(_, s)| s).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

pub fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().expect("runtime")
}

pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}
