//! rules-probe Lambda: loads the precompiled rule plugin named by `RULES_ARTIFACT` at init and answers
//! `{ "client", "invoice" }` events with the dunning decision and late fee (see `rules_probe` in lib.rs).

use std::sync::Arc;
use std::time::Instant;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use rules_probe::{Probe, ProbeEvent, ProbeResponse};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    lambda_runtime::tracing::init_default_subscriber();
    let probe = Arc::new(Probe::from_env(started)?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ProbeEvent>| {
        let probe = probe.clone();
        async move { Ok::<ProbeResponse, Error>(probe.handle(&event.payload)?) }
    }))
    .await
}
