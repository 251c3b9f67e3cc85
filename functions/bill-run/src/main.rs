//! bill-run Lambda: EventBridge schedule (daily). Issues every bill that is
//! due by today in each client's own time zone, with its payment request.
//! Idempotent: a second run on the same day writes nothing new.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rentops_app::billrun;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let aws = rentops_aws::AwsBackend::from_env().await?;
    let ports = rentops_app::Ports::new(aws.store, aws.queue, aws.blob, aws.secrets);
    lambda_runtime::run(service_fn(|_event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
        let ports = ports.clone();
        async move {
            let report = billrun::run_all_clients(&ports).await?;
            tracing::info!(?report, "bill run finished");
            Ok::<_, Error>(serde_json::to_value(&report)?)
        }
    }))
    .await
}
