//! ticket-intake Lambda: the maintenance ticket routes of `rentops_app::tickets::http` (report a fault,
//! follow it, dispatch, status, rating, knowledge base) behind the HTTP API's JWT authorizer.
//! Config, clients and the plugin runtime are built once per cold start; each request is handed to
//! `TicketApi`. The request/response glue is the payment-webhook crate's (one conversion for every
//! HTTP function). Routes: `functions/ticket-intake/openapi.yaml`.

use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use payment_webhook::{authorizer_claims, to_http_request, to_lambda_response};
use rentops_app::auth::Authenticator;
use rentops_app::tickets::TicketService;
use rentops_app::tickets::http::TicketApi;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let aws = rentops_aws::AwsBackend::from_env().await?;
    let ports = rentops_app::Ports::new(aws.store, aws.queue, aws.blob, aws.secrets);
    let api = TicketApi::new(Arc::new(TicketService::with_default_runtime(ports)?), Authenticator::Gateway);
    lambda_http::run(service_fn(move |req: Request| {
        let api = api.clone();
        async move {
            let claims = authorizer_claims(&req);
            Ok::<_, Error>(to_lambda_response(api.handle_with_claims(to_http_request(&req), claims).await))
        }
    }))
    .await
}
