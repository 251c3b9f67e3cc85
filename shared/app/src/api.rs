//! HTTP routing shared by the Lambda function and the local runner.
//!
//! | method | path                                        | who                      |
//! |--------|---------------------------------------------|--------------------------|
//! | POST   | `/v1/clients/{client}/notify/{provider}`    | payment providers (signed bodies, no JWT) |

use std::sync::Arc;

use crate::http::{HttpRequest, HttpResponse};
use crate::webhook::WebhookService;

#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Notify { client: &'a str, provider: &'a str },
}

/// Match a path. A stage or base-path prefix before `/v1/` is ignored
/// (API Gateway REST stages, custom domain mappings).
pub fn route<'a>(method: &str, path: &'a str) -> Option<Route<'a>> {
    let start = path.find("/v1/")?;
    let segs: Vec<&str> = path[start + 1..].trim_end_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        ("POST", ["v1", "clients", client, "notify", provider]) => Some(Route::Notify { client, provider }),
        _ => None,
    }
}

/// The HTTP API. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    webhook: Arc<WebhookService>,
}

impl Api {
    pub fn new(webhook: Arc<WebhookService>) -> Self {
        Api { webhook }
    }

    pub async fn handle(&self, req: HttpRequest) -> HttpResponse {
        match route(&req.method, &req.path) {
            Some(Route::Notify { client, provider }) => self.webhook.handle(client, provider, &req).await,
            None => HttpResponse::error(404, "not_found", &format!("no route for {} {}", req.method, req.path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_notify_with_and_without_stage_prefix() {
        assert_eq!(
            route("POST", "/v1/clients/acme/notify/alipay"),
            Some(Route::Notify { client: "acme", provider: "alipay" })
        );
        assert_eq!(
            route("POST", "/prod/v1/clients/acme/notify/wechatpay/"),
            Some(Route::Notify { client: "acme", provider: "wechatpay" })
        );
        assert_eq!(route("GET", "/v1/clients/acme/notify/alipay"), None);
        assert_eq!(route("POST", "/v1/clients/acme/notify"), None);
        assert_eq!(route("POST", "/v1/clients/acme/notify/alipay/extra"), None);
    }
}
