//! Staff routes: authentication (401), client and role checks (403), the
//! summary and suspense reads, and an audited statement upload that books
//! through the same queue and poster as everything else.

use std::sync::Arc;

use rentops_app::api::Api;
use rentops_app::audit::AuditEvent;
use rentops_app::auth::{Authenticator, LocalIssuer, Principal, Role};
use rentops_app::http::HttpRequest;
use rentops_app::keys;
use rentops_app::webhook::WebhookService;
use rentops_ports::{ClientId, Query, SkRange};
use rust_decimal_macros::dec;

use crate::common::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn staff_api(h: &Harness) -> Api {
    Api::new(Arc::new(WebhookService::new(h.ports.clone()))).with_auth(Authenticator::Local(LocalIssuer::new(SECRET)))
}

fn token(h: &Harness, client: &str, role: Role) -> String {
    let p = Principal { client: ClientId::new(client).unwrap(), user: "clerk-1".into(), role };
    LocalIssuer::new(SECRET).issue(&p, h.now(), chrono::Duration::hours(1))
}

fn req(method: &str, path: &str, bearer: Option<&str>, body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        path: path.into(),
        headers: bearer.map(|t| vec![("Authorization".to_string(), format!("Bearer {t}"))]).unwrap_or_default(),
        body,
        source_ip: Some("198.51.100.23".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn staff_routes_need_a_token_of_the_right_client_and_role() {
    let h = Harness::billed().await;
    let api = staff_api(&h);
    let r = api.handle(req("GET", "/v1/clients/acme/summary", None, vec![])).await;
    assert_eq!((r.status, r.body_text().contains("missing_token")), (401, true));
    let r = api.handle(req("GET", "/v1/clients/acme/summary", Some("not.a.token"), vec![])).await;
    assert_eq!(r.status, 401);
    let tenant = token(&h, "acme", Role::Tenant);
    let r = api.handle(req("GET", "/v1/clients/acme/suspense", Some(&tenant), vec![])).await;
    assert_eq!(r.status, 403, "{}", r.body_text());
    let other = token(&h, "beta", Role::Finance);
    let r = api.handle(req("GET", "/v1/clients/acme/summary", Some(&other), vec![])).await;
    assert_eq!((r.status, r.body_text().contains("wrong_client")), (403, true));
    // Without an identity provider configured, staff routes are closed (webhooks stay open).
    let r = h.api.handle(req("GET", "/v1/clients/acme/summary", Some(&tenant), vec![])).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn finance_reads_the_summary_and_uploads_an_audited_statement() {
    let h = Harness::billed().await;
    let api = staff_api(&h);
    let finance = token(&h, "acme", Role::Finance);
    let r = api.handle(req("GET", "/v1/clients/acme/summary", Some(&finance), vec![])).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["total"]["receivable"]["amount"], "12700.00", "{v}");
    assert_eq!(v["total"]["received"]["amount"], "0", "{v}");

    let xml = camt053_v8(&[CamtLine::credit("API-1", "3200.00", "2026-04-02T10:00:00+08:00", "房租 L-000002")]);
    let mut upload = req("POST", "/v1/clients/acme/statements", Some(&finance), xml);
    upload.query = Some("name=icbc-april.xml".into());
    let r = api.handle(upload).await;
    assert_eq!(r.status, 200, "{}", r.body_text());
    let report: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!((report["credits"].as_u64(), report["new_events"].as_u64()), (Some(1), Some(1)));
    h.drain().await;
    assert_eq!(h.invoice(ACME, "L-000002", "2026-04").await.paid.amount, dec!(3200.00));

    let audit: Vec<AuditEvent> = h
        .store(ACME)
        .query_all(Query::table(keys::AUDIT, SkRange::All))
        .await
        .unwrap()
        .iter()
        .map(|i| i.decode().unwrap())
        .collect();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (audit[0].action.as_str(), audit[0].user.as_str(), audit[0].role.as_str(), audit[0].source_ip.as_deref()),
        ("statement.import", "clerk-1", "finance", Some("198.51.100.23"))
    );

    let r = api.handle(req("POST", "/v1/clients/acme/statements", Some(&finance), b"not a statement".to_vec())).await;
    assert_eq!(r.status, 422, "{}", r.body_text());
    // A statement of somebody else's account is refused before anything is booked.
    h.load(&beta_portfolio()).await;
    let beta_finance = token(&h, "beta", Role::Finance);
    let xml = camt053_v8(&[CamtLine::credit("API-2", "3200.00", "2026-04-02T10:00:00+08:00", "房租 L-000001")]);
    let r = api.handle(req("POST", "/v1/clients/beta/statements", Some(&beta_finance), xml)).await;
    assert_eq!((r.status, r.body_text().contains("not_our_account")), (422, true), "{}", r.body_text());
    let r =
        api.handle(req("GET", "/v1/clients/nobody/summary", Some(&token(&h, "nobody", Role::Finance)), vec![])).await;
    assert_eq!(r.status, 404, "{}", r.body_text());
    let supervisor = token(&h, "acme", Role::Supervisor);
    let r = api.handle(req("POST", "/v1/clients/acme/statements", Some(&supervisor), b"x".to_vec())).await;
    assert_eq!(r.status, 403);
}
