//! Test support: guest artifacts, runtimes, facts.
//!
//! Guests are built by `scripts/build-plugins.sh` (or `cargo build --release --target
//! wasm32-unknown-unknown -p <crate>`); tests read the core modules from `$CARGO_TARGET_DIR` and turn
//! them into components here (wit-component), then precompile them with the crate's own `precompile` —
//! the same path as `rentops plugin deploy`. Hostile modes share one compiled payload: the mode lives in
//! the table, which travels in the artifact envelope, not in the compiled code.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rentops_plugin_host::artifact;
use rentops_plugin_host::{Limits, MemorySink, PluginRuntime, precompile};
use rentops_rules as r;

pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

/// A guest core module built for `target` (release).
pub fn guest_file(target: &str, crate_file: &str) -> Vec<u8> {
    let path = target_dir().join(target).join("release").join(format!("{crate_file}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Build the guests first: scripts/build-plugins.sh (or cargo build --release --target {target} -p {})",
            path.display(),
            crate_file.replace('_', "-")
        )
    })
}

/// wasm32-unknown-unknown core module → component (what `rentops plugin build` does).
pub fn componentize(core: &[u8]) -> Vec<u8> {
    wit_component::ComponentEncoder::default()
        .validate(true)
        .module(core)
        .expect("guest carries its component-type section")
        .encode()
        .expect("componentize")
}

/// `component` with the `rentops-rules-table` custom section set to `json` (not checked as a
/// rules table: the hostile guest's tables are not).
pub fn with_table(component: &[u8], json: &str) -> Vec<u8> {
    rentops_plugin_tools::embed_table_unchecked(component, json).expect("embed table section")
}

struct Hostile {
    component: Vec<u8>,
    payload: Vec<u8>,
}

fn hostile_compiled() -> &'static Hostile {
    static H: OnceLock<Hostile> = OnceLock::new();
    H.get_or_init(|| {
        let component = componentize(&guest_file("wasm32-unknown-unknown", "rentops_plugin_hostile"));
        let art = precompile(&component).expect("hostile plugin precompiles");
        let payload = artifact::decode(&art).expect("own artifact decodes").payload.to_vec();
        Hostile { component, payload }
    })
}

/// Precompiled artifact of the hostile plugin with `table` packaged (see plugins/hostile/src/lib.rs).
pub fn hostile_artifact(table: &str) -> Vec<u8> {
    let h = hostile_compiled();
    artifact::encode(&with_table(&h.component, table), table, &h.payload)
}

pub fn hostile(mode: &str) -> Vec<u8> {
    hostile_artifact(&format!("{{\"hostile\": \"{mode}\"}}"))
}

pub fn hostile_when(mode: &str, prefix: &str) -> Vec<u8> {
    hostile_artifact(&format!("{{\"hostile\": \"{mode}\", \"when\": \"{prefix}\"}}"))
}

pub fn runtime() -> (PluginRuntime, Arc<MemorySink>) {
    runtime_with(Limits::default())
}

pub fn runtime_with(limits: Limits) -> (PluginRuntime, Arc<MemorySink>) {
    let sink = Arc::new(MemorySink::default());
    let rt = PluginRuntime::new(limits, sink.clone()).expect("runtime starts");
    (rt, sink)
}

pub fn money(minor: i64) -> r::Money {
    r::Money::new(minor, "CNY")
}

/// An invoice `days_after_due` days past due (negative: before due), CNY 8,000.00 outstanding.
pub fn invoice(id: &str, days_after_due: i32) -> r::InvoiceFacts {
    r::InvoiceFacts {
        invoice_id: id.into(),
        lease_id: "lease-1".into(),
        days_since_issue: 30 + days_after_due,
        days_after_due,
        amount_due: money(800_000),
        amount_outstanding: money(800_000),
        partial_payments: 0,
        prior_stages: vec![],
        history: r::TenantHistory { late_invoices_12m: 0, max_days_late_12m: 0, tenure_months: 24 },
        category: "office".into(),
    }
}

pub fn ticket(id: &str, device: &str) -> r::TicketFacts {
    r::TicketFacts {
        ticket_id: id.into(),
        device_type: device.into(),
        priority: r::Priority::Normal,
        building_id: "b-1".into(),
        reported_minute_of_day: 9 * 60,
        reported_weekday: 2,
    }
}

pub fn applicant(score: u32, currency: &str) -> r::ApplicantFacts {
    r::ApplicantFacts {
        kind: r::ApplicantKind::Person,
        credit_score: Some(score),
        company_years: None,
        adverse_records: 0,
        monthly_rent: r::Money::new(500_000, currency),
        rent_to_income_ppm: Some(300_000),
    }
}

pub fn defaults() -> r::RulesTable {
    r::RulesTable::product_default()
}

/// Precompiled artifact of a guest crate's core module (componentized here), with `table` packaged
/// (normalized JSON) when given.
pub fn plugin_artifact(crate_file: &str, table: Option<&str>) -> Vec<u8> {
    let mut component = componentize(&guest_file("wasm32-unknown-unknown", crate_file));
    if let Some(t) = table {
        component = with_table(&component, t);
    }
    precompile(&component).expect("plugin precompiles")
}
