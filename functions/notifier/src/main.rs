//! notifier Lambda: delivers dunning notices (issue 4), once each.
//!
//! SQS `notices` (written by the dunning worker, at least once) → `Notifier::process` per message:
//! SMS (SNS) and e-mail (SES v2) through `rentops_aws::AwsMessenger`, in-app messages, collector tasks and
//! demand letters (S3) through the store and blob ports. A notice that cannot be delivered as it is (no
//! mobile number, rejected address, template hole) is recorded `failed` on the notice with its reason and an
//! audit event (`rentops notices list --failed`), and the message is done. Transient trouble is reported per
//! message (ReportBatchItemFailures): SQS redelivers, and after maxReceiveCount the message is in the DLQ
//! (`rentops dlq list --queue notices` / `rentops dlq redrive --queue notices`).

use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rentops_app::ctx::queues;
use rentops_app::notifier::{Delivery, Notifier};
use rentops_app::poster::{PostError, record_failure};
use tracing::Instrument;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let aws = rentops_aws::AwsBackend::from_env().await?;
    let messenger = Arc::new(rentops_aws::AwsMessenger::from_env(&aws.sdk_config)?);
    let ports = rentops_app::Ports::new(aws.store, aws.queue, aws.blob, aws.secrets);
    let notifier = Arc::new(Notifier::new(ports, messenger));
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| handle(notifier.clone(), event))).await
}

async fn handle(notifier: Arc<Notifier>, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let receive_count: u32 =
            record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
        let body = record.body.as_deref().unwrap_or_default();
        let span = tracing::info_span!("notice", message_id = %id, receive_count);
        match notifier.process(body).instrument(span).await {
            Ok(Delivery::Sent { reference }) => tracing::info!(message_id = %id, %reference, "notice sent"),
            Ok(Delivery::AlreadyDone) => tracing::info!(message_id = %id, "notice already delivered"),
            Ok(Delivery::Failed { reason }) => tracing::warn!(message_id = %id, %reason, "notice failed permanently"),
            Err(e) => {
                record_failure(notifier.ports(), queues::NOTICES, &id, receive_count, &PostError::from(e)).await;
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    Ok(response)
}
