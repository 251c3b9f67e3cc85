//! payment-webhook Lambda: the HTTP API — provider webhooks
//! (`POST /v1/clients/{client}/notify/{provider}`) and the staff routes of
//! `rentops_app::api` behind the JWT authorizer.
//! Config and clients are built once per cold start; each request is handed
//! to `rentops_app::api::Api`.

use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use payment_webhook::{authorizer_claims, to_http_request, to_lambda_response};
use rentops_app::api::Api;
use rentops_app::auth::Authenticator;
use rentops_app::webhook::WebhookService;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let aws = rentops_aws::AwsBackend::from_env().await?;
    let ports = rentops_app::Ports::new(aws.store, aws.queue, aws.blob, aws.secrets);
    // Staff routes are behind the HTTP API's JWT authorizer (Cognito); webhooks are not.
    let api = Api::new(Arc::new(WebhookService::new(ports))).with_auth(Authenticator::Gateway);
    lambda_http::run(service_fn(move |req: Request| {
        let api = api.clone();
        async move {
            let claims = authorizer_claims(&req);
            Ok::<_, Error>(to_lambda_response(api.handle_with_claims(to_http_request(&req), claims).await))
        }
    }))
    .await
}
