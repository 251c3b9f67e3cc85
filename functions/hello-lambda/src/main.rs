//! hello-lambda: the hello-world `lambda_runtime` function (returns the event it gets), the baseline of the
//! cold-start benchmark in `tests/coldstart`. Same allocator (mimalloc), tokio runtime and log set-up
//! (`lambda_runtime::tracing::init_default_subscriber`) as `functions/rules-probe`, so the comparison
//! measures what loading and running a rule plugin adds. Not part of the deployed stack.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) })).await
}
