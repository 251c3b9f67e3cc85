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
//! The event handling is `rentops_app::contracts::notarize::handle_event` (tested there and on moto); this
//! binary only builds the AWS ports and the notary.
//!
//! Every append is idempotent per document key, so redelivered events and the sweep change nothing twice. A
//! failed append fails the invocation: Lambda retries it (asynchronous invocation), then the event goes to
//! the function's DLQ, and the next sweep appends it anyway. Signing keys: one secret per client,
//! `rentops/<client>/notary` (`rentops log new-key` makes one).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rentops_app::Ports;
use rentops_app::contracts::notarize::{self, CheckpointRouting};
use rentops_app::notary::{KeySource, Notary, NotaryConfig};
use serde_json::Value;

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

async fn handle(state: Arc<State>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
    let report = tracing::Instrument::instrument(
        notarize::handle_event(&state.ports, &state.notary, &event.payload, &state.documents_bucket),
        span,
    )
    .await?;
    if !report.failed.is_empty() {
        // Lambda retries the invocation, then the event goes to the DLQ; the daily sweep appends it anyway.
        return Err(format!("{} documents not notarized: {}", report.failed.len(), report.failed[0].1).into());
    }
    Ok(report.to_json())
}
