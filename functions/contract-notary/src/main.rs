//! contract-notary Lambda (issue 6): every signed contract document (`contracts/<client>/...`) and demand
//! letter (`letters/<client>/...`, written by the notifier) stored in the documents bucket is appended to its
//! client's transparency log, and the signed checkpoint is published to the checkpoints bucket (S3 Object
//! Lock, compliance mode). See `rentops_app::contracts::notarize`.
//!
//! Triggers (infra/template.yaml):
//! - EventBridge "Object Created" events of the documents bucket (the bucket sends its events to
//!   EventBridge; a rule matches the two prefixes). Direct S3 notifications (`Records`) are understood too.
//! - A daily sweep (`{"sweep": true}`) that notarizes anything an event missed and re-publishes any
//!   checkpoint whose publication failed.
//!
//! Every append is idempotent per document key, so redelivered events and the sweep change nothing twice. A
//! failed append fails the invocation: Lambda retries it (asynchronous invocation), then the event goes to
//! the function's DLQ, and the next sweep appends it anyway. Signing keys: one secret per client,
//! `rentops/<client>/notary` (`rentops log new-key` makes one).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rentops_app::Ports;
use rentops_app::contracts::notarize::{self, CheckpointRouting, KeyOutcome};
use rentops_app::notary::{KeySource, Notary, NotaryConfig};
use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bucket the signed checkpoints are published to.
const ENV_CHECKPOINT_BUCKET: &str = "CHECKPOINT_BUCKET";
/// Origin prefix of the logs (`<prefix>/<client>`); each client's key in `rentops/<client>/notary` must be
/// named `<prefix>/<client>`.
const ENV_ORIGIN_PREFIX: &str = "NOTARY_ORIGIN_PREFIX";

struct State {
    ports: Ports,
    notary: Notary,
    documents_bucket: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let conf = rentops_aws::load_sdk_config().await;
    let aws = rentops_aws::AwsBackend::from_vars(&conf, std::env::vars().collect())?;
    let checkpoint_bucket = std::env::var(ENV_CHECKPOINT_BUCKET)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("environment variable {ENV_CHECKPOINT_BUCKET} (checkpoints bucket) is not set"))?;
    let checkpoints = Arc::new(rentops_aws::S3Blob::new(rentops_aws::s3_client(&conf), checkpoint_bucket));
    let documents_bucket = aws.blob.bucket().to_string();
    let blob = Arc::new(CheckpointRouting::new(aws.blob, checkpoints));
    let ports = Ports::new(aws.store, aws.queue, blob, aws.secrets);
    let mut config = NotaryConfig::new(KeySource::Secrets);
    if let Some(p) = std::env::var(ENV_ORIGIN_PREFIX).ok().filter(|v| !v.trim().is_empty()) {
        config.origin_prefix = p;
    }
    let state = Arc::new(State { notary: Notary::new(ports.clone(), config), ports, documents_bucket });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| handle(state.clone(), event))).await
}

/// What an invocation is about.
#[derive(Debug, PartialEq, Eq)]
enum Trigger {
    /// Document keys created in the documents bucket.
    Documents(Vec<String>),
    Sweep,
    Ignored(String),
}

/// Keys of S3 event notifications are form-encoded (`red flower.jpg` arrives as `red+flower.jpg`);
/// EventBridge events carry the key as it is.
fn form_decoded(key: &str) -> String {
    percent_encoding::percent_decode_str(&key.replace('+', " ")).decode_utf8_lossy().into_owned()
}

fn parse(payload: &Value, bucket: &str) -> Trigger {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    if payload.get("sweep").and_then(Value::as_bool) == Some(true) || payload["detail-type"] == "Scheduled Event" {
        return Trigger::Sweep;
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let keys: Vec<String> = records
            .iter()
            .filter(|r| r["eventSource"] == "aws:s3" && s(&r["eventName"]).starts_with("ObjectCreated"))
            .filter(|r| s(&r["s3"]["bucket"]["name"]) == bucket)
            .map(|r| form_decoded(&s(&r["s3"]["object"]["key"])))
            .filter(|k| !k.is_empty())
            .collect();
        return if keys.is_empty() {
            Trigger::Ignored("no object created in the documents bucket".into())
        } else {
            Trigger::Documents(keys)
        };
    }
    if payload["source"] == "aws.s3" && payload["detail-type"] == "Object Created" {
        let (b, key) = (s(&payload["detail"]["bucket"]["name"]), s(&payload["detail"]["object"]["key"]));
        if b != bucket {
            return Trigger::Ignored(format!("object of bucket {b:?}, not the documents bucket"));
        }
        if key.is_empty() {
            return Trigger::Ignored("event without an object key".into());
        }
        return Trigger::Documents(vec![key]);
    }
    Trigger::Ignored("not an S3 object-created event nor a sweep".into())
}

async fn handle(state: Arc<State>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    match parse(&event.payload, &state.documents_bucket) {
        Trigger::Ignored(why) => {
            tracing::warn!(request_id = %event.context.request_id, %why, "contract-notary: event ignored");
            Ok(json!({ "ignored": why }))
        }
        Trigger::Documents(keys) => {
            let (mut appended, mut already, mut skipped, mut failed) = (0, 0, 0, 0);
            for key in &keys {
                match notarize::notarize_key(&state.ports, &state.notary, key).await {
                    Ok(KeyOutcome::Appended { index, kind, attempts }) => {
                        appended += 1;
                        tracing::info!(%key, index, %kind, attempts, "document notarized");
                    }
                    Ok(KeyOutcome::Already { index }) => {
                        already += 1;
                        tracing::info!(%key, index, "document already notarized");
                    }
                    Ok(KeyOutcome::Skipped(why)) => {
                        skipped += 1;
                        tracing::warn!(%key, %why, "not a document to notarize");
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::error!(%key, error = %e, "notarization failed; the event will be retried");
                    }
                }
            }
            if failed > 0 {
                return Err(format!("{failed} of {} documents not notarized", keys.len()).into());
            }
            Ok(json!({ "appended": appended, "already": already, "skipped": skipped }))
        }
        Trigger::Sweep => {
            let reports = notarize::notarize_pending_all(&state.ports, &state.notary).await?;
            let mut failed = 0;
            for r in &reports {
                let client = rentops_ports::ClientId::new(r.client.as_str())?;
                let republished = state.notary.republish(&client).await?;
                failed += r.failed.len();
                for (key, error) in &r.failed {
                    tracing::error!(client = %r.client, %key, %error, "sweep: notarization failed");
                }
                tracing::info!(client = %r.client, documents = r.documents, appended = r.appended.len(),
                    already = r.already, skipped = r.skipped.len(), failed = r.failed.len(), republished, "sweep done");
            }
            if failed > 0 {
                return Err(format!("sweep: {failed} documents not notarized").into());
            }
            Ok(json!({ "clients": reports.len(), "appended": reports.iter().map(|r| r.appended.len()).sum::<usize>() }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET: &str = "rentops-dev-rawnotificationsbucket-1a2b3c";

    #[test]
    fn s3_notifications_are_form_decoded() {
        let ev = json!({"Records": [
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
             "s3": {"bucket": {"name": BUCKET}, "object": {"key": "contracts/acme/files/ab/lease+L-000001%2C+signed.pdf", "size": 10}}},
            {"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
             "s3": {"bucket": {"name": BUCKET}, "object": {"key": "contracts/acme/x.pdf"}}},
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:CompleteMultipartUpload",
             "s3": {"bucket": {"name": "someone-elses"}, "object": {"key": "contracts/acme/y.pdf"}}},
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Copy",
             "s3": {"bucket": {"name": BUCKET}, "object": {"key": "letters/acme/L-000001/INV-L-000001-2026-10/n1.txt"}}}
        ]});
        assert_eq!(
            parse(&ev, BUCKET),
            Trigger::Documents(vec![
                "contracts/acme/files/ab/lease L-000001, signed.pdf".into(),
                "letters/acme/L-000001/INV-L-000001-2026-10/n1.txt".into()
            ])
        );
    }

    #[test]
    fn eventbridge_object_created_keys_are_taken_as_they_are() {
        let ev = json!({"version": "0", "source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": BUCKET}, "object": {"key": "contracts/acme/CT-000001/signed.pdf", "size": 5},
                       "reason": "PutObject"}});
        assert_eq!(parse(&ev, BUCKET), Trigger::Documents(vec!["contracts/acme/CT-000001/signed.pdf".into()]));
        let mut other = ev.clone();
        other["detail"]["bucket"]["name"] = json!("other");
        assert!(matches!(parse(&other, BUCKET), Trigger::Ignored(_)));
    }

    #[test]
    fn sweeps_and_anything_else() {
        assert_eq!(parse(&json!({"sweep": true}), BUCKET), Trigger::Sweep);
        assert_eq!(
            parse(&json!({"source": "aws.scheduler", "detail-type": "Scheduled Event"}), BUCKET),
            Trigger::Sweep
        );
        assert!(matches!(parse(&json!({"hello": 1}), BUCKET), Trigger::Ignored(_)));
        assert!(matches!(parse(&json!({"Records": []}), BUCKET), Trigger::Ignored(_)));
    }
}
