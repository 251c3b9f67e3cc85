//! rules-probe handler: plugin decisions equal the native rules; an artifact that does not load still
//! answers (fallback, default rules); the response JSON shape the cold-start benchmark relies on.
//! Needs the packaged plugins: scripts/build-plugins.sh ($CARGO_TARGET_DIR/plugins/default.wasm).

use std::path::PathBuf;
use std::time::Instant;

use rentops_rules::{InvoiceFacts, Money, PriorStage, RulesTable, TenantHistory, evaluate};
use rules_probe::{Probe, ProbeEvent, Source};

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

fn default_artifact() -> Vec<u8> {
    let path = target_dir().join("plugins/default.wasm");
    let component = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}. Build the plugins first: scripts/build-plugins.sh", path.display()));
    rentops_plugin_host::precompile(&component).expect("default plugin precompiles")
}

fn invoice(days_after_due: i32, outstanding: i64) -> InvoiceFacts {
    InvoiceFacts {
        invoice_id: format!("inv-{days_after_due}"),
        lease_id: "lease-1".into(),
        days_since_issue: 30 + days_after_due,
        days_after_due,
        amount_due: Money::new(800_000, "CNY"),
        amount_outstanding: Money::new(outstanding, "CNY"),
        partial_payments: u32::from(outstanding < 800_000),
        prior_stages: vec![],
        history: TenantHistory { late_invoices_12m: 0, max_days_late_12m: 0, tenure_months: 24 },
        category: "office".into(),
    }
}

#[test]
fn plugin_decisions_equal_the_native_rules() {
    let probe = Probe::new(&default_artifact(), Instant::now()).expect("probe starts");
    assert!(probe.plugin_loaded());
    let table = RulesTable::product_default();
    let mut stages = std::collections::BTreeSet::new();
    for days in [-7, -1, 0, 3, 7, 8, 15, 16, 40] {
        let mut f = invoice(days, if days > 10 { 300_000 } else { 800_000 });
        if days == 16 {
            f.prior_stages = vec![PriorStage { stage: "overdue-2".into(), day: 9 }];
        }
        let r = probe.handle(&ProbeEvent { client: "client-a".into(), invoice: f.clone() }).expect("answers");
        assert_eq!(r.dunning, evaluate::dunning(&table, &f), "dunning at day {days}");
        assert_eq!(r.late_fee, evaluate::late_fee(&table, &f), "late fee at day {days}");
        assert!(matches!(r.dunning_source, Source::Plugin { .. }), "{:?}", r.dunning_source);
        assert!(matches!(r.late_fee_source, Source::Plugin { .. }), "{:?}", r.late_fee_source);
        assert_eq!(r.invoice_id, f.invoice_id);
        stages.insert(r.dunning.stage.clone());
    }
    // the facts above really exercise several stages, legal demand included
    assert!(stages.len() >= 4, "{stages:?}");
    let r = probe.handle(&ProbeEvent { client: "client-a".into(), invoice: invoice(40, 300_000) }).expect("answers");
    assert!(r.dunning.legal_demand);
    assert!(r.late_fee.amount.minor > 0);
    let p = r.plugin.expect("plugin identity");
    assert_eq!(p.contract, "1.0.0");
    assert_eq!(p.sha256.len(), 64);
}

#[test]
fn an_artifact_that_does_not_load_falls_back_to_the_default_rules() {
    let mut art = default_artifact();
    let n = art.len();
    art[n / 2] ^= 0xff; // tampered: integrity check fails
    let probe = Probe::new(&art, Instant::now()).expect("a bad plugin does not stop the function");
    assert!(!probe.plugin_loaded());
    let f = invoice(10, 800_000);
    let r = probe.handle(&ProbeEvent { client: "client-a".into(), invoice: f.clone() }).expect("answers");
    let table = RulesTable::product_default();
    assert_eq!(r.dunning, evaluate::dunning(&table, &f));
    assert_eq!(r.late_fee, evaluate::late_fee(&table, &f));
    assert!(r.plugin.is_none());
    match &r.dunning_source {
        Source::Fallback { reason_kind, .. } => assert_eq!(reason_kind, "load_failed"),
        other => panic!("expected a fallback, got {other:?}"),
    }
}

#[test]
fn an_event_without_a_client_is_refused() {
    let probe = Probe::new(&default_artifact(), Instant::now()).expect("probe starts");
    let e = probe.handle(&ProbeEvent { client: " ".into(), invoice: invoice(3, 800_000) }).unwrap_err();
    assert!(e.to_string().contains("empty \"client\""), "{e}");
}

#[test]
fn response_json_shape() {
    let probe = Probe::new(&default_artifact(), Instant::now()).expect("probe starts");
    let event: ProbeEvent = serde_json::from_value(serde_json::json!({
        "client": "client-a",
        "invoice": serde_json::to_value(invoice(10, 800_000)).expect("facts json"),
    }))
    .expect("event parses");
    let r = probe.handle(&event).expect("answers");
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["client"], "client-a");
    assert_eq!(v["invoice_id"], "inv-10");
    assert_eq!(v["dunning_source"]["kind"], "plugin");
    assert_eq!(v["dunning"]["stage"], serde_json::to_value(&r.dunning.stage).expect("stage"));
    assert_eq!(v["late_fee"]["amount"]["currency"], "CNY");
}

#[test]
fn a_missing_artifact_file_is_an_init_error() {
    let missing = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-dir/nope.cwasm");
    let err = Probe::from_file(&missing, Instant::now()).err().expect("init error");
    match &err {
        rules_probe::InitError::ArtifactRead { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound, "{err}")
        }
        other => panic!("expected ArtifactRead, got {other}"),
    }
    assert!(err.to_string().contains("nope.cwasm"), "{err}");
}

/// The artifact file is mapped, not read: a real artifact loads from its file, and an empty or foreign file is
/// not an init error (the default rules answer, as for any artifact that does not load).
#[test]
fn artifact_files_load_mapped_and_bad_files_fall_back() {
    let dir = std::env::temp_dir().join(format!("rules-probe-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("default.cwasm");
    std::fs::write(&good, default_artifact()).expect("write artifact");
    let probe = Probe::from_file(&good, Instant::now()).expect("probe starts");
    assert!(probe.plugin_loaded());
    let event = ProbeEvent { client: "client-a".into(), invoice: invoice(10, 800_000) };
    let r = probe.handle(&event).expect("answers");
    assert_eq!(r.dunning_source, rules_probe::Source::Plugin { version: "1.0.0".into() });

    for (name, bytes) in [("empty.cwasm", &b""[..]), ("foreign.cwasm", &b"\x7fELF not an artifact"[..])] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let probe = Probe::from_file(&path, Instant::now()).expect("a bad artifact is not an init error");
        assert!(!probe.plugin_loaded(), "{name}");
        let r = probe.handle(&event).expect("answers");
        assert!(matches!(r.dunning_source, rules_probe::Source::Fallback { .. }), "{name}: {:?}", r.dunning_source);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
