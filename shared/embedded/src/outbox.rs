//! [`LocalOutbox`]: the [`Messenger`] port of the embedded default. Nothing leaves the machine:
//! every SMS and email is written to its client's outbox in the store,
//! `C#<client>#OUTBOX` / `<time>#<message id>` ([`OutboxRecord`]), which `rentops outbox list` prints.
//!
//! Idempotency is exact: the record and a marker `C#<client>#OUTBOX#KEY` / `<idempotency key>` are
//! written in one transaction, the marker only if absent; a second send with the same key writes
//! nothing and returns the first message id (`duplicate: true`).

use std::sync::Arc;

use async_trait::async_trait;
use rentops_ports::messenger::{self, OUTBOX, OUTBOX_KEYS, OutboxRecord};
use rentops_ports::{
    ClientStore, Clock, Condition, Item, Messenger, OutboundMessage, PortError, SendError, SentMessage, Store,
    SystemClock, WriteOp,
};

/// The local outbox over a store (the embedded backend's SQLite store).
#[derive(Clone)]
pub struct LocalOutbox {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalOutbox")
    }
}

impl LocalOutbox {
    pub fn new(store: Arc<dyn Store>) -> Self {
        LocalOutbox { store, clock: Arc::new(SystemClock) }
    }

    /// Time-stamp records with `clock` (tests, replays).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

fn port_error(e: PortError) -> SendError {
    match e {
        PortError::Invalid(m) => SendError::Permanent(m),
        other => SendError::Transient(format!("local outbox: {other}")),
    }
}

#[async_trait]
impl Messenger for LocalOutbox {
    async fn send(&self, m: &OutboundMessage) -> Result<SentMessage, SendError> {
        messenger::validate(m)?;
        let store = ClientStore::new(self.store.clone(), m.client.clone());
        if let Some(found) = store.get(OUTBOX_KEYS, &m.idempotency_key).await.map_err(port_error)? {
            return duplicate(&found);
        }
        let at = self.clock.now();
        let message_id = format!("local-{}", uuid::Uuid::now_v7().simple());
        let sk = format!("{}#{message_id}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
        let rec = OutboxRecord {
            message_id: message_id.clone(),
            at,
            channel: m.channel,
            to: m.to.clone(),
            subject: m.subject.clone(),
            body: m.body.clone(),
            idempotency_key: m.idempotency_key.clone(),
        };
        let body = serde_json::to_value(&rec).map_err(|e| SendError::Permanent(e.to_string()))?;
        let marker = serde_json::json!({ "message_id": message_id, "sk": sk });
        let ops = vec![
            WriteOp::Put {
                item: Item::new(OUTBOX_KEYS, m.idempotency_key.clone(), marker),
                condition: Condition::NotExists,
            },
            WriteOp::Put { item: Item::new(OUTBOX, sk, body), condition: Condition::NotExists },
        ];
        match store.transact(ops).await {
            Ok(()) => Ok(SentMessage { message_id, duplicate: false }),
            Err(e) if e.is_condition_failure() => {
                // A concurrent send with the same key won.
                let found = store
                    .get(OUTBOX_KEYS, &m.idempotency_key)
                    .await
                    .map_err(port_error)?
                    .ok_or_else(|| SendError::Transient("outbox marker vanished; retry".into()))?;
                duplicate(&found)
            }
            Err(e) => Err(port_error(e)),
        }
    }
}

fn duplicate(marker: &Item) -> Result<SentMessage, SendError> {
    let id = marker.body.get("message_id").and_then(|v| v.as_str()).unwrap_or_default();
    if id.is_empty() {
        return Err(SendError::Transient(format!("outbox marker {} has no message id", marker.sk)));
    }
    Ok(SentMessage { message_id: id.to_string(), duplicate: true })
}

/// Every message in `store`'s outbox (its client's), oldest first.
pub async fn list(store: &ClientStore) -> Result<Vec<OutboxRecord>, PortError> {
    store
        .query_all(rentops_ports::Query::table(OUTBOX, rentops_ports::SkRange::All))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}
