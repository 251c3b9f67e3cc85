//! HTTP routing shared by the Lambda function and the local runner.
//!
//! | method | path                                        | who                                             |
//! |--------|---------------------------------------------|-------------------------------------------------|
//! | POST   | `/v1/clients/{client}/notify/{provider}`    | payment providers (signed bodies, no JWT)       |
//! | GET    | `/v1/clients/{client}/summary`              | finance, supervisor, operator                   |
//! | GET    | `/v1/clients/{client}/suspense`             | finance, operator                               |
//! | POST   | `/v1/clients/{client}/statements`           | finance (bank statement file as the body; audited) |
//! | *      | `/v1/clients/{client}/tickets...`, `/technicians/...`, `/knowledge`, `/incidents` | see [`crate::tickets::http`] (with [`Api::with_tickets`]) |
//!
//! Every route but the webhook needs a principal ([`crate::auth`]) of the
//! path's client with one of the listed roles: 401 without, 403 otherwise.

use std::sync::Arc;

use rentops_ports::ClientId;
use serde_json::{Value, json};

use crate::auth::{Authenticator, Principal, Role, authorize};
use crate::http::{HttpRequest, HttpResponse};
use crate::statements::{self, StatementFormat};
use crate::webhook::WebhookService;
use crate::{audit, reports};

#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Notify { client: &'a str, provider: &'a str },
    Summary { client: &'a str },
    Suspense { client: &'a str },
    Statements { client: &'a str },
}

/// Match a path. A stage or base-path prefix before `/v1/` is ignored
/// (API Gateway REST stages, custom domain mappings).
pub fn route<'a>(method: &str, path: &'a str) -> Option<Route<'a>> {
    let start = path.find("/v1/")?;
    let segs: Vec<&str> = path[start + 1..].trim_end_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        ("POST", ["v1", "clients", client, "notify", provider]) => Some(Route::Notify { client, provider }),
        ("GET", ["v1", "clients", client, "summary"]) => Some(Route::Summary { client }),
        ("GET", ["v1", "clients", client, "suspense"]) => Some(Route::Suspense { client }),
        ("POST", ["v1", "clients", client, "statements"]) => Some(Route::Statements { client }),
        _ => None,
    }
}

/// The HTTP API. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    webhook: Arc<WebhookService>,
    auth: Option<Arc<Authenticator>>,
    tickets: Option<Arc<crate::tickets::TicketService>>,
}

impl Api {
    /// Webhooks only; every authenticated route answers 401 until [`Api::with_auth`].
    pub fn new(webhook: Arc<WebhookService>) -> Self {
        Api { webhook, auth: None, tickets: None }
    }

    pub fn with_auth(mut self, auth: Authenticator) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// Also serve the ticket routes ([`crate::tickets::http`]).
    pub fn with_tickets(mut self, tickets: Arc<crate::tickets::TicketService>) -> Self {
        self.tickets = Some(tickets);
        self
    }

    pub async fn handle(&self, req: HttpRequest) -> HttpResponse {
        self.handle_with_claims(req, None).await
    }

    /// `claims`: what API Gateway's JWT authorizer verified (Lambda only).
    pub async fn handle_with_claims(&self, req: HttpRequest, claims: Option<Value>) -> HttpResponse {
        if let Some(t) = &self.tickets
            && let Some(resp) = crate::tickets::http::handle(t, self.auth.as_deref(), &req, claims.as_ref()).await
        {
            return resp;
        }
        let r = match route(&req.method, &req.path) {
            Some(Route::Notify { client, provider }) => return self.webhook.handle(client, provider, &req).await,
            Some(r) => r,
            None if ["GET", "POST"].iter().any(|m| *m != req.method && route(m, &req.path).is_some()) => {
                return HttpResponse::error(
                    405,
                    "method_not_allowed",
                    &format!("{} is not allowed on {}", req.method, req.path),
                );
            }
            None => return HttpResponse::error(404, "not_found", &format!("no route for {} {}", req.method, req.path)),
        };
        let (client, roles, action): (&str, &[Role], &'static str) = match &r {
            Route::Summary { client } => {
                (client, &[Role::Finance, Role::Supervisor, Role::Operator], "read collection summaries")
            }
            Route::Suspense { client } => (client, &[Role::Finance, Role::Operator], "read the suspense list"),
            Route::Statements { client } => (client, &[Role::Finance], "import bank statements"),
            Route::Notify { .. } => unreachable!("handled above"),
        };
        let Ok(client) = ClientId::new(client) else {
            return HttpResponse::error(404, "unknown_client", "no such client");
        };
        let ports = self.webhook.ports();
        let principal = match self.authenticate(&req, claims.as_ref(), &client, roles, action) {
            Ok(p) => p,
            Err(resp) => return resp,
        };
        let now = ports.clock.now();
        let result = match r {
            Route::Summary { .. } => reports::collection_summary(ports, &client, now).await.map(|s| json!(s)),
            Route::Suspense { .. } => reports::suspense(ports, &client).await.map(|s| json!(s)),
            Route::Statements { .. } => {
                let name = query_param(req.query.as_deref(), "name").unwrap_or_default();
                let format = match query_param(req.query.as_deref(), "format").as_deref() {
                    Some("camt053") => StatementFormat::Camt053,
                    Some("csv") => StatementFormat::CnBankCsv,
                    Some(other) => {
                        return HttpResponse::error(
                            400,
                            "bad_format",
                            &format!("format {other:?}: use camt053 or csv"),
                        );
                    }
                    None => StatementFormat::detect(&name, &req.body),
                };
                if req.body.is_empty() {
                    return HttpResponse::error(400, "empty_statement", "the request body must be the statement file");
                }
                if let Err(e) = audit::record(
                    ports,
                    &client,
                    &principal,
                    req.source_ip.as_deref(),
                    "statement.import",
                    json!({"name": name, "bytes": req.body.len(), "format": format}),
                )
                .await
                {
                    return HttpResponse::error(503, "unavailable", &format!("could not audit the import: {e}"));
                }
                match statements::import(ports, &client, format, req.body.clone(), now).await {
                    Ok(r) => Ok(json!(r)),
                    Err(statements::ImportError::Parse(m)) => {
                        return HttpResponse::error(422, "unreadable_statement", &m);
                    }
                    Err(statements::ImportError::WrongAccount(m)) => {
                        return HttpResponse::error(422, "not_our_account", &m);
                    }
                    Err(statements::ImportError::Port(e)) => Err(e),
                }
            }
            Route::Notify { .. } => unreachable!("handled above"),
        };
        match result {
            Ok(v) => HttpResponse::json(200, &v),
            Err(rentops_ports::PortError::NotFound(_)) => HttpResponse::error(404, "unknown_client", "no such client"),
            Err(e) => {
                tracing::warn!(error = %e, %client, "request failed");
                HttpResponse::error(503, "unavailable", "storage is unavailable; try again")
            }
        }
    }

    fn authenticate(
        &self,
        req: &HttpRequest,
        claims: Option<&Value>,
        client: &ClientId,
        roles: &[Role],
        action: &'static str,
    ) -> Result<Principal, HttpResponse> {
        let Some(auth) = &self.auth else {
            return Err(HttpResponse::error(
                401,
                "no_authentication",
                "this deployment has no identity provider configured",
            ));
        };
        let now = self.webhook.ports().clock.now();
        let p = auth
            .authenticate(claims, req.header("authorization"), now)
            .and_then(|p| authorize(&p, client, roles, action).map(|_| p));
        p.map_err(|e| {
            tracing::info!(code = e.code(), %client, "request refused");
            HttpResponse::error(e.status(), e.code(), &e.to_string())
        })
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_stage_prefix() {
        assert_eq!(
            route("POST", "/v1/clients/acme/notify/alipay"),
            Some(Route::Notify { client: "acme", provider: "alipay" })
        );
        assert_eq!(
            route("POST", "/prod/v1/clients/acme/notify/wechatpay/"),
            Some(Route::Notify { client: "acme", provider: "wechatpay" })
        );
        assert_eq!(route("GET", "/v1/clients/acme/summary"), Some(Route::Summary { client: "acme" }));
        assert_eq!(route("POST", "/v1/clients/acme/statements"), Some(Route::Statements { client: "acme" }));
        assert_eq!(route("GET", "/v1/clients/acme/notify/alipay"), None);
        assert!(route("POST", "/v1/clients/acme/notify/alipay").is_some(), "so GET answers 405, not 404");
        assert_eq!(route("POST", "/v1/clients/acme/notify"), None);
        assert_eq!(route("POST", "/v1/clients/acme/notify/alipay/extra"), None);
    }

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(query_param(Some("format=csv&name=a%20b.csv"), "name").as_deref(), Some("a b.csv"));
        assert_eq!(query_param(None, "name"), None);
    }
}
