//! sla-timer Lambda: the SLA tick (issue 5), scheduled every minute by EventBridge (at least once: a tick
//! may run twice, or two may overlap).
//!
//! Each invocation runs `SlaTimer::tick(now)` over every client: the tickets the wake index says are due
//! (not every open ticket: the cost grows with tickets due), their targets recomputed from the event log
//! with the client's rule plugin and business calendar, pre-breach warnings, breaches and escalations
//! recorded once per level (conditional writes: a second timer finds them done), notifications sent in
//! the recipients' business hours through SNS/SES (`rentops_aws::AwsMessenger`) or the in-app inbox, and
//! the performance rows. A client that fails is logged with its reason and retried on the next tick;
//! the invocation fails (so the error alarm fires) but the other clients still ran.

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rentops_app::sla_timer::{SlaTimer, TimerSettings};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let aws = rentops_aws::AwsBackend::from_env().await?;
    let messenger = Arc::new(rentops_aws::AwsMessenger::from_env(&aws.sdk_config)?);
    let ports = rentops_app::Ports::new(aws.store, aws.queue, aws.blob, aws.secrets);
    let page_size = std::env::var("SLA_PAGE_SIZE").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let timer = Arc::new(SlaTimer::with_default_runtime(ports, messenger, TimerSettings { page_size })?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let timer = timer.clone();
        async move {
            // The tick's "now" is the clock's, not the event's `time`: a late retry must see what is due now.
            let _ = event;
            let report = timer.tick(timer.ports().clock.now()).await?;
            tracing::info!(
                clients = report.clients,
                due = report.due,
                recorded = report.recorded,
                sent = report.sent,
                deferred = report.deferred,
                conflicts = report.conflicts,
                skipped = report.skipped.len(),
                "sla tick done"
            );
            Ok::<_, Error>(serde_json::to_value(&report)?)
        }
    }))
    .await
}
