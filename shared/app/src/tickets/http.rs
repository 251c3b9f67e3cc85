//! The ticket routes of the staff/tenant HTTP API (`functions/ticket-intake`, and the same routes in
//! `rentops serve` through [`crate::api::Api`]). Described in `functions/ticket-intake/openapi.yaml`;
//! a test checks that [`ROUTES`] and the document list the same operations.
//!
//! | method | path | who |
//! |---|---|---|
//! | POST | `/v1/clients/{client}/tickets` | tenant (as themselves), front_desk, technician, supervisor, operator |
//! | GET | `/v1/clients/{client}/tickets` | every role above (a tenant sees their own) |
//! | GET | `/v1/clients/{client}/tickets/{ticket}` | every role above (a tenant: own ticket, timeline + SLA only) |
//! | POST | `/v1/clients/{client}/tickets/{ticket}/assign` | supervisor, operator (override: audited) |
//! | GET | `/v1/clients/{client}/tickets/{ticket}/recommendations` | front_desk, supervisor, operator |
//! | POST | `/v1/clients/{client}/tickets/{ticket}/status` | technician (own tickets), front_desk, supervisor, operator, tenant (cancel own) |
//! | POST | `/v1/clients/{client}/tickets/{ticket}/rating` | tenant (own ticket) |
//! | GET | `/v1/clients/{client}/technicians/{technician}/queue` | technician (own), supervisor, operator |
//! | GET | `/v1/clients/{client}/knowledge?device_type=&q=` | front_desk, technician, supervisor, operator |
//! | GET | `/v1/clients/{client}/incidents?building=` | front_desk, supervisor, operator |
//!
//! A token of another client is 403; another tenant's ticket is 404 (its existence is not revealed).
//! Bad input is 400 `{"error": "invalid_field", "field": ..., "message": ...}`.

use std::sync::Arc;

use rentops_ports::ClientId;
use serde_json::{Value, json};

use super::{AssignRequest, IntakeRequest, ListFilter, RatingRequest, StatusRequest, TicketService, TicketsError};
use crate::auth::{Authenticator, Principal, Role, authorize};
use crate::http::{HttpRequest, HttpResponse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Report,
    List,
    Show,
    Assign,
    Recommendations,
    Status,
    Rate,
    Queue,
    Knowledge,
    Incidents,
}

/// One route: method, path template (`{name}` segments), who may call it.
#[derive(Debug)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub op: Op,
    pub roles: &'static [Role],
    pub action: &'static str,
}

use Role::{FrontDesk, Operator, Supervisor, Technician, Tenant};

const ANYONE: &[Role] = &[Tenant, FrontDesk, Technician, Supervisor, Operator];

pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "POST",
        path: "/v1/clients/{client}/tickets",
        op: Op::Report,
        roles: ANYONE,
        action: "report faults",
    },
    RouteSpec {
        method: "GET",
        path: "/v1/clients/{client}/tickets",
        op: Op::List,
        roles: ANYONE,
        action: "list tickets",
    },
    RouteSpec {
        method: "GET",
        path: "/v1/clients/{client}/tickets/{ticket}",
        op: Op::Show,
        roles: ANYONE,
        action: "read tickets",
    },
    RouteSpec {
        method: "POST",
        path: "/v1/clients/{client}/tickets/{ticket}/assign",
        op: Op::Assign,
        roles: &[Supervisor, Operator],
        action: "assign tickets",
    },
    RouteSpec {
        method: "GET",
        path: "/v1/clients/{client}/tickets/{ticket}/recommendations",
        op: Op::Recommendations,
        roles: &[FrontDesk, Supervisor, Operator],
        action: "read dispatch recommendations",
    },
    RouteSpec {
        method: "POST",
        path: "/v1/clients/{client}/tickets/{ticket}/status",
        op: Op::Status,
        roles: ANYONE,
        action: "change ticket status",
    },
    RouteSpec {
        method: "POST",
        path: "/v1/clients/{client}/tickets/{ticket}/rating",
        op: Op::Rate,
        roles: &[Tenant],
        action: "rate repairs",
    },
    RouteSpec {
        method: "GET",
        path: "/v1/clients/{client}/technicians/{technician}/queue",
        op: Op::Queue,
        roles: &[Technician, Supervisor, Operator],
        action: "read work queues",
    },
    RouteSpec {
        method: "GET",
        path: "/v1/clients/{client}/knowledge",
        op: Op::Knowledge,
        roles: &[FrontDesk, Technician, Supervisor, Operator],
        action: "search the knowledge base",
    },
    RouteSpec {
        method: "GET",
        path: "/v1/clients/{client}/incidents",
        op: Op::Incidents,
        roles: &[FrontDesk, Supervisor, Operator],
        action: "read incidents",
    },
];

/// Path parameters of a matched route, in template order.
#[derive(Debug)]
pub struct Matched<'a> {
    pub spec: &'static RouteSpec,
    pub params: Vec<(&'static str, &'a str)>,
}

impl Matched<'_> {
    pub fn param(&self, name: &str) -> &str {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap_or_default()
    }
}

fn segments(path: &str) -> Option<Vec<&str>> {
    let start = path.find("/v1/")?;
    Some(path[start + 1..].trim_end_matches('/').split('/').collect())
}

/// Match a request (a stage prefix before `/v1/` is ignored).
pub fn route<'a>(method: &str, path: &'a str) -> Option<Matched<'a>> {
    let segs = segments(path)?;
    ROUTES.iter().filter(|r| r.method == method).find_map(|spec| {
        let tmpl: Vec<&str> = spec.path.trim_start_matches('/').split('/').collect();
        if tmpl.len() != segs.len() {
            return None;
        }
        let mut params = Vec::new();
        for (t, s) in tmpl.iter().zip(&segs) {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                if s.is_empty() {
                    return None;
                }
                params.push((name, *s));
            } else if t != s {
                return None;
            }
        }
        Some(Matched { spec, params })
    })
}

/// Whether some method matches `path` (for 405 answers).
pub fn path_known(path: &str) -> bool {
    ["GET", "POST"].iter().any(|m| route(m, path).is_some())
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn error_response(e: TicketsError, client: &ClientId) -> HttpResponse {
    match e {
        TicketsError::Invalid { field, message } => {
            HttpResponse::json(400, &json!({"error": "invalid_field", "field": field, "message": message}))
        }
        TicketsError::NotFound(m) => HttpResponse::error(404, "not_found", &m),
        TicketsError::Forbidden(m) => HttpResponse::error(403, "forbidden", &m),
        TicketsError::Conflict(m) => HttpResponse::error(409, "conflict", &m),
        TicketsError::Port(rentops_ports::PortError::NotFound(_)) => {
            HttpResponse::error(404, "unknown_client", "no such client")
        }
        TicketsError::Port(rentops_ports::PortError::Transient(m)) => {
            // Contention (many reports of one client at once) or a storage hiccup: retrying is safe (writes are
            // conditional; a report is idempotent on its Idempotency-Key).
            tracing::warn!(error = %m, %client, "ticket request not done; the caller retries");
            HttpResponse::error(503, "busy", &format!("{m}; retry (with the same Idempotency-Key for a report)"))
        }
        TicketsError::Port(e) => {
            tracing::warn!(error = %e, %client, "ticket request failed");
            HttpResponse::error(503, "unavailable", "storage is unavailable; try again")
        }
    }
}

fn body<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, HttpResponse> {
    const MAX_BODY: usize = 64 * 1024;
    if req.body.len() > MAX_BODY {
        return Err(HttpResponse::json(
            413,
            &json!({"error": "too_large", "field": "body", "message": format!("at most {MAX_BODY} bytes; upload media through the returned URLs")}),
        ));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        let msg = e.to_string();
        // serde names the field: "missing field `category`", "unknown field `x`", "invalid type ... for `stars`".
        let field = msg.split('`').nth(1).unwrap_or("body").to_string();
        HttpResponse::json(400, &json!({"error": "invalid_field", "field": field, "message": msg}))
    })
}

/// Authenticate and authorize `req` for `spec`.
pub fn authenticate(
    auth: Option<&Authenticator>,
    req: &HttpRequest,
    claims: Option<&Value>,
    client: &ClientId,
    spec: &RouteSpec,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Principal, HttpResponse> {
    let Some(auth) = auth else {
        return Err(HttpResponse::error(
            401,
            "no_authentication",
            "this deployment has no identity provider configured",
        ));
    };
    auth.authenticate(claims, req.header("authorization"), now)
        .and_then(|p| authorize(&p, client, spec.roles, spec.action).map(|_| p))
        .map_err(|e| {
            tracing::info!(code = e.code(), %client, "ticket request refused");
            HttpResponse::error(e.status(), e.code(), &e.to_string())
        })
}

/// Answer a ticket route (`None` when the path is not a ticket route).
pub async fn handle(
    svc: &TicketService,
    auth: Option<&Authenticator>,
    req: &HttpRequest,
    claims: Option<&Value>,
) -> Option<HttpResponse> {
    let Some(m) = route(&req.method, &req.path) else {
        if path_known(&req.path) {
            return Some(HttpResponse::error(
                405,
                "method_not_allowed",
                &format!("{} is not allowed on {}", req.method, req.path),
            ));
        }
        return None;
    };
    let Ok(client) = ClientId::new(m.param("client")) else {
        return Some(HttpResponse::error(404, "unknown_client", "no such client"));
    };
    let now = svc.ports().clock.now();
    let who = match authenticate(auth, req, claims, &client, m.spec, now) {
        Ok(p) => p,
        Err(r) => return Some(r),
    };
    Some(answer(svc, &m, &client, req, &who, now).await.unwrap_or_else(|r| r))
}

async fn answer(
    svc: &TicketService,
    m: &Matched<'_>,
    client: &ClientId,
    req: &HttpRequest,
    who: &Principal,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, HttpResponse> {
    let err = |e: TicketsError| error_response(e, client);
    let number = || super::parse_number(m.param("ticket")).map_err(err);
    let q = |name: &str| query_param(req.query.as_deref(), name);
    Ok(match m.spec.op {
        Op::Report => {
            let r: IntakeRequest = body(req)?;
            let out = svc.intake(client, req.header("idempotency-key"), r, who, now).await.map_err(err)?;
            let status = if out.replayed || out.outcome == super::IntakeKind::Duplicate { 200 } else { 201 };
            HttpResponse::json(status, &json!(out))
        }
        Op::List => {
            let filter = ListFilter {
                status: q("status"),
                building: q("building"),
                technician: q("technician"),
                device_type: q("device_type"),
            };
            let list = svc.list(client, who, &filter).await.map_err(err)?;
            HttpResponse::json(200, &json!({ "tickets": list }))
        }
        Op::Show => HttpResponse::json(200, &json!(svc.view(client, &number()?, who, now).await.map_err(err)?)),
        Op::Assign => {
            let r: AssignRequest = if req.body.is_empty() { AssignRequest::default() } else { body(req)? };
            let t = svc.assign(client, &number()?, r, who, now).await.map_err(err)?;
            HttpResponse::json(
                200,
                &json!({"ticket": t.number, "status": t.status(), "technician": t.state().technician, "event": t.events().last()}),
            )
        }
        Op::Recommendations => HttpResponse::json(
            200,
            &json!({"candidates": svc.recommendations(client, &number()?, now).await.map_err(err)?}),
        ),
        Op::Status => {
            let r: StatusRequest = body(req)?;
            let t = svc.change_status(client, &number()?, r, who, now).await.map_err(err)?;
            HttpResponse::json(200, &json!({"ticket": t.number, "status": t.status(), "timeline": t.tenant_timeline()}))
        }
        Op::Rate => {
            let r: RatingRequest = body(req)?;
            HttpResponse::json(200, &json!(svc.rate(client, &number()?, r, who, now).await.map_err(err)?))
        }
        Op::Queue => {
            let tech = m.param("technician");
            if who.role == Role::Technician && tech != who.user {
                return Err(HttpResponse::error(403, "forbidden", "technicians read their own queue"));
            }
            HttpResponse::json(200, &json!({"technician": tech, "queue": svc.queue(client, tech).await.map_err(err)?}))
        }
        Op::Knowledge => {
            let text = q("q").unwrap_or_default();
            let limit = match q("limit") {
                Some(l) => l.parse::<usize>().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                    HttpResponse::json(400, &json!({"error": "invalid_field", "field": "limit", "message": "1 to 100"}))
                })?,
                None => 10,
            };
            let hits = svc.search(client, q("device_type").as_deref(), &text, limit).await.map_err(err)?;
            HttpResponse::json(200, &json!({ "hits": hits }))
        }
        Op::Incidents => {
            let Some(b) = q("building") else {
                return Err(HttpResponse::json(
                    400,
                    &json!({"error": "invalid_field", "field": "building", "message": "name the building"}),
                ));
            };
            HttpResponse::json(200, &json!({"incidents": svc.incidents(client, &b).await.map_err(err)?}))
        }
    })
}

/// The ticket API on its own (the ticket-intake Lambda). Cheap to clone.
#[derive(Clone)]
pub struct TicketApi {
    svc: Arc<TicketService>,
    auth: Option<Arc<Authenticator>>,
}

impl TicketApi {
    pub fn new(svc: Arc<TicketService>, auth: Authenticator) -> Self {
        TicketApi { svc, auth: Some(Arc::new(auth)) }
    }

    pub async fn handle(&self, req: HttpRequest) -> HttpResponse {
        self.handle_with_claims(req, None).await
    }

    pub async fn handle_with_claims(&self, req: HttpRequest, claims: Option<Value>) -> HttpResponse {
        match handle(&self.svc, self.auth.as_deref(), &req, claims.as_ref()).await {
            Some(r) => r,
            None => HttpResponse::error(404, "not_found", &format!("no route for {} {}", req.method, req.path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contention_is_a_retryable_busy_not_an_outage() {
        let client = ClientId::new("acme").unwrap();
        let e = TicketsError::Port(rentops_ports::PortError::Transient(
            "intake of r-1: too many concurrent changes (contention)".into(),
        ));
        let r = error_response(e, &client);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!((r.status, v["error"].as_str()), (503, Some("busy")));
        assert_eq!(
            v["message"],
            "intake of r-1: too many concurrent changes (contention); retry (with the same Idempotency-Key for a report)"
        );
        // Other storage trouble stays a plain 503 without internals.
        let r = error_response(
            TicketsError::Port(rentops_ports::PortError::Other("disk I/O error at /var/x".into())),
            &client,
        );
        assert_eq!((r.status, r.body_text().contains("disk")), (503, false));
    }

    #[test]
    fn routes_match_templates() {
        let m = route("POST", "/prod/v1/clients/acme/tickets/T-2026-000001/status").unwrap();
        assert_eq!((m.spec.op, m.param("client"), m.param("ticket")), (Op::Status, "acme", "T-2026-000001"));
        assert_eq!(route("GET", "/v1/clients/acme/tickets").unwrap().spec.op, Op::List);
        assert_eq!(route("POST", "/v1/clients/acme/tickets/").unwrap().spec.op, Op::Report);
        assert!(route("DELETE", "/v1/clients/acme/tickets").is_none());
        assert!(path_known("/v1/clients/acme/tickets"));
        assert!(route("GET", "/v1/clients/acme/tickets/T-1/status/x").is_none());
        assert!(route("GET", "/v1/clients/acme/summary").is_none());
    }
}
