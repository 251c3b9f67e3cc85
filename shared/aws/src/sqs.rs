//! [`SqsQueue`]: the [`Queue`] port on Amazon SQS.
//!
//! Logical queue names (`payment-events`) map to queue URLs through a table
//! given at construction. In Lambda the table comes from environment
//! variables by convention ([`SqsQueue::from_env`]):
//! `QUEUE_URL_PAYMENT_EVENTS` → `payment-events`,
//! `QUEUE_URL_PAYMENT_EVENTS_DLQ` → `payment-events-dlq` (upper case and `_`
//! become lower case and `-`). Dead-lettering itself is SQS's RedrivePolicy
//! on the source queue (`maxReceiveCount`), declared in `infra/template.yaml`
//! or by [`SqsQueue::create_for_tests`].
//!
//! Semantics worth knowing:
//! - Visibility timeouts and delays are whole seconds in SQS: a `Duration`
//!   is rounded *up* (so a message is never visible earlier than asked).
//! - `receive` long-polls for up to [`SqsQueue::with_wait`] (default 1 s) when
//!   the queue is empty, and returns at most 10 messages (SQS limit).
//! - FIFO queues (URL ends in `.fifo`): `group_id` defaults to `"default"`;
//!   without a `dedup_id` a random one is used (no deduplication asked for).
//!   Standard queues ignore both, as the port documents.
//! - `redrive` receives from `<queue>-dlq`, re-sends body and attributes to
//!   the queue, then deletes from the DLQ. A crash between the two steps can
//!   redeliver a message twice (consumers are idempotent); it never loses
//!   one. It does not use StartMessageMoveTask (absent in moto, and
//!   asynchronous on AWS).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use rentops_ports::{Message, PortError, PortResult, Queue, SendOptions};

use crate::error::sdk_error;

/// Prefix of the environment variables naming queue URLs.
pub const QUEUE_URL_ENV_PREFIX: &str = "QUEUE_URL_";
/// SQS receives at most this many messages per call.
pub const MAX_RECEIVE_BATCH: u32 = 10;
const MAX_VISIBILITY_SECS: u64 = 12 * 60 * 60;
const MAX_DELAY_SECS: u64 = 15 * 60;

/// The [`Queue`] port on SQS.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    urls: HashMap<String, String>,
    wait_secs: i32,
}

/// Seconds for SQS, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The logical queue name an environment variable stands for, if it is a
/// queue URL variable (`QUEUE_URL_PAYMENT_EVENTS` → `payment-events`).
pub fn queue_name_from_env_var(var: &str) -> Option<String> {
    let rest = var.strip_prefix(QUEUE_URL_ENV_PREFIX)?;
    if rest.is_empty() {
        return None;
    }
    Some(rest.to_ascii_lowercase().replace('_', "-"))
}

/// The environment variable that configures the logical queue `name`.
pub fn env_var_for_queue(name: &str) -> String {
    format!("{QUEUE_URL_ENV_PREFIX}{}", name.to_ascii_uppercase().replace('-', "_"))
}

impl SqsQueue {
    /// `urls` maps logical names (including each `<name>-dlq`) to queue URLs.
    pub fn new(client: Client, urls: HashMap<String, String>) -> Self {
        SqsQueue { client, urls, wait_secs: 1 }
    }

    /// Build the name → URL table from `QUEUE_URL_*` variables (see module docs).
    pub fn from_vars<I>(client: Client, vars: I) -> PortResult<Self>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut urls = HashMap::new();
        for (k, v) in vars {
            if let Some(name) = queue_name_from_env_var(&k) {
                let v = v.trim();
                if v.is_empty() {
                    return Err(PortError::Invalid(format!("environment variable {k} is set but empty")));
                }
                urls.insert(name, v.to_string());
            }
        }
        Ok(SqsQueue::new(client, urls))
    }

    /// [`SqsQueue::from_vars`] over the process environment.
    pub fn from_env(client: Client) -> PortResult<Self> {
        SqsQueue::from_vars(client, std::env::vars())
    }

    /// How long `receive` waits for a message on an empty queue (0–20 s).
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait_secs = ceil_secs(wait).min(20) as i32;
        self
    }

    /// Add or replace one logical name.
    pub fn insert(&mut self, name: impl Into<String>, url: impl Into<String>) {
        self.urls.insert(name.into(), url.into());
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configured logical names and their URLs.
    pub fn urls(&self) -> &HashMap<String, String> {
        &self.urls
    }

    /// Create `<name>-dlq` and `<name>` with a RedrivePolicy sending a message
    /// to the DLQ after `max_receive_count` receives, and register both. A
    /// name ending in `.fifo` makes both FIFO queues (`<base>-dlq.fifo`).
    /// For tests and scratch accounts; production queues come from the SAM template.
    pub async fn create_for_tests(&mut self, name: &str, max_receive_count: u32) -> PortResult<()> {
        let (base, fifo) = match name.strip_suffix(".fifo") {
            Some(b) => (b, true),
            None => (name, false),
        };
        let dlq_name = if fifo { format!("{base}-dlq.fifo") } else { format!("{base}-dlq") };
        let dlq_url = self.create_queue(&dlq_name, fifo, None).await?;
        let arn = self
            .client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("SQS GetQueueAttributes {dlq_name}"), e))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| PortError::Other(format!("SQS did not return the ARN of {dlq_name}")))?;
        let policy =
            serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count.to_string() });
        let url = self.create_queue(name, fifo, Some(policy.to_string())).await?;
        self.insert(name, url);
        self.insert(format!("{name}-dlq"), dlq_url);
        Ok(())
    }

    async fn create_queue(&self, name: &str, fifo: bool, redrive: Option<String>) -> PortResult<String> {
        let mut req = self.client.create_queue().queue_name(name);
        if fifo {
            req = req.attributes(QueueAttributeName::FifoQueue, "true");
        }
        if let Some(r) = redrive {
            req = req.attributes(QueueAttributeName::RedrivePolicy, r);
        }
        let out = req.send().await.map_err(|e| sdk_error(&format!("SQS CreateQueue {name}"), e))?;
        out.queue_url().map(str::to_string).ok_or_else(|| PortError::Other(format!("SQS CreateQueue {name}: no URL")))
    }

    fn url(&self, queue: &str) -> PortResult<&str> {
        self.urls.get(queue).map(String::as_str).ok_or_else(|| {
            PortError::Invalid(format!(
                "queue {queue:?} is not configured: set {} to its SQS URL",
                env_var_for_queue(queue)
            ))
        })
    }

    async fn send_raw(
        &self,
        queue: &str,
        body: &str,
        dedup_id: Option<String>,
        group_id: Option<String>,
        delay: Option<Duration>,
        attributes: &BTreeMap<String, String>,
    ) -> PortResult<String> {
        let url = self.url(queue)?;
        let fifo = url.ends_with(".fifo");
        let mut req = self.client.send_message().queue_url(url).message_body(body);
        for (k, v) in attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| PortError::Invalid(format!("message attribute {k}: {e}")))?;
            req = req.message_attributes(k, attr);
        }
        if let Some(d) = delay.filter(|d| !d.is_zero()) {
            if fifo {
                return Err(PortError::Invalid(format!(
                    "queue {queue} is FIFO: SQS does not support a per-message delay there"
                )));
            }
            let secs = ceil_secs(d);
            if secs > MAX_DELAY_SECS {
                return Err(PortError::Invalid(format!("delay of {secs} s exceeds the SQS maximum of 900 s")));
            }
            req = req.delay_seconds(secs as i32);
        }
        if fifo {
            req = req
                .message_group_id(group_id.unwrap_or_else(|| "default".into()))
                .message_deduplication_id(dedup_id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()));
        }
        let out = req.send().await.map_err(|e| sdk_error(&format!("SQS SendMessage to {queue}"), e))?;
        out.message_id()
            .map(str::to_string)
            .ok_or_else(|| PortError::Other(format!("SQS SendMessage to {queue}: no id")))
    }

    async fn receive_raw(
        &self,
        queue: &str,
        max: u32,
        visibility: Duration,
    ) -> PortResult<Vec<aws_sdk_sqs::types::Message>> {
        let url = self.url(queue)?;
        let vis = ceil_secs(visibility);
        if vis > MAX_VISIBILITY_SECS {
            return Err(PortError::Invalid(format!("visibility timeout of {vis} s exceeds the SQS maximum of 12 h")));
        }
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, MAX_RECEIVE_BATCH) as i32)
            .visibility_timeout(vis as i32)
            .wait_time_seconds(self.wait_secs)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sdk_error(&format!("SQS ReceiveMessage from {queue}"), e))?;
        Ok(out.messages.unwrap_or_default())
    }
}

fn string_attributes(m: &aws_sdk_sqs::types::Message) -> BTreeMap<String, String> {
    m.message_attributes()
        .map(|attrs| attrs.iter().filter_map(|(k, v)| v.string_value().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

fn to_message(queue: &str, m: aws_sdk_sqs::types::Message) -> PortResult<Message> {
    let attributes = string_attributes(&m);
    let receive_count = m
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let missing = |what: &str| PortError::Other(format!("SQS message from {queue} without {what}"));
    Ok(Message {
        id: m.message_id.ok_or_else(|| missing("a message id"))?,
        receipt: m.receipt_handle.ok_or_else(|| missing("a receipt handle"))?,
        body: m.body.unwrap_or_default(),
        receive_count,
        attributes,
    })
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, queue: &str, body: &str, options: SendOptions) -> PortResult<String> {
        self.send_raw(queue, body, options.dedup_id, options.group_id, options.delay, &options.attributes).await
    }

    async fn receive(&self, queue: &str, max: u32, visibility: Duration) -> PortResult<Vec<Message>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.receive_raw(queue, max, visibility).await?.into_iter().map(|m| to_message(queue, m)).collect()
    }

    async fn delete(&self, queue: &str, receipt: &str) -> PortResult<()> {
        let url = self.url(queue)?;
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("SQS DeleteMessage from {queue}"), e))?;
        Ok(())
    }

    async fn change_visibility(&self, queue: &str, receipt: &str, visibility: Duration) -> PortResult<()> {
        let url = self.url(queue)?;
        let vis = ceil_secs(visibility);
        if vis > MAX_VISIBILITY_SECS {
            return Err(PortError::Invalid(format!("visibility timeout of {vis} s exceeds the SQS maximum of 12 h")));
        }
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(vis as i32)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("SQS ChangeMessageVisibility in {queue}"), e))?;
        Ok(())
    }

    async fn depth(&self, queue: &str) -> PortResult<u64> {
        let url = self.url(queue)?;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("SQS GetQueueAttributes of {queue}"), e))?;
        let n = out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .ok_or_else(|| PortError::Other(format!("SQS did not return ApproximateNumberOfMessages for {queue}")))?;
        n.parse().map_err(|e| PortError::Other(format!("SQS depth of {queue}: {n:?}: {e}")))
    }

    async fn redrive(&self, queue: &str, max: u32) -> PortResult<u32> {
        let dlq = format!("{queue}-dlq");
        // Both must be configured before anything moves.
        self.url(queue)?;
        self.url(&dlq)?;
        let mut moved = 0u32;
        while moved < max {
            let batch = self.receive_raw(&dlq, (max - moved).min(MAX_RECEIVE_BATCH), Duration::from_secs(60)).await?;
            if batch.is_empty() {
                break;
            }
            for m in batch {
                let attributes = string_attributes(&m);
                let group = m.attributes().and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId)).cloned();
                let receipt = m
                    .receipt_handle()
                    .ok_or_else(|| PortError::Other(format!("SQS message from {dlq} without a receipt handle")))?
                    .to_string();
                // The DLQ message id as dedup id: re-running a redrive that
                // crashed half-way does not duplicate on a FIFO queue.
                let dedup = m.message_id().map(str::to_string);
                self.send_raw(queue, m.body().unwrap_or_default(), dedup, group, None, &attributes).await?;
                self.delete(&dlq, &receipt).await?;
                moved += 1;
                tracing::info!(queue, message_id = m.message_id().unwrap_or_default(), "redriven from DLQ");
            }
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_map_to_logical_queue_names() {
        assert_eq!(queue_name_from_env_var("QUEUE_URL_PAYMENT_EVENTS").as_deref(), Some("payment-events"));
        assert_eq!(queue_name_from_env_var("QUEUE_URL_PAYMENT_EVENTS_DLQ").as_deref(), Some("payment-events-dlq"));
        assert_eq!(queue_name_from_env_var("QUEUE_URL_"), None);
        assert_eq!(queue_name_from_env_var("TABLE_NAME"), None);
        assert_eq!(env_var_for_queue("payment-events-dlq"), "QUEUE_URL_PAYMENT_EVENTS_DLQ");
    }

    #[test]
    fn durations_round_up_to_whole_seconds() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(30)), 30);
        assert_eq!(ceil_secs(Duration::from_millis(30_001)), 31);
    }
}
