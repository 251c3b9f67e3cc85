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
//! | `dunning_uses_the_plugin_and_keeps_going_when_it_breaks` | the dunning worker's notices carry the active plugin's version; a broken artifact → default rules, audited, the run completes |
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
use rentops_plugin_sdk::{Rules, RulesExt};
use rentops_ports::{ClientId, ManualClock, PutMode};
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

#[tokio::test]
async fn versions_are_immutable() {
    let h = harness().await;
    let c = &h.lotus;
    assert!(matches!(deploy(&h, c, example(), "2.0.0", "alice").await, DeployOutcome::Deployed(_)));
    // same bytes again: idempotent, nothing rewritten (deployed_by stays alice)
    match deploy(&h, c, example(), "2.0.0", "bob").await {
        DeployOutcome::AlreadyDeployed(v) => assert_eq!(v.deployed_by, "alice"),
        other => panic!("expected AlreadyDeployed, got {other:?}"),
    }
    // other bytes under the same version: refused, naming both sha256s
    let req = DeployRequest {
        version: Some("2.0.0".into()),
        component: default_plugin().component.clone(),
        artifact: default_plugin().artifact.clone(),
        notes: String::new(),
    };
    let err = plugins::deploy(&h.ports, &runtime(), c, req, &op("bob")).await.expect_err("conflict");
    let (old, new) = (
        rentops_plugin_host::artifact::sha256_hex(&example().component),
        rentops_plugin_host::artifact::sha256_hex(&default_plugin().component),
    );
    assert!(matches!(&err, RegistryError::VersionConflict { registered_sha256, new_sha256, .. }
        if *registered_sha256 == old && *new_sha256 == new));
    let msg = err.to_string();
    assert!(msg.contains(&old) && msg.contains(&new) && msg.contains("2.0.0"), "{msg}");
    // the stored bytes are still the first deploy's
    let (_, bytes) = plugins::version_component(&h.ports, c, "2.0.0").await.expect("component");
    assert_eq!(bytes, example().component);
    // an artifact built from another component is refused before anything is written
    let req = DeployRequest {
        version: Some("2.1.0".into()),
        component: example().component.clone(),
        artifact: default_plugin().artifact.clone(),
        notes: String::new(),
    };
    let err = plugins::deploy(&h.ports, &runtime(), c, req, &op("bob")).await.expect_err("mismatch");
    assert!(matches!(err, RegistryError::ArtifactMismatch { .. }), "{err}");
    assert_eq!(plugins::get_version(&h.ports, c, "2.1.0").await.unwrap(), None);
    // a bad version string
    let req = DeployRequest {
        version: Some("2.1".into()),
        component: example().component.clone(),
        artifact: example().artifact.clone(),
        notes: String::new(),
    };
    assert!(matches!(
        plugins::deploy(&h.ports, &runtime(), c, req, &op("bob")).await,
        Err(RegistryError::InvalidVersion(_))
    ));
    // exactly one deploy audited
    let deploys = audit::events(&h.ports, c).await.unwrap().into_iter().filter(|e| e.action == "plugin.deploy").count();
    assert_eq!(deploys, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_activations_one_wins() {
    let h = Arc::new(harness().await);
    let c = h.lotus.clone();
    for i in 0..=8 {
        deploy(&h, &c, example(), &format!("3.{i}.0"), "alice").await;
    }
    plugins::activate(&h.ports, &c, "3.0.0", &Expect::Any, &op("alice"), "").await.expect("first activation");

    // 8 operators who all saw 3.0.0 active, each activating another version, at once.
    let mut tasks = Vec::new();
    for i in 1..=8 {
        let (h, c) = (h.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            let expect = Expect::Version(Some("3.0.0".into()));
            plugins::activate(&h.ports, &c, &format!("3.{i}.0"), &expect, &op(&format!("op{i}")), "").await
        }));
    }
    let mut won = Vec::new();
    let mut lost = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(a) => won.push(a),
            Err(RegistryError::ActiveChanged { expected, found, .. }) => {
                assert_eq!(expected.as_deref(), Some("3.0.0"));
                assert_ne!(found.as_deref(), Some("3.0.0"));
                lost += 1;
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((won.len(), lost), (1, 7));
    let state = plugins::active_state(&h.ports, &c).await.unwrap();
    assert_eq!(state.record.version, won[0].to);
    assert_eq!(state.record.history.len(), 2);
    assert_eq!(state.record.previous, vec![None, Some("3.0.0".to_string())]);

    // The same race from one stale read without --from: the item-version condition still lets one through.
    let stale = plugins::active_state(&h.ports, &c).await.unwrap();
    let targets: Vec<String> =
        (1..=8).map(|i| format!("3.{i}.0")).filter(|v| Some(v) != won[0].to.as_ref()).take(2).collect();
    let (x, y) = (op("x"), op("y"));
    let a = plugins::activate_from(&h.ports, &c, &stale, &targets[0], &Expect::Any, &x, "");
    let b = plugins::activate_from(&h.ports, &c, &stale, &targets[1], &Expect::Any, &y, "");
    let (a, b) = tokio::join!(a, b);
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    assert!(matches!(a.err().or(b.err()), Some(RegistryError::ActiveChanged { .. })));
    let audited =
        audit::events(&h.ports, &c).await.unwrap().into_iter().filter(|e| e.action == "plugin.activate").count();
    assert_eq!(audited, 3, "one audit event per successful activation, none for the losers");
}

#[tokio::test]
async fn tampered_artifact_falls_back() {
    let h = harness().await;
    let c = &h.lotus;
    let v = match deploy(&h, c, example(), "1.0.0", "alice").await {
        DeployOutcome::Deployed(v) => v,
        other => panic!("{other:?}"),
    };
    plugins::activate(&h.ports, c, "1.0.0", &Expect::Any, &op("alice"), "").await.unwrap();

    // Someone with write access to the bucket swaps in another valid artifact (the default plugin's).
    h.ports
        .blob
        .put(&v.artifact_key, default_plugin().artifact.clone(), "application/octet-stream", PutMode::Overwrite)
        .await
        .unwrap();
    let err = plugins::active_artifact(&h.ports, c).await.expect_err("integrity");
    assert!(matches!(&err, RegistryError::Integrity { expected, .. } if *expected == v.artifact_sha256), "{err}");

    let (mut rules, origin) = h.loader.client_rules(&h.ports, c).await;
    assert!(
        matches!(&origin, RulesOrigin::Fallback { version: Some(v), reason } if v == "1.0.0" && reason.contains("does not match the registry")),
        "{origin:?}"
    );
    // decisions: the default rules, marked as fallback (day +3: the defaults' gentle reminder, not lotus' call)
    let mut f = expected_facts(as_of())[0].clone();
    f.days_after_due = 3;
    let d = rules.dunning_decide(&f);
    assert!(d.is_fallback(), "{:?}", d.source);
    assert_eq!(d.value, evaluate::dunning(&RulesTable::product_default(), &f));
    let fee = rules.late_fee(&f);
    assert_eq!(fee.value, evaluate::late_fee(&RulesTable::product_default(), &f));

    // Flipping one byte of the stored artifact is caught the same way.
    let mut bytes = example().artifact.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    h.ports.blob.put(&v.artifact_key, bytes, "application/octet-stream", PutMode::Overwrite).await.unwrap();
    let (_, origin) = h.loader.client_rules(&h.ports, c).await;
    assert!(matches!(origin, RulesOrigin::Fallback { .. }));

    // ...and a lost blob too (the Blob port has no delete: point the registry item at a key never written).
    let store = h.ports.client_store(c);
    let sk = rentops_app::keys::plugin_version_sk(&plugins::sortable_version("1.0.0").unwrap());
    let mut item = store.get(rentops_app::keys::PLUGIN_RULES, &sk).await.unwrap().expect("version item");
    item.body["artifact_key"] = "plugins/lotus-parking/rules/1.0.0/lost.cwasm".into();
    store.put(item, rentops_ports::Condition::None).await.unwrap();
    assert!(matches!(plugins::active_artifact(&h.ports, c).await, Err(RegistryError::MissingBlob { .. })));
    let (mut rules, origin) = h.loader.client_rules(&h.ports, c).await;
    assert!(
        matches!(&origin, RulesOrigin::Fallback { reason, .. } if reason.contains("missing from the blob store")),
        "{origin:?}"
    );
    assert!(rules.dunning_decide(&f).is_fallback());

    let failures: Vec<_> =
        audit::events(&h.ports, c).await.unwrap().into_iter().filter(|e| e.action == "plugin.load_failed").collect();
    assert_eq!(failures.len(), 3);
    assert_eq!(failures[0].details["version"], "1.0.0");
    assert!(failures[0].details["reason"].as_str().unwrap().contains(&v.artifact_sha256));

    // The shadow run's baseline says the active version cannot be used.
    deploy(&h, c, default_plugin(), "1.1.0", "alice").await;
    let r = plugins::shadow_invoices(&h.ports, &h.loader, c, "1.1.0", as_of(), 1).await.unwrap();
    assert!(r.baseline.starts_with("default rules (active 1.0.0 cannot be used"), "{}", r.baseline);
    assert_eq!(r.reports[0].baseline_fallbacks, 2 * r.reports[0].evaluated);
    assert_eq!(r.reports[0].candidate_fallbacks, 0);
    assert_eq!(r.reports[0].differing, 0, "candidate = product defaults = fallback rules");
}

#[tokio::test]
async fn clients_are_isolated() {
    let h = harness().await;
    let (a, b) = (&h.lotus, &h.acme);
    let v = match deploy(&h, a, example(), "1.0.0", "alice").await {
        DeployOutcome::Deployed(v) => v,
        other => panic!("{other:?}"),
    };
    assert!(v.artifact_key.starts_with("plugins/lotus-parking/"));
    // B cannot see, activate, load or shadow A's version
    assert_eq!(plugins::get_version(&h.ports, b, "1.0.0").await.unwrap(), None);
    assert!(matches!(
        plugins::activate(&h.ports, b, "1.0.0", &Expect::Any, &op("mallory"), "").await,
        Err(RegistryError::NotFound { client, .. }) if client == "acme-properties"
    ));
    assert!(matches!(plugins::version_artifact(&h.ports, b, "1.0.0").await, Err(RegistryError::NotFound { .. })));
    assert!(plugins::shadow_invoices(&h.ports, &h.loader, b, "1.0.0", as_of(), 1).await.is_err());
    assert!(plugins::list(&h.ports, b).await.unwrap().versions.is_empty());
    // B deploys its own 1.0.0 with other bytes: no conflict, separate registries and blobs
    let vb = match deploy(&h, b, default_plugin(), "1.0.0", "bob").await {
        DeployOutcome::Deployed(v) => v,
        other => panic!("{other:?}"),
    };
    assert!(vb.artifact_key.starts_with("plugins/acme-properties/"));
    plugins::activate(&h.ports, a, "1.0.0", &Expect::Any, &op("alice"), "").await.unwrap();
    let (_, oa) = h.loader.client_rules(&h.ports, a).await;
    let (_, ob) = h.loader.client_rules(&h.ports, b).await;
    assert!(matches!(oa, RulesOrigin::Plugin { component_sha256, .. } if component_sha256 == v.component_sha256));
    assert_eq!(ob, RulesOrigin::Default, "activating A's version changes nothing for B");
    // A's activation is in A's audit trail only
    assert!(audit::events(&h.ports, b).await.unwrap().iter().all(|e| e.action != "plugin.activate"));
}

#[tokio::test]
async fn fixture_shadow_for_sla_and_credit() {
    let h = harness().await;
    let c = &h.lotus;
    deploy(&h, c, example(), "1.0.0", "alice").await;
    let fx = Fixtures::parse(
        "tickets.toml",
        r#"
[[tickets]]
ticket_id = "T-1"
device_type = "barrier-gate"
priority = "normal"
building_id = "B1"
reported_minute_of_day = 480   # 08:00, Tuesday: the rush hour rule
reported_weekday = 2

[[tickets]]
ticket_id = "T-2"
device_type = "elevator"
priority = "normal"
building_id = "B1"
reported_minute_of_day = 600
reported_weekday = 6

[[applicants]]
id = "A-1"
kind = "person"
credit_score = 620
adverse_records = 0
monthly_rent = { minor = 60000, currency = "CNY" }

[[applicants]]
id = "A-2"
kind = "person"
credit_score = 800
adverse_records = 0
monthly_rent = { minor = 600000, currency = "CNY" }
"#,
    )
    .expect("fixtures parse");
    let mut pair = plugins::shadow_pair(&h.ports, &h.loader, c, "1.0.0").await.unwrap();
    let sla = plugins::shadow_tickets(&mut pair, &fx.tickets, 10);
    let credit = plugins::shadow_applicants(&mut pair, &fx.applicants, 10);

    // Independently: defaults vs lotus' native code.
    let lotus = rentops_plugin_example::LotusParking::init(None).unwrap();
    let default = RulesTable::product_default();
    let mut expect_sla = 0;
    for t in &fx.tickets {
        if evaluate::sla(&default, t) != lotus.sla(t) {
            expect_sla += 1;
        }
    }
    assert_eq!((sla.evaluated, sla.differing), (2, expect_sla));
    let t1 = lotus.sla(&fx.tickets[0]);
    assert_eq!(t1.response_minutes, 30, "barrier gate in the weekday rush: 30 minutes");
    assert_eq!(sla.examples[0].candidate["response_minutes"], 30);
    let expect_verdicts = fx
        .applicants
        .iter()
        .filter(|a| evaluate::credit(&default, &a.facts).verdict != lotus.credit(&a.facts).verdict)
        .count();
    assert_eq!((credit.evaluated, credit.by_kind["verdict"]), (2, expect_verdicts));
    assert_eq!((sla.candidate_fallbacks, credit.candidate_fallbacks), (0, 0));

    // Errors name the file and position.
    let err = Fixtures::parse("bad.json", "{\"tickets\": [{\"ticket_id\": 1}]}").unwrap_err();
    assert!(err.starts_with("bad.json:1:"), "{err}");
    let err = Fixtures::parse("bad.toml", "[[invoicez]]\n").unwrap_err();
    assert!(err.contains("bad.toml") && err.contains("invoicez"), "{err}");
}

#[tokio::test]
async fn dunning_uses_the_plugin_and_keeps_going_when_it_breaks() {
    use rentops_app::dunning::{Dunning, DunningSettings};
    use rentops_domain::dunning::Notice;
    let h = harness().await;
    let c = &h.lotus;
    let v = match deploy(&h, c, example(), "1.0.0", "alice").await {
        DeployOutcome::Deployed(v) => v,
        other => panic!("{other:?}"),
    };
    plugins::activate(&h.ports, c, "1.0.0", &Expect::Any, &op("alice"), "").await.unwrap();
    let notices = |ports: Ports| async move {
        let store = ports.client_store(&ClientId::new(SECOND_CLIENT).unwrap());
        rentops_app::notifier::notices(&store).await.unwrap()
    };
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let w = Dunning::with_default_runtime(h.ports.clone(), DunningSettings::default()).unwrap();
    let mut plugin_notices = 0;
    for d in 1..=10 {
        let r = w.run_client(c, day(d)).await.unwrap();
        assert_eq!(r.rules, "plugin 1.0.0");
        assert_eq!(r.fallbacks, 0);
        plugin_notices += r.notices;
    }
    let by_plugin: Vec<Notice> = notices(h.ports.clone()).await;
    assert!(plugin_notices > 0 && by_plugin.len() as u64 == plugin_notices, "{plugin_notices} {}", by_plugin.len());
    assert!(by_plugin.iter().all(|n| n.rule_version == "1.0.0"));

    // The artifact is damaged in the bucket: the next runs use the default rules, say so, and finish.
    let mut bytes = example().artifact.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    h.ports.blob.put(&v.artifact_key, bytes, "application/octet-stream", PutMode::Overwrite).await.unwrap();
    let w = Dunning::with_default_runtime(h.ports.clone(), DunningSettings::default()).unwrap();
    let mut fallback_notices = 0;
    for d in 11..=25 {
        let r = w.run_client(c, day(d)).await.unwrap();
        assert!(r.rules.starts_with("fallback: "), "{}", r.rules);
        fallback_notices += r.notices;
    }
    let all = notices(h.ports.clone()).await;
    let defaults: Vec<&Notice> = all.iter().filter(|n| n.rule_version.starts_with("default-")).collect();
    assert!(fallback_notices > 0 && defaults.len() as u64 == fallback_notices, "{fallback_notices}");
    assert_eq!(all.len() - defaults.len(), by_plugin.len(), "the plugin's notices are kept as they were");
    assert!(
        audit::events(&h.ports, c).await.unwrap().iter().any(|e| e.action == "plugin.load_failed"),
        "the failure is audited"
    );
}
