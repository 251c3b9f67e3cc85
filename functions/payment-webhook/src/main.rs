//! payment-webhook Lambda: `POST /v1/clients/{client}/notify/{provider}`.
//! Config and clients are built once per cold start; each request is handed
//! to `rentops_app::api::Api`.

use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use payment_webhook::{to_http_request, to_lambda_response};
use rentops_app::api::Api;
use rentops_app::webhook::WebhookService;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rentops_app::telemetry::init();
    let aws = rentops_aws::AwsBackend::from_env().await?;
    let ports = rentops_app::Ports::new(aws.store, aws.queue, aws.blob, aws.secrets);
    let api = Api::new(Arc::new(WebhookService::new(ports)));
    lambda_http::run(service_fn(move |req: Request| {
        let api = api.clone();
        async move { Ok::<_, Error>(to_lambda_response(api.handle(to_http_request(&req)).await)) }
    }))
    .await
}
