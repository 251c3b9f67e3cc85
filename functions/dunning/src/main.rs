//! dunning Lambda: scheduled dunning (issue 4), two triggers in one function.
//!
//! - EventBridge schedule (daily, at least once) → `dunning::enqueue_run`: for each client, its local date and one
//!   shard task per open-invoice shard on queue `dunning-work`.
//! - SQS `dunning-work` → `Dunning::process` per message: a page loop over the shard until done or the time
//!   budget (the function's remaining time minus a margin); the rest is re-enqueued as a continuation task.
//!   Failures are reported per message (ReportBatchItemFailures); after maxReceiveCount a task goes to the DLQ
//!   (`rentops dlq list` / `redrive`). Every write is idempotent, so a redelivered task changes nothing twice.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rentops_app::ctx::queues;
use rentops_app::dunning::{self, Dunning, DunningSettings};
use rentops_app::poster::record_failure;
use tracing::Instrument;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Time kept free at the end of an invocation to enqueue the continuation and answer.
const MARGIN: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let aws = rentops_aws::AwsBackend::from_env().await?;
    let ports = rentops_app::Ports::new(aws.store, aws.queue, aws.blob, aws.secrets);
    let page_size = std::env::var("DUNNING_PAGE_SIZE").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let settings = DunningSettings { page_size, ..Default::default() };
    let worker = Arc::new(Dunning::with_default_runtime(ports, settings)?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| handle(worker.clone(), event))).await
}

async fn handle(worker: Arc<Dunning>, event: LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, Error> {
    if event.payload.get("Records").is_none() {
        // The schedule: fan out.
        let now = worker.ports().clock.now();
        let runs = dunning::enqueue_run(worker.ports(), now).await?;
        tracing::info!(clients = runs.len(), "dunning shard tasks enqueued");
        return Ok(serde_json::json!({ "enqueued": runs }));
    }
    let deadline = event.context.deadline();
    let sqs: SqsEvent = serde_json::from_value(event.payload)?;
    let mut response = SqsBatchResponse::default();
    for record in sqs.records {
        let id = record.message_id.clone().unwrap_or_default();
        let receive_count: u32 =
            record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
        let body = record.body.as_deref().unwrap_or_default();
        let budget = deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default().saturating_sub(MARGIN);
        let span = tracing::info_span!("dunning_task", message_id = %id, receive_count);
        match worker.process_with_budget(body, budget).instrument(span).await {
            Ok(report) => tracing::info!(client = %report.client, notices = report.notices,
                accruals = report.accruals, skipped = report.skipped.len(), "dunning task done"),
            Err(e) => {
                record_failure(
                    worker.ports(),
                    queues::DUNNING_WORK,
                    &id,
                    receive_count,
                    &rentops_app::poster::PostError::from(e),
                )
                .await;
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    Ok(serde_json::to_value(response)?)
}
