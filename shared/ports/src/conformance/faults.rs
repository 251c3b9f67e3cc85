//! Fault injection for exactly-once tests.
//!
//! [`FlakyStore`] wraps any [`Store`] and makes some calls fail with
//! [`PortError::Transient`] on a deterministic schedule (a seeded PRNG, so a
//! failing run can be replayed with the same seed). With
//! [`FaultTiming::AfterWrite`] or [`FaultTiming::Mixed`], writes (`put`,
//! `delete`, `transact`) may fail *after* the inner store applied them: the
//! write landed but the caller saw an error — the case that breaks naive
//! retry logic and that idempotency markers must survive.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::{Condition, Intake, IntakeOutcome, IntakeWrite, Item, Page, PortError, PortResult, Query, Store, WriteOp};

/// When an injected fault happens relative to the real call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTiming {
    /// The call fails before reaching the inner store (nothing happened).
    BeforeCall,
    /// Writes are applied, then the caller gets a transient error. Reads fail before the call.
    AfterWrite,
    /// Each write fault is before or after with equal probability (seeded).
    Mixed,
}

/// A [`Store`] that injects [`PortError::Transient`] faults.
pub struct FlakyStore {
    inner: Arc<dyn Store>,
    /// Fault probability in parts per million (so it fits an atomic).
    rate_ppm: AtomicU64,
    timing: FaultTiming,
    rng: Mutex<u64>,
    calls: AtomicU64,
    injected: AtomicU64,
    injected_after_write: AtomicU64,
}

impl FlakyStore {
    /// `rate` in `0.0..=1.0` is the probability that a call fails; `seed`
    /// fixes the schedule. Faults are injected before the call; see
    /// [`FlakyStore::with_timing`].
    pub fn new(inner: Arc<dyn Store>, seed: u64, rate: f64) -> Self {
        FlakyStore {
            inner,
            rate_ppm: AtomicU64::new(to_ppm(rate)),
            timing: FaultTiming::BeforeCall,
            rng: Mutex::new(seed ^ 0x9E37_79B9_7F4A_7C15),
            calls: AtomicU64::new(0),
            injected: AtomicU64::new(0),
            injected_after_write: AtomicU64::new(0),
        }
    }
    pub fn with_timing(mut self, timing: FaultTiming) -> Self {
        self.timing = timing;
        self
    }
    /// Change the fault rate (e.g. 0.0 to read back the final state).
    pub fn set_rate(&self, rate: f64) {
        self.rate_ppm.store(to_ppm(rate), Ordering::SeqCst);
    }
    /// Calls seen (faulted or not).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
    /// Faults injected so far (before and after the write).
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }
    /// Faults injected after the inner write had been applied.
    pub fn injected_after_write(&self) -> u64 {
        self.injected_after_write.load(Ordering::SeqCst)
    }

    /// splitmix64: tiny, deterministic, good enough for a schedule.
    fn next(&self) -> u64 {
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Decide this call's fate: `None` = no fault, `Some(after_write)`.
    fn decide(&self, is_write: bool) -> Option<bool> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let draw = self.next();
        let coin = self.next();
        if draw % 1_000_000 >= self.rate_ppm.load(Ordering::SeqCst) {
            return None;
        }
        let after = is_write
            && match self.timing {
                FaultTiming::BeforeCall => false,
                FaultTiming::AfterWrite => true,
                FaultTiming::Mixed => coin & 1 == 1,
            };
        self.injected.fetch_add(1, Ordering::SeqCst);
        if after {
            self.injected_after_write.fetch_add(1, Ordering::SeqCst);
        }
        Some(after)
    }

    async fn write<T>(&self, what: &str, fut: impl std::future::Future<Output = PortResult<T>>) -> PortResult<T> {
        match self.decide(true) {
            None => fut.await,
            Some(false) => Err(PortError::Transient(format!("injected fault before {what}"))),
            Some(true) => {
                // Only a write that really landed is reported as a lost ack.
                fut.await?;
                Err(PortError::Transient(format!("injected fault after {what} was applied")))
            }
        }
    }
}

/// An [`Intake`] that fails on the schedule of a [`FlakyStore`] (same seed,
/// rate and timing, counted in its `calls` / `injected`): an intake is a write,
/// so with after-write timing it may land and still report an error.
pub struct FlakyIntake {
    inner: Arc<dyn Intake>,
    faults: Arc<FlakyStore>,
}

impl FlakyIntake {
    pub fn new(inner: Arc<dyn Intake>, faults: Arc<FlakyStore>) -> Self {
        FlakyIntake { inner, faults }
    }
}

#[async_trait]
impl Intake for FlakyIntake {
    async fn take_in(&self, write: IntakeWrite) -> PortResult<IntakeOutcome> {
        self.faults.write("intake", self.inner.take_in(write)).await
    }
}

fn to_ppm(rate: f64) -> u64 {
    (rate.clamp(0.0, 1.0) * 1_000_000.0).round() as u64
}

#[async_trait]
impl Store for FlakyStore {
    async fn get(&self, pk: &str, sk: &str) -> PortResult<Option<Item>> {
        match self.decide(false) {
            None => self.inner.get(pk, sk).await,
            Some(_) => Err(PortError::Transient("injected fault before get".into())),
        }
    }
    async fn put(&self, item: Item, condition: Condition) -> PortResult<u64> {
        self.write("put", self.inner.put(item, condition)).await
    }
    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> PortResult<()> {
        self.write("delete", self.inner.delete(pk, sk, condition)).await
    }
    async fn query(&self, query: Query) -> PortResult<Page> {
        match self.decide(false) {
            None => self.inner.query(query).await,
            Some(_) => Err(PortError::Transient("injected fault before query".into())),
        }
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> PortResult<()> {
        self.write("transact", self.inner.transact(ops)).await
    }
}
