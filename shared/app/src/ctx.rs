//! The bundle of ports a handler runs against, wired once in each `main`.

use std::sync::Arc;

use rentops_ports::{Blob, ClientId, ClientStore, Clock, Intake, Queue, Secrets, Store};

/// Logical queue names (adapters map them to SQS URLs or SQLite queues).
pub mod queues {
    /// Verified payment events waiting to be matched and posted.
    pub const PAYMENT_EVENTS: &str = "payment-events";
    /// Dunning shard tasks (`dunning::ShardTask`): one client's open invoices of one shard on one date.
    pub const DUNNING_WORK: &str = "dunning-work";
    /// Dunning notices to deliver (`dunning::NoticeRef`), consumed by the notifier.
    pub const NOTICES: &str = "notices";
}

/// Everything a handler may touch. Cheap to clone.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub blob: Arc<dyn Blob>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    /// The backend's atomic intake (blob + record + message in one step), when
    /// it has one (embedded: yes; AWS: no, the webhook then uses the ordered
    /// protocol of `webhook::record_event`).
    pub intake: Option<Arc<dyn Intake>>,
}

impl Ports {
    /// Wire the four adapters with the wall clock.
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn Queue>, blob: Arc<dyn Blob>, secrets: Arc<dyn Secrets>) -> Self {
        Ports { store, queue, blob, secrets, clock: Arc::new(rentops_ports::SystemClock), intake: None }
    }

    /// The same ports with the backend's atomic intake.
    pub fn with_intake(mut self, intake: Arc<dyn Intake>) -> Self {
        self.intake = Some(intake);
        self
    }

    /// The only way application code reaches the table: bound to one client.
    pub fn client_store(&self, client: &ClientId) -> ClientStore {
        ClientStore::new(self.store.clone(), client.clone())
    }
}
