//! Self-check of `expected()` against the real system: the shipped-size sample is loaded into
//! the embedded backend, billed, every notification is handled by the real webhook service at
//! its delivery time (queue drained by the real poster after each), the statements are
//! imported, and the ledger, suspense list, rejected log and summary must equal `expected()`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rentops_app::http::HttpRequest;
use rentops_app::poster::Poster;
use rentops_app::statements::{StatementFormat, import};
use rentops_app::webhook::WebhookService;
use rentops_app::{Ports, billrun, keys, portfolio as app_portfolio, reports};
use rentops_domain::ledger::{EntryKind, LedgerEntry};
use rentops_embedded::EmbeddedBackend;
use rentops_ports::{ClientId, ManualClock, Query, keys::prefix};
use rentops_sample::{SampleSpec, expected, month_of_notifications, portfolio, secrets_file, statements};
use rust_decimal::Decimal;

async fn drain(ports: &Ports, poster: &Poster) {
    loop {
        let msgs = ports.queue.receive("payment-events", 10, Duration::from_secs(30)).await.expect("receive");
        if msgs.is_empty() {
            return;
        }
        for m in msgs {
            poster.process(&m.body).await.unwrap_or_else(|e| panic!("poster failed: {e}"));
            ports.queue.delete("payment-events", &m.receipt).await.expect("delete");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_system_shows_the_expected_figures() {
    let spec = SampleSpec::demo();
    let p = portfolio(&spec);
    let notes = month_of_notifications(&p, &spec);
    let exp = expected(&p, &spec, &notes);

    let dir = tempfile::tempdir().expect("tmp");
    let backend = EmbeddedBackend::open(dir.path()).expect("backend");
    std::fs::write(dir.path().join("secrets.json"), serde_json::to_vec(&secrets_file(&p)).expect("json"))
        .expect("secrets");
    let clock = Arc::new(ManualClock::at(spec.bill_run_at()));
    let ports = Ports {
        store: backend.store.clone(),
        queue: backend.queue.clone(),
        blob: backend.blob.clone(),
        secrets: backend.secrets.clone(),
        clock: clock.clone(),
        intake: Some(backend.intake.clone()),
    };
    for c in &p.clients {
        app_portfolio::load(&ports, c).await.expect("load");
    }
    let runs = billrun::run_all_clients(&ports).await.expect("bill run");
    for r in &runs {
        assert_eq!(r.issued, exp.clients[&r.client].invoices_issued, "{}", r.client);
    }
    let webhook = WebhookService::new(ports.clone());
    let poster = Poster::new(ports.clone());
    for n in &notes {
        clock.set(n.at);
        let req = HttpRequest {
            method: "POST".into(),
            path: n.path.clone(),
            query: n.query.clone(),
            headers: n.headers.clone(),
            body: n.body.clone(),
            source_ip: Some("203.0.113.7".into()),
        };
        let resp = webhook.handle(&n.client, &n.provider, &req).await;
        assert_eq!(resp.status, n.expect_status, "#{} {} {}: {}", n.seq, n.provider, n.label, resp.body_text());
        drain(&ports, &poster).await;
    }
    clock.set(spec.month_end());
    for (client, name, bytes) in statements(&p, &spec) {
        let format = StatementFormat::detect(&name, &bytes);
        import(&ports, &ClientId::new(client).expect("id"), format, bytes, spec.month_end()).await.expect("import");
    }
    drain(&ports, &poster).await;

    for c in &p.clients {
        let id = ClientId::new(c.client.id.clone()).expect("id");
        let want = &exp.clients[id.as_str()];
        let store = ports.client_store(&id);
        let (mut payments, mut refunds, mut credit) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        let (mut n_pay, mut n_ref) = (0, 0);
        for l in &c.leases {
            for it in
                store.query_all(Query::table(keys::lease(l.number.as_str()), prefix("ENTRY#"))).await.expect("entries")
            {
                let e: LedgerEntry = it.decode().expect("entry");
                match e.kind {
                    EntryKind::Payment => {
                        payments += e.amount.amount;
                        n_pay += 1;
                    }
                    EntryKind::Refund | EntryKind::Reversal => {
                        refunds += e.amount.amount;
                        n_ref += 1;
                    }
                    _ => {}
                }
            }
            let rec: app_portfolio::LeaseRecord = store
                .get(&keys::lease(l.number.as_str()), keys::META)
                .await
                .expect("get")
                .expect("lease")
                .decode()
                .expect("rec");
            credit += rec.credit.amount;
        }
        assert_eq!((n_pay, payments), (want.payments_booked, want.payments_amount), "{id} payments");
        assert_eq!((n_ref, refunds), (want.refunds_booked, want.refunds_amount), "{id} refunds");
        assert_eq!(payments - refunds, want.received, "{id} received");
        assert_eq!(credit, want.credit, "{id} credit");
        let summary = reports::collection_summary(&ports, &id, spec.month_end()).await.expect("summary");
        assert_eq!(summary.total.receivable.amount, want.receivable, "{id} receivable");
        assert_eq!(summary.total.received.amount, want.received_on_invoices, "{id} received on invoices");
        assert_eq!(summary.total.collection_rate_percent(), want.collection_rate_percent, "{id} rate");
        let mut suspense: BTreeMap<String, usize> = BTreeMap::new();
        let mut suggestions = Vec::new();
        let mut held = Decimal::ZERO;
        for item in reports::suspense(&ports, &id).await.expect("suspense") {
            let code = serde_json::to_value(&item.reason).expect("json")["code"].as_str().unwrap_or("?").to_string();
            *suspense.entry(code).or_default() += 1;
            held += item.amount.amount;
            if let Some(s) = item.suggestion {
                suggestions.push((s.lease.to_string(), s.invoice.map(|i| i.to_string()).unwrap_or_default()));
            }
        }
        assert_eq!(suspense, want.suspense, "{id} suspense");
        assert_eq!(held, want.suspense_amount, "{id} suspense amount");
        let want_sugg: Vec<(String, String)> =
            want.suggestions.iter().map(|s| (s.lease.clone(), s.invoice.clone())).collect();
        assert_eq!(suggestions, want_sugg, "{id} suggestions");
        let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
        for r in reports::rejected(&ports, &id).await.expect("rejected") {
            *rejected.entry(r.code).or_default() += 1;
        }
        assert_eq!(rejected, want.rejected, "{id} rejected");
    }
}
