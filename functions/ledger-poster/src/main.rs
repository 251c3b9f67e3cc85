//! ledger-poster Lambda: SQS consumer of `payment-events`. Each message is
//! matched and posted by `rentops_app::poster`; failures are reported per
//! message (ReportBatchItemFailures) so one poison message does not redeliver
//! nine good ones. After the queue's maxReceiveCount a message moves to the
//! DLQ; `rentops dlq redrive` replays it.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rentops_app::ctx::queues;
use rentops_app::poster::{Poster, record_failure};
use tracing::Instrument;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let aws = rentops_aws::AwsBackend::from_env().await?;
    let ports = rentops_app::Ports::new(aws.store, aws.queue, aws.blob, aws.secrets);
    let poster = Poster::new(ports);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| handle(&poster, event))).await
}

async fn handle(poster: &Poster, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let id = record.message_id.clone().unwrap_or_default();
        let receive_count: u32 =
            record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
        let body = record.body.as_deref().unwrap_or_default();
        let span = tracing::info_span!("message", message_id = %id, receive_count);
        if let Err(e) = poster.process(body).instrument(span).await {
            record_failure(poster.ports(), queues::PAYMENT_EVENTS, &id, receive_count, &e).await;
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}
