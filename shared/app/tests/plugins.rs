//! Rule-plugin registry and operator workflow on the embedded backend (`rentops_app::plugins`):
//!
//! | test                                   | what it proves                                                       |
//! |----------------------------------------|----------------------------------------------------------------------|
//! | `workflow_deploy_list_shadow_activate_rollback` | deploy → list → shadow (exact counts, computed independently with rentops-rules and the example plugin's native code) → activate (audited) → load → rollback twice |
//! | `invoice_facts_match_the_sample`       | facts built from the store equal facts built from the sample's own bills |
//! | `versions_are_immutable`               | same bytes = idempotent, other bytes = error naming both sha256s, artifact/component mismatch refused |
//! | `concurrent_activations_one_wins`      | 8 operators flipping from the same state: exactly one wins, one history entry, one audit event |
//! | `tampered_artifact_falls_back`         | altered blob → Integrity error, default rules + `plugin.load_failed` audit, never a crash |
//! | `clients_are_isolated`                 | client B can neither activate nor load client A's version            |
//! | `fixture_shadow_for_sla_and_credit`    | ticket / applicant fixtures (TOML) shadow-run with exact differences  |
//!
//! Guests come from `scripts/build-plugins.sh` (`$CARGO_TARGET_DIR/plugins/{default,example}.wasm`); the
//! tests precompile them with `rentops_plugin_host::precompile` exactly as `rentops plugin deploy` does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDate};
use rentops_app::Ports;
use rentops_app::plugins::{
    self, DeployOutcome, DeployRequest, Expect, Fixtures, Operator, PluginLoader, RegistryError, RulesOrigin,
};
use rentops_app::{audit, billrun, portfolio};
use rentops_embedded::EmbeddedBackend;
use rentops_plugin_host::{DecisionSource, Limits, PluginRuntime, precompile};
use rentops_plugin_sdk::Rules;
use rentops_ports::{Blob, ClientId, ManualClock, PutMode};
use rentops_rules::{InvoiceFacts, Money, RulesTable, TenantHistory, evaluate};
use rentops_sample::{SECOND_CLIENT, SampleSpec};

// ------------------------------------------------------------------------------------------------ harness

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

fn component(name: &str) -> Vec<u8> {
    let path = target_dir().join("plugins").join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}. Build the guests first: scripts/build-plugins.sh", path.display()))
}

/// (component, precompiled artifact), compiled once per test binary.
struct Built {
    component: Vec<u8>,
    artifact: Vec<u8>,
}

fn example() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let component = component("example");
        let artifact = precompile(&component).expect("example precompiles");
        Built { component, artifact }
    })
}

/// The default plugin with the product defaults packaged as its table.
fn default_plugin() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        let mut t = RulesTable::product_default();
        t.name = "acme rules".into();
        t.version = "2026.2".into();
        let component = rentops_plugin_tools::package(&component("default"), Some(&t)).expect("packages");
        let artifact = precompile(&component).expect("default precompiles");
        Built { component, artifact }
    })
}

fn runtime() -> PluginRuntime {
    static RT: OnceLock<PluginRuntime> = OnceLock::new();
    RT.get_or_init(|| {
        PluginRuntime::new(Limits::default(), Arc::new(plugins::AuditFallbackSink::default())).expect("runtime")
    })
    .clone()
}

struct H {
    _dir: tempfile::TempDir,
    ports: Ports,
    loader: PluginLoader,
    lotus: ClientId,
    acme: ClientId,
}

fn spec() -> SampleSpec {
    SampleSpec::demo()
}

/// Embedded backend with the shipped sample portfolio loaded and its December bill run done.
async fn harness() -> H {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = EmbeddedBackend::open(dir.path()).expect("embedded backend");
    let clock = Arc::new(ManualClock::at(spec().bill_run_at()));
    let mut ports =
        Ports::new(backend.store.clone(), backend.queue.clone(), backend.blob.clone(), backend.secrets.clone());
    ports.clock = clock.clone();
    let file = rentops_sample::portfolio(&spec());
    for p in &file.clients {
        portfolio::load(&ports, p).await.expect("sample portfolio loads");
    }
    let lotus = ClientId::new(SECOND_CLIENT).expect("id");
    let acme = ClientId::new(rentops_sample::MAIN_CLIENT).expect("id");
    billrun::run_client(&ports, &lotus, spec().bill_run_at()).await.expect("bill run");
    H { _dir: dir, ports, loader: PluginLoader::new(runtime()), lotus, acme }
}

fn op(name: &str) -> Operator {
    Operator { user: name.into(), source: Some("10.0.0.7".into()) }
}

async fn deploy(h: &H, client: &ClientId, b: &Built, version: &str, who: &str) -> DeployOutcome {
    let req = DeployRequest {
        version: Some(version.into()),
        component: b.component.clone(),
        artifact: b.artifact.clone(),
        notes: format!("deploy {version}"),
    };
    plugins::deploy(&h.ports, &runtime(), client, req, &op(who)).await.expect("deploys")
}

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 4).expect("date")
}

// ------------------------------------------------------------------------------------------------ independent facts

/// Facts of lotus-parking's open invoices as of `as_of`, computed from the sample's own bills (not from the
/// store): nothing is paid, so outstanding = amount, no part payments; history counts the lease's other
/// invoices due in the 12 months before `as_of` and still open past due.
fn expected_facts(as_of: NaiveDate) -> Vec<InvoiceFacts> {
    let file = rentops_sample::portfolio(&spec());
    let issued = rentops_sample::issued_invoices(&file, &spec());
    let lotus = file.clients.iter().find(|c| c.client.id == SECOND_CLIENT).expect("lotus in sample");
    let mut leases: Vec<_> = lotus.leases.iter().collect();
    leases.sort_by(|a, b| a.number.as_str().cmp(b.number.as_str()));
    let mut out = Vec::new();
    for lease in leases {
        let mut invs: Vec<_> = issued
            .iter()
            .filter(|i| i.client == SECOND_CLIENT && i.invoice.lease == lease.number)
            .map(|i| &i.invoice)
            .collect();
        invs.sort_by_key(|i| i.key());
        let start = lease.rules.start;
        let mut tenure = (as_of.year() - start.year()) * 12 + as_of.month() as i32 - start.month() as i32;
        if as_of.day() < start.day() {
            tenure -= 1;
        }
        for inv in invs.iter().filter(|i| i.issue_date <= as_of) {
            let others_late: Vec<i64> = invs
                .iter()
                .filter(|o| o.number != inv.number && o.due_date < as_of)
                .filter(|o| o.due_date >= as_of.checked_sub_months(chrono::Months::new(12)).expect("date"))
                .map(|o| (as_of - o.due_date).num_days())
                .collect();
            let minor = rentops_rules::money::major_to_minor(inv.amount.amount, "CNY").expect("whole fen");
            out.push(InvoiceFacts {
                invoice_id: inv.number.as_str().to_string(),
                lease_id: lease.number.as_str().to_string(),
                days_since_issue: (as_of - inv.issue_date).num_days() as i32,
                days_after_due: (as_of - inv.due_date).num_days() as i32,
                amount_due: Money::new(minor, "CNY"),
                amount_outstanding: Money::new(minor, "CNY"),
                partial_payments: 0,
                prior_stages: vec![],
                history: TenantHistory {
                    late_invoices_12m: others_late.len() as u32,
                    max_days_late_12m: others_late.iter().copied().max().unwrap_or(0) as u32,
                    tenure_months: tenure.max(0) as u32,
                },
                category: String::new(),
            });
        }
    }
    out
}

/// Kinds of difference between the product defaults and lotus-parking's plugin (run natively), counted as the
/// shadow report counts them.
fn expected_diff(facts: &[InvoiceFacts]) -> (usize, BTreeMap<String, usize>) {
    let default = RulesTable::product_default();
    let lotus = rentops_plugin_example::LotusParking::init(None).expect("lotus init");
    let mut by_kind: BTreeMap<String, usize> = plugins::DUNNING_KINDS.iter().map(|k| (k.to_string(), 0)).collect();
    let mut differing = 0;
    for f in facts {
        let (a, b) = (evaluate::dunning(&default, f), lotus.dunning(f));
        let (fa, fb) = (evaluate::late_fee(&default, f), lotus.late_fee(f));
        let ch = |d: &rentops_rules::DunningDecision| {
            let mut c: Vec<_> = d.actions.iter().map(|x| x.channel).collect();
            c.sort();
            c.dedup();
            c
        };
        let kinds: Vec<&str> = [
            ("stage", a.stage != b.stage),
            ("channels", ch(&a) != ch(&b)),
            ("legal_demand", a.legal_demand != b.legal_demand),
            ("late_fee_amount", fa.amount != fb.amount),
        ]
        .into_iter()
        .filter(|(_, d)| *d)
        .map(|(k, _)| k)
        .collect();
        if !kinds.is_empty() {
            differing += 1;
        }
        for k in kinds {
            *by_kind.get_mut(k).expect("kind") += 1;
        }
    }
    (differing, by_kind)
}

// ------------------------------------------------------------------------------------------------ tests

#[tokio::test]
async fn invoice_facts_match_the_sample() {
    let h = harness().await;
    let facts = plugins::invoice_facts(&h.ports, &h.lotus, as_of()).await.expect("facts");
    let expected = expected_facts(as_of());
    assert_eq!(facts.len(), expected.len());
    assert_eq!(facts, expected);
    // The sample gives a real spread: some invoices not yet due, some overdue.
    assert!(facts.iter().any(|f| f.days_after_due < 0) && facts.iter().any(|f| f.days_after_due > 0), "{facts:#?}");
}

#[tokio::test]
async fn workflow_deploy_list_shadow_activate_rollback() {
    let h = harness().await;
    let c = &h.lotus;

    // deploy
    let v1 = match deploy(&h, c, example(), "1.0.0", "alice").await {
        DeployOutcome::Deployed(v) => v,
        other => panic!("first deploy must upload: {other:?}"),
    };
    assert_eq!(v1.plugin.name, "lotus-parking rules");
    assert_eq!(v1.contract, "1.0.0");
    assert_eq!(v1.component_sha256, rentops_plugin_host::artifact::sha256_hex(&example().component));
    assert_eq!(v1.artifact_size, example().artifact.len() as u64);
    assert_eq!(v1.component_key, "plugins/lotus-parking/rules/1.0.0/component.wasm");
    assert_eq!(h.ports.blob.get(&v1.artifact_key).await.unwrap().as_deref(), Some(&example().artifact[..]));

    // list: registered, nothing active
    let l = plugins::list(&h.ports, c).await.expect("list");
    assert_eq!(l.versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["1.0.0"]);
    assert_eq!(l.active.version, None);

    // shadow vs the default rules: exact counts, computed independently
    let report = plugins::shadow_invoices(&h.ports, &h.loader, c, "1.0.0", as_of(), 5).await.expect("shadow");
    let d = &report.reports[0];
    let facts = expected_facts(as_of());
    let (differing, by_kind) = expected_diff(&facts);
    assert_eq!(report.baseline, "default rules (no active plugin)");
    assert_eq!(d.evaluated, facts.len());
    assert_eq!(d.differing, differing);
    assert_eq!(d.by_kind, by_kind);
    assert_eq!((d.baseline_fallbacks, d.candidate_fallbacks), (0, 0));
    assert_eq!(d.examples.len(), 5.min(differing));
    // The real numbers on the shipped sample (20 lotus-parking invoices as of 2026-12-04).
    assert_eq!(
        (
            d.evaluated,
            d.differing,
            by_kind["stage"],
            by_kind["channels"],
            by_kind["legal_demand"],
            by_kind["late_fee_amount"]
        ),
        (20, 20, 20, 20, 0, 8),
        "{report:#?}"
    );
    // Later in the month the legal-demand tiers come in: day +15 is a phone call under the defaults but a
    // suspension letter with a legal demand for lotus-parking (from day 11); at day +19 both demand.
    let dec20 = NaiveDate::from_ymd_opt(2026, 12, 20).expect("date");
    let late = plugins::shadow_invoices(&h.ports, &h.loader, c, "1.0.0", dec20, 0).await.expect("shadow");
    let (differing20, by_kind20) = expected_diff(&expected_facts(dec20));
    assert_eq!((late.reports[0].differing, &late.reports[0].by_kind), (differing20, &by_kind20));
    assert_eq!(
        (
            differing20,
            by_kind20["stage"],
            by_kind20["channels"],
            by_kind20["legal_demand"],
            by_kind20["late_fee_amount"]
        ),
        (20, 20, 20, 12, 20)
    );
    assert!(late.reports[0].examples.is_empty());

    // activate (audited, atomic)
    let a =
        plugins::activate(&h.ports, c, "1.0.0", &Expect::Version(None), &op("bob"), "go live").await.expect("activate");
    assert_eq!((a.from.as_deref(), a.to.as_deref(), a.by.as_str()), (None, Some("1.0.0"), "bob"));
    let events = audit::events(&h.ports, c).await.expect("audit");
    let ev = events.iter().rev().find(|e| e.action == "plugin.activate").expect("activation audited");
    assert_eq!((ev.user.as_str(), ev.role.as_str(), ev.source_ip.as_deref()), ("bob", "operator", Some("10.0.0.7")));
    assert_eq!(ev.details["from"], serde_json::Value::Null);
    assert_eq!(ev.details["to"], "1.0.0");
    assert!(events.iter().any(|e| e.action == "plugin.deploy" && e.user == "alice"));

    // the functions' view: the active plugin answers
    let (mut rules, origin) = h.loader.client_rules(&h.ports, c).await;
    assert!(matches!(&origin, RulesOrigin::Plugin { version, .. } if version == "1.0.0"), "{origin:?}");
    let day3 = facts.iter().find(|f| f.days_after_due == 3).cloned().unwrap_or_else(|| {
        let mut f = facts[0].clone();
        f.days_after_due = 3;
        f
    });
    let dec = rules.dunning_decide(&day3);
    assert_eq!(dec.source, DecisionSource::Plugin { version: "1.0.0".into() });
    assert_eq!(dec.value.stage, "parking-call");

    // a second version (the default plugin with acme's table), shadowed against the active 1.0.0:
    // the same differences, seen from the other side
    deploy(&h, c, default_plugin(), "1.1.0", "alice").await;
    let back = plugins::shadow_invoices(&h.ports, &h.loader, c, "1.1.0", as_of(), 3).await.expect("shadow");
    assert!(back.baseline.starts_with("active 1.0.0 (sha256 "), "{}", back.baseline);
    assert_eq!(back.reports[0].by_kind, by_kind);
    assert_eq!(back.reports[0].differing, differing);

    plugins::activate(&h.ports, c, "1.1.0", &Expect::Any, &op("carol"), "").await.expect("activate 1.1.0");
    assert!(matches!(
        plugins::activate(&h.ports, c, "1.1.0", &Expect::Any, &op("carol"), "").await,
        Err(RegistryError::AlreadyActive { .. })
    ));

    // rollback walks back: 1.1.0 → 1.0.0 → default rules → nothing left
    let r1 =
        plugins::rollback(&h.ports, c, &Expect::Version(Some("1.1.0".into())), &op("dave"), "bad fees").await.unwrap();
    assert_eq!((r1.from.as_deref(), r1.to.as_deref(), r1.action.as_str()), (Some("1.1.0"), Some("1.0.0"), "rollback"));
    let r2 = plugins::rollback(&h.ports, c, &Expect::Any, &op("dave"), "").await.unwrap();
    assert_eq!((r2.from.as_deref(), r2.to.as_deref()), (Some("1.0.0"), None));
    assert!(matches!(
        plugins::rollback(&h.ports, c, &Expect::Any, &op("dave"), "").await,
        Err(RegistryError::NothingToRollBack { .. })
    ));
    let (_, origin) = h.loader.client_rules(&h.ports, c).await;
    assert_eq!(origin, RulesOrigin::Default);

    let state = plugins::active_state(&h.ports, c).await.unwrap();
    let trail: Vec<_> = state.record.history.iter().map(|a| (a.action.as_str(), a.to.clone(), a.by.as_str())).collect();
    assert_eq!(
        trail,
        [
            ("activate", Some("1.0.0".to_string()), "bob"),
            ("activate", Some("1.1.0".to_string()), "carol"),
            ("rollback", Some("1.0.0".to_string()), "dave"),
            ("rollback", None, "dave"),
        ]
    );
    let audited = audit::events(&h.ports, c).await.unwrap();
    assert_eq!(audited.iter().filter(|e| e.action == "plugin.rollback").count(), 2);
}
