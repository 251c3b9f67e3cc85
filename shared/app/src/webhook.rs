//! `POST /v1/clients/{client}/notify/{provider}`: verify → keep the raw bytes →
//! idempotency record → enqueue → answer exactly what the provider expects.
//!
//! The answer means "we have it": a success reply is sent only after the raw
//! notification (blob) and the event (queue) are durable. Any storage failure
//! answers 5xx so the provider retries; nothing is lost. A verification
//! failure books nothing, keeps the raw bytes under `rejected/` and records
//! the reason and source IP in the client's `REJECTED` log.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rentops_codecs::{Incoming, Notification, PreparedConfig, ProviderConfig, Rejection, ReplyKind};
use rentops_domain::{PaymentEvent, Provider};
use rentops_ports::{
    ClientId, ClientStore, Condition, IntakeOutcome, IntakeWrite, Item, PortError, PutMode, SendOptions,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::ctx::{Ports, queues};
use crate::http::{HttpRequest, HttpResponse};
use crate::keys;

/// What the webhook puts on the `payment-events` queue for the ledger poster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PaymentEventMessage {
    pub client: ClientId,
    pub event: PaymentEvent,
    /// Blob key of the raw notification that carried the event (audit, replay).
    pub raw_key: String,
    pub received_at: DateTime<Utc>,
}

/// The webhook's idempotency record (`EVT#<dedup>` / `RECEIVED`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceivedRecord {
    pub event: PaymentEvent,
    pub raw_key: String,
    pub first_seen: DateTime<Utc>,
    /// True once the event is on the queue. A record left `false` by a crash
    /// between the two writes is re-enqueued by the next delivery.
    pub enqueued: bool,
}

/// How a notification is kept in the blob store: everything needed to verify
/// it again later (`rentops notify replay`), exactly as it arrived.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RawEnvelope {
    pub client: ClientId,
    pub provider: Provider,
    pub received_at: DateTime<Utc>,
    pub source_ip: Option<String>,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The body bytes, base64 (standard alphabet).
    pub body_b64: String,
    /// Set when only the first [`MAX_KEPT_REJECTED_BODY`] bytes were kept (rejected
    /// notifications only): the original length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated_from: Option<usize>,
}

/// Rejected bodies are kept for forensics, but not without bound: anyone can POST
/// to the webhook, so only the first 64 KiB of a rejected body is stored.
pub const MAX_KEPT_REJECTED_BODY: usize = 64 * 1024;

impl RawEnvelope {
    pub fn new(client: &ClientId, provider: Provider, req: &HttpRequest, at: DateTime<Utc>) -> Self {
        use base64::Engine;
        RawEnvelope {
            client: client.clone(),
            provider,
            received_at: at,
            source_ip: req.source_ip.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body_b64: base64::engine::general_purpose::STANDARD.encode(&req.body),
            truncated_from: None,
        }
    }
    pub fn body(&self) -> Result<Vec<u8>, String> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(&self.body_b64).map_err(|e| e.to_string())
    }
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("envelope serializes")
    }
}

/// A notification that failed verification (`REJECTED` log).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectedRecord {
    pub provider: Provider,
    pub code: String,
    pub reason: String,
    pub source_ip: Option<String>,
    pub raw_key: Option<String>,
    pub at: DateTime<Utc>,
}

/// Secret name of a client's provider configuration (keys, certificates).
pub fn provider_secret_name(client: &ClientId) -> String {
    format!("rentops/{client}/providers")
}

const CONFIG_TTL: Duration = Duration::from_secs(300);

/// Parsed provider configuration per client, cached for [`CONFIG_TTL`] so a
/// burst of notifications does not re-read the secret and re-parse keys.
#[derive(Default)]
struct ConfigCache {
    entries: RwLock<HashMap<ClientId, (Arc<PreparedConfig>, std::time::Instant)>>,
}

#[derive(Debug, thiserror::Error)]
enum ConfigError {
    #[error("client {0} is not registered")]
    UnknownClient(ClientId),
    #[error("no provider configuration: secret {0} is missing")]
    Missing(String),
    #[error("provider configuration in {0} is invalid: {1}")]
    Invalid(String, String),
    #[error(transparent)]
    Port(#[from] PortError),
}

pub struct WebhookService {
    ports: Ports,
    configs: ConfigCache,
}

impl WebhookService {
    pub fn new(ports: Ports) -> Self {
        WebhookService { ports, configs: ConfigCache::default() }
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    async fn config(&self, client: &ClientId) -> Result<Arc<PreparedConfig>, ConfigError> {
        if let Some((cfg, at)) = self.configs.entries.read().unwrap().get(client) {
            if at.elapsed() < CONFIG_TTL {
                return Ok(cfg.clone());
            }
        }
        let store = self.ports.client_store(client);
        if store.get(keys::CLIENT, keys::META).await?.is_none() {
            return Err(ConfigError::UnknownClient(client.clone()));
        }
        let name = provider_secret_name(client);
        let secret = self.ports.secrets.get(&name).await?.ok_or_else(|| ConfigError::Missing(name.clone()))?;
        // Section by section, errors without values: a secret never reaches a log line.
        let (config, problems) =
            ProviderConfig::from_json_lenient(secret.expose()).map_err(|e| ConfigError::Invalid(name.clone(), e))?;
        for (section, problem) in problems {
            warn!(%section, %problem, alert = "provider_config", "provider section of {name} is unusable");
        }
        let prepared = Arc::new(PreparedConfig::new(&config));
        for (provider, problem) in prepared.problems() {
            warn!(%provider, problem = %problem, alert = "provider_config", "provider configuration has a problem");
        }
        self.configs.entries.write().unwrap().insert(client.clone(), (prepared.clone(), std::time::Instant::now()));
        Ok(prepared)
    }

    /// Handle one provider notification. Never panics on input; always answers.
    pub async fn handle(&self, client: &str, provider: &str, req: &HttpRequest) -> HttpResponse {
        self.handle_inner(client, provider, req, self.ports.clock.now(), true).await
    }

    /// Verify and record a kept notification again, as of the time it first
    /// arrived (its timestamp was valid then). Idempotent: an event already
    /// recorded is not booked twice. The on-call command `rentops notify replay`.
    pub async fn replay(&self, env: &RawEnvelope) -> Result<HttpResponse, String> {
        let req = HttpRequest {
            method: "POST".into(),
            path: String::new(),
            query: env.query.clone(),
            headers: env.headers.clone(),
            body: env.body()?,
            source_ip: env.source_ip.clone(),
        };
        Ok(self.handle_inner(env.client.as_str(), env.provider.as_str(), &req, env.received_at, false).await)
    }

    /// `record_rejections`: false for replays, which must not add to the rejected log again.
    async fn handle_inner(
        &self,
        client: &str,
        provider: &str,
        req: &HttpRequest,
        now: DateTime<Utc>,
        record_rejections: bool,
    ) -> HttpResponse {
        let Ok(client) = ClientId::new(client) else {
            return HttpResponse::error(404, "unknown_client", "no such client");
        };
        let Some(provider) = Provider::parse(provider).filter(|p| *p != Provider::Bank) else {
            return HttpResponse::error(
                404,
                "unknown_provider",
                "provider must be alipay, wechatpay, unionpay or stripe",
            );
        };
        let span = tracing::info_span!("notify", %client, %provider);
        let _g = span.enter();
        let config = match self.config(&client).await {
            Ok(c) => c,
            Err(ConfigError::UnknownClient(_)) => return HttpResponse::error(404, "unknown_client", "no such client"),
            Err(ConfigError::Port(e)) => {
                // A storage or secrets-service blip: the provider retries.
                warn!(error = %e, retryable = e.is_retryable(), "cannot read client settings or keys");
                return to_http(rentops_codecs::reply(provider, ReplyKind::Unavailable("storage")));
            }
            Err(e) => {
                // Our fault, not the provider's: make it retry while someone fixes the configuration.
                warn!(error = %e, alert = "provider_config", "cannot verify notifications");
                return to_http(rentops_codecs::reply(provider, ReplyKind::Unavailable("configuration")));
            }
        };
        let incoming = Incoming { headers: &req.headers, body: &req.body, query: req.query.as_deref() };
        let verdict = rentops_codecs::verify(provider, &config, &incoming, now);
        let kind = match verdict {
            Err(rejection) if rejection.is_our_fault() => {
                // A key or certificate of ours is missing or broken: the provider must retry
                // once an operator fixes the configuration. Nothing is rejected for good.
                warn!(code = rejection.code(), reason = %rejection, alert = "provider_config", "cannot verify notification");
                ReplyKind::Unavailable("configuration")
            }
            Err(rejection) => {
                if record_rejections {
                    self.record_rejection(&client, provider, &rejection, req, now).await;
                }
                return to_http(rentops_codecs::reply(provider, ReplyKind::Rejected(&rejection)));
            }
            Ok(Notification::Ignored { reason, provider_txn_id, .. }) => {
                info!(%reason, txn = provider_txn_id.as_deref().unwrap_or("-"), "genuine notification, no money moved");
                let key = raw_key("ignored", &client, provider, now, &req.body);
                match self.keep_raw(&key, &client, provider, req, now).await {
                    Ok(()) => ReplyKind::Accepted,
                    Err(e) => {
                        warn!(error = %e, "could not keep raw notification");
                        ReplyKind::Unavailable("storage")
                    }
                }
            }
            Ok(Notification::Money(event)) => match self.accept(&client, event, req, now).await {
                Ok(()) => ReplyKind::Accepted,
                Err(e) => {
                    warn!(error = %e, retryable = e.is_retryable(), "could not record notification; provider will retry");
                    ReplyKind::Unavailable("storage")
                }
            },
        };
        to_http(rentops_codecs::reply(provider, kind))
    }

    /// Durably record a genuine money event exactly once and enqueue it.
    async fn accept(
        &self,
        client: &ClientId,
        event: PaymentEvent,
        req: &HttpRequest,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let key = raw_key("raw", client, event.provider, now, &req.body);
        if let Some(intake) = &self.ports.intake {
            // One atomic step: raw bytes, idempotency record and message together.
            let dedup = event.dedup_key();
            let msg = PaymentEventMessage { client: client.clone(), event, raw_key: key.clone(), received_at: now };
            let record =
                ReceivedRecord { event: msg.event.clone(), raw_key: key.clone(), first_seen: now, enqueued: true };
            let write = IntakeWrite {
                blob_key: key,
                blob: RawEnvelope::new(client, msg.event.provider, req, now).to_bytes(),
                content_type: "application/json".into(),
                record: self.ports.client_store(client).scoped(Item::new(
                    keys::event(&dedup),
                    keys::RECEIVED,
                    to_json(&record),
                ))?,
                queue: queues::PAYMENT_EVENTS.into(),
                message: serde_json::to_string(&msg).map_err(|e| PortError::Other(e.to_string()))?,
                options: send_options(&msg),
            };
            return match intake.take_in(write).await? {
                IntakeOutcome::Recorded => {
                    info!(%dedup, "event recorded and enqueued");
                    Ok(())
                }
                IntakeOutcome::Existing(item) => match item.decode::<ReceivedRecord>() {
                    Ok(existing) if existing.enqueued => {
                        flag_conflict(&self.ports, client, &existing, &msg.event, now).await;
                        info!(%dedup, "duplicate notification, already recorded");
                        Ok(())
                    }
                    // Recorded by the ordered protocol and never enqueued: finish that.
                    _ => record_event(&self.ports, client, msg.event, &msg.raw_key, now).await.map(|_| ()),
                },
            };
        }
        // Most deliveries are provider retries of an event we already hold: one read answers them.
        let store = self.ports.client_store(client);
        if let Some(it) = store.get(&keys::event(&event.dedup_key()), keys::RECEIVED).await? {
            if let Ok(existing) = it.decode::<ReceivedRecord>() {
                flag_conflict(&self.ports, client, &existing, &event, now).await;
                if existing.enqueued {
                    info!(dedup = %event.dedup_key(), "duplicate notification, already recorded");
                    return Ok(());
                }
            }
        }
        self.keep_raw(&key, client, event.provider, req, now).await?;
        record_event(&self.ports, client, event, &key, now).await.map(|_| ())
    }

    /// Keep the notification as it arrived. The key is addressed by the body's
    /// hash and written once, so a provider retry of the same bytes the same
    /// day leaves the first arrival's envelope in place.
    async fn keep_raw(
        &self,
        key: &str,
        client: &ClientId,
        provider: Provider,
        req: &HttpRequest,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let env = RawEnvelope::new(client, provider, req, now);
        // Write-once: the first arrival (its time, source IP, headers) is what we keep.
        match self.ports.blob.put(key, env.to_bytes(), "application/json", PutMode::CreateOnly).await {
            Err(e) if e.is_condition_failure() => Ok(()),
            other => other,
        }
    }

    async fn record_rejection(
        &self,
        client: &ClientId,
        provider: Provider,
        r: &Rejection,
        req: &HttpRequest,
        now: DateTime<Utc>,
    ) {
        let probe = matches!(r, Rejection::Probe);
        if probe {
            // WeChat Pay's deliberate signature probes: expected, not an outage.
            info!(code = r.code(), "signature probe rejected as expected");
        } else {
            warn!(code = r.code(), reason = %r, source_ip = req.source_ip.as_deref().unwrap_or("-"), "notification rejected");
        }
        let key = raw_key("rejected", client, provider, now, &req.body);
        let kept = if req.body.len() > MAX_KEPT_REJECTED_BODY {
            let mut env = RawEnvelope::new(client, provider, &HttpRequest { body: Vec::new(), ..req.clone() }, now);
            env.body_b64 = base64::engine::general_purpose::STANDARD.encode(&req.body[..MAX_KEPT_REJECTED_BODY]);
            env.truncated_from = Some(req.body.len());
            self.ports.blob.put(&key, env.to_bytes(), "application/json", PutMode::Overwrite).await
        } else {
            self.keep_raw(&key, client, provider, req, now).await
        };
        let raw_key = match kept {
            Ok(()) => Some(key),
            Err(e) => {
                warn!(error = %e, "could not keep rejected body");
                None
            }
        };
        let rec = RejectedRecord {
            provider,
            code: r.code().to_string(),
            reason: r.to_string(),
            source_ip: req.source_ip.clone(),
            raw_key,
            at: now,
        };
        let id = uuid::Uuid::now_v7().to_string();
        let item = Item::new(keys::REJECTED, keys::time_sk(now, &id), to_json(&rec));
        if let Err(e) = self.ports.client_store(client).put(item, Condition::NotExists).await {
            warn!(error = %e, "could not record rejection");
        }
    }
}

/// Whether [`record_event`] saw the event for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Duplicate,
}

/// The idempotency record + enqueue shared by webhooks and statement imports:
/// a conditional put of `EVT#<dedup>`/`RECEIVED`, then the queue. A record
/// left un-enqueued by a crash is enqueued by the next delivery of the event.
pub async fn record_event(
    ports: &Ports,
    client: &ClientId,
    event: PaymentEvent,
    raw_key: &str,
    now: DateTime<Utc>,
) -> Result<Recorded, PortError> {
    let store = ports.client_store(client);
    let dedup = event.dedup_key();
    let record =
        ReceivedRecord { event: event.clone(), raw_key: raw_key.to_string(), first_seen: now, enqueued: false };
    let item = Item::new(keys::event(&dedup), keys::RECEIVED, to_json(&record));
    let (version, first, raw_key, received_at) = match store.put(item, Condition::NotExists).await {
        Ok(v) => (v, true, raw_key.to_string(), now),
        Err(e) if e.is_condition_failure() => match store.get(&keys::event(&dedup), keys::RECEIVED).await? {
            Some(it) => match it.decode::<ReceivedRecord>() {
                Ok(r) if r.enqueued => {
                    flag_conflict(ports, client, &r, &event, now).await;
                    info!(%dedup, "duplicate notification, already recorded");
                    return Ok(Recorded::Duplicate);
                }
                // Left un-enqueued by a crash: enqueue it now, keeping the first arrival's
                // time and raw body so the record (and the message) still name them.
                Ok(r) => {
                    flag_conflict(ports, client, &r, &event, now).await;
                    (it.version, false, r.raw_key, r.first_seen)
                }
                Err(_) => (it.version, false, raw_key.to_string(), now),
            },
            None => return Err(PortError::Transient("idempotency record vanished; retry".into())),
        },
        Err(e) => return Err(e),
    };
    let msg = PaymentEventMessage { client: client.clone(), event, raw_key, received_at };
    enqueue(ports, &msg).await?;
    mark_enqueued(&store, &dedup, version, &msg).await;
    info!(%dedup, "event recorded and enqueued");
    Ok(if first { Recorded::New } else { Recorded::Duplicate })
}

/// The same provider transaction again, but saying something else (another amount or
/// currency): the first version stands and is what gets booked; the contradiction is
/// logged and listed with the rejected notifications (code `conflicting_duplicate`) for
/// a person to look at.
async fn flag_conflict(
    ports: &Ports,
    client: &ClientId,
    first: &ReceivedRecord,
    again: &PaymentEvent,
    now: DateTime<Utc>,
) {
    if first.event.amount == again.amount {
        return;
    }
    let reason = format!(
        "{} {} was first received as {} on {}, now as {}; the first stands, a person must check",
        again.provider,
        again.provider_txn_id,
        first.event.amount.grouped(),
        first.first_seen.format("%Y-%m-%d %H:%M:%S UTC"),
        again.amount.grouped()
    );
    warn!(client = %client, dedup = %again.dedup_key(), %reason, alert = "conflicting_duplicate", "conflicting duplicate");
    let rec = RejectedRecord {
        provider: again.provider,
        code: "conflicting_duplicate".into(),
        reason,
        source_ip: None,
        raw_key: None,
        at: now,
    };
    let id = format!("{}-{}", again.dedup_key(), again.amount.amount);
    let item = Item::new(keys::REJECTED, keys::time_sk(now, &id), to_json(&rec));
    if let Err(e) = ports.client_store(client).put(item, Condition::NotExists).await {
        warn!(error = %e, "could not record the conflicting duplicate");
    }
}

/// Put a payment event on the queue (dedup id = client + event key).
pub async fn enqueue(ports: &Ports, msg: &PaymentEventMessage) -> Result<(), PortError> {
    let body = serde_json::to_string(msg).map_err(|e| PortError::Other(e.to_string()))?;
    ports.queue.send(queues::PAYMENT_EVENTS, &body, send_options(msg)).await.map(|_| ())
}

fn send_options(msg: &PaymentEventMessage) -> SendOptions {
    SendOptions { dedup_id: Some(format!("{}#{}", msg.client, msg.event.dedup_key())), ..Default::default() }
}

async fn mark_enqueued(store: &ClientStore, dedup: &str, version: u64, msg: &PaymentEventMessage) {
    let rec = ReceivedRecord {
        event: msg.event.clone(),
        raw_key: msg.raw_key.clone(),
        first_seen: msg.received_at,
        enqueued: true,
    };
    let item = Item::new(keys::event(dedup), keys::RECEIVED, to_json(&rec));
    // Losing this race is harmless: the event is on the queue and the poster is idempotent.
    if let Err(e) = store.put(item, Condition::Version(version)).await {
        if !e.is_condition_failure() {
            warn!(error = %e, "could not mark notification enqueued; a retry will enqueue it again (harmless)");
        }
    }
}

/// `<kind>/<client>/<provider>/<yyyy>/<mm>/<dd>/<sha256 of body>.json`.
pub fn raw_key(kind: &str, client: &ClientId, provider: Provider, at: DateTime<Utc>, body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    format!("{kind}/{client}/{provider}/{}/{}", at.format("%Y/%m/%d"), hex::encode(digest.as_ref())) + ".json"
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("domain records always serialize")
}

fn to_http(r: rentops_codecs::Reply) -> HttpResponse {
    HttpResponse::new(r.status, r.content_type, r.body)
}
