//! `rentops plugin ...` end to end over a data directory (the same functions the binary runs):
//! build (table errors with line and field; a table packaged into the default plugin), test (decision table;
//! a plugin that falls back is reported), deploy → list → shadow → activate → rollback on the sample data.
//! Needs the guests: scripts/build-plugins.sh.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rentops::plugin_cmd::{self, PluginCommand, Target, Who};
use rentops_app::{billrun, portfolio};
use rentops_ports::{ClientId, ManualClock};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn default_wasm() -> PathBuf {
    let p = target_dir().join("plugins/default.wasm");
    assert!(p.exists(), "{} missing: run scripts/build-plugins.sh", p.display());
    p
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/plugin-facts.toml")
}

const TABLE: &str = r#"name = "acme-properties rules"
version = "2027.1"

[[dunning.tiers]]
from_day = 1
to_day = 10
stage = "overdue-gentle"
channels = ["app-message", "email"]

[[dunning.tiers]]
from_day = 11
stage = "overdue-phone"
channels = ["phone-task"]

[late_fee]
basis = "daily-percent"
grace_days = 5
rate = "0.03%"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn build_reports_table_errors_with_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "rules.toml", &TABLE.replace("from_day = 11", "from_day = 9"));
    let out = dir.path().join("out.wasm");
    let err = plugin_cmd::build(Some(&bad), None, Some(&default_wasm()), &out).unwrap_err().to_string();
    let name = bad.display().to_string();
    assert!(err.starts_with(&format!("{name}:11: dunning.tiers[1].from_day: tiers overlap")), "{err}");
    assert!(!out.exists(), "nothing is written for a bad table");
}

#[test]
fn build_then_test_prints_the_tables_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let table = write(dir.path(), "rules.toml", TABLE);
    let out = dir.path().join("acme.wasm");
    let text = plugin_cmd::build(Some(&table), None, Some(&default_wasm()), &out).expect("builds");
    assert!(text.contains("table     acme-properties rules 2027.1 (2 overdue tiers)"), "{text}");
    let (text, fell_back) = plugin_cmd::test(&out, &fixtures(), false).expect("runs");
    assert!(!fell_back);
    // INV-F-002 is 9 days late with CNY 3,000.00 outstanding: still gentle, 4 fee days at 0.03 % = CNY 3.60
    let line = text.lines().find(|l| l.starts_with("INV-F-002")).expect("row");
    assert!(line.contains("overdue-gentle") && line.contains("CNY 3.60") && line.ends_with("plugin"), "{line}");
    let (json, _) = plugin_cmd::test(&out, &fixtures(), true).expect("runs");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["invoices"][2]["dunning"]["stage"], "overdue-phone");
    // INV-F-003: CNY 12,500.00 × 0.03 % × 13 days = CNY 48.75
    assert_eq!(v["invoices"][2]["late_fee"]["amount"]["minor"], 4875);
    assert_eq!(v["fell_back"], false);
}

#[test]
fn test_reports_a_plugin_that_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let core = target_dir().join("wasm32-unknown-unknown/release/rentops_plugin_hostile.wasm");
    let core = std::fs::read(&core).expect("hostile guest: run scripts/build-plugins.sh");
    let component = rentops_plugin_tools::componentize(&core).expect("componentize");
    // The hostile guest's "table" is not a rules table (embed_table would refuse it): append the section by hand.
    let component =
        rentops_plugin_tools::embed_table_unchecked(&component, r#"{"hostile":"panic","when":"INV-F-002"}"#)
            .expect("embed table section");
    let plugin = dir.path().join("hostile.wasm");
    std::fs::write(&plugin, component).unwrap();
    let (text, fell_back) = plugin_cmd::test(&plugin, &fixtures(), false).expect("runs");
    assert!(fell_back, "{text}");
    let line = text.lines().find(|l| l.starts_with("INV-F-002")).expect("row");
    assert!(line.ends_with("FALLBACK (trap)"), "{line}");
    assert!(text.lines().find(|l| l.starts_with("INV-F-001")).expect("row").ends_with("plugin"));
    assert!(text.contains("FELL BACK"));
}

#[tokio::test]
async fn deploy_list_shadow_activate_rollback_on_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let spec = rentops_sample::SampleSpec::demo();
    let (_b, ports) =
        rentops::open_local(dir.path(), "http://127.0.0.1:8080", Arc::new(ManualClock::at(spec.bill_run_at())))
            .expect("data dir");
    for p in &rentops_sample::portfolio(&spec).clients {
        portfolio::load(&ports, p).await.unwrap();
    }
    let client = ClientId::new("lotus-parking").unwrap();
    billrun::run_client(&ports, &client, spec.bill_run_at()).await.unwrap();

    let table = write(dir.path(), "rules.toml", TABLE);
    let wasm = dir.path().join("lotus.wasm");
    plugin_cmd::build(Some(&table), None, Some(&default_wasm()), &wasm).unwrap();
    let op = rentops_app::plugins::Operator::new("ci");
    let text = plugin_cmd::deploy(&ports, &client, &wasm, Some("1.0.0".into()), &op, "first").await.unwrap();
    assert!(text.starts_with("lotus-parking: deployed rules plugin version 1.0.0"), "{text}");
    let again = plugin_cmd::deploy(&ports, &client, &wasm, Some("1.0.0".into()), &op, "").await.unwrap();
    assert!(again.contains("already deployed with these bytes"), "{again}");

    let list = plugin_cmd::list(&ports, &client, false).await.unwrap();
    assert!(list.starts_with("lotus-parking: rules plugin — active: default rules"), "{list}");

    // 20 December invoices due on the 1st (8) or the 5th (12), nothing paid. As of the 20th:
    // - day +19 (8): defaults legal-warning [letter, email] + legal demand; table overdue-phone [phone-task];
    // - day +15 (12): overdue-phone [phone-task] under both;
    // - late fee on all 20: defaults 0.05 %/day after 3 days, the table 0.03 %/day after 5 days.
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 12, 20);
    let report = plugin_cmd::shadow(&ports, &client, "1.0.0", as_of, 2, Some(&fixtures())).await.unwrap();
    let text = plugin_cmd::format_shadow(&report);
    let d = &report.reports[0];
    assert_eq!((d.evaluated, d.differing), (20, 20), "{text}");
    let k = |kind: &str| d.by_kind[kind];
    assert_eq!((k("stage"), k("channels"), k("legal_demand"), k("late_fee_amount")), (8, 8, 8, 20), "{text}");
    assert!(text.contains("dunning: 20 invoices evaluated, 20 with different decisions"), "{text}");
    assert_eq!(report.reports.len(), 4, "invoices + fixture invoices, tickets, applicants");
    // The fixture tickets and applicants: the table keeps the default SLA and credit rules.
    assert_eq!((report.reports[2].what.as_str(), report.reports[2].differing), ("sla", 0));
    assert_eq!((report.reports[3].what.as_str(), report.reports[3].differing), ("credit", 0));

    let target = Target { data: dir.path().to_path_buf(), client: "lotus-parking".into() };
    let who = Who { operator: Some("ci".into()), notes: String::new() };
    let activate = PluginCommand::Activate {
        target: target.clone(),
        version: "1.0.0".into(),
        from: Some("none".into()),
        who: who.clone(),
    };
    assert_eq!(plugin_cmd::run(activate).await.unwrap(), 0);
    let stale = PluginCommand::Activate {
        target: target.clone(),
        version: "1.0.0".into(),
        from: Some("none".into()),
        who: who.clone(),
    };
    let err = plugin_cmd::run(stale).await.unwrap_err().to_string();
    assert!(err.contains("the active version changed meanwhile"), "{err}");
    let list = plugin_cmd::list(&ports, &client, false).await.unwrap();
    assert!(list.starts_with("lotus-parking: rules plugin — active: 1.0.0"), "{list}");
    assert_eq!(plugin_cmd::run(PluginCommand::Rollback { target, from: Some("1.0.0".into()), who }).await.unwrap(), 0);
    let list = plugin_cmd::list(&ports, &client, true).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(v["active"]["version"], serde_json::Value::Null);
    assert_eq!(v["active"]["history"].as_array().unwrap().len(), 2);
}
