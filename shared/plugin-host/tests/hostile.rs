//! The hostile plugin suite: every attack is contained, the default rules answer, the host keeps serving
//! the same client, and another client's good plugin in the same process is unaffected.
//!
//! Needs the guests built: scripts/build-plugins.sh (see tests/common/mod.rs).

mod common;

use common::*;
use rentops_plugin_host::{
    Call, DecisionSource, EngineSettings, FallbackReason, Limits, LoadError, PluginRuntime, artifact, precompile,
    precompile_with,
};
use rentops_rules::evaluate;

fn reason<T>(d: &rentops_plugin_host::Decision<T>) -> FallbackReason {
    match &d.source {
        DecisionSource::Fallback { reason } => reason.clone(),
        other => panic!("expected a fallback, got {other:?}"),
    }
}

fn assert_plugin<T>(d: &rentops_plugin_host::Decision<T>) {
    match &d.source {
        DecisionSource::Plugin { version } => assert_eq!(&**version, "0.0.1-hostile"),
        other => panic!("expected the plugin to answer, got {other:?}"),
    }
}

/// Runs all four decisions through a plugin in `mode` next to a well-behaved plugin of another client.
fn contained(mode: &str, expect: impl Fn(Call, &FallbackReason) -> bool) {
    // Failures are not capped here so that every call really runs the hostile code.
    let (rt, sink) = runtime_with(Limits { max_consecutive_failures: 100, ..Limits::default() });
    let good = rt.load(&hostile("well-behaved")).expect("good plugin loads");
    let bad = rt.load(&hostile(mode)).expect("hostile plugin loads (it attacks at decision time)");
    let mut good_client = rt.session("client-good", good);
    let mut bad_client = rt.session("client-bad", bad);
    let defaults = defaults();

    let inv = invoice("inv-20", 20);
    let d = good_client.dunning_decide(&inv);
    assert_plugin(&d);
    assert_eq!(d.value.stage, "none");

    let d = bad_client.dunning_decide(&inv);
    let why = reason(&d);
    assert!(expect(Call::DunningDecide, &why), "{mode}: dunning fell back for {why:?}");
    assert_eq!(d.value, evaluate::dunning(&defaults, &inv), "{mode}: default dunning rules applied");
    assert!(d.value.legal_demand, "20 days overdue is the legal stage in the product rules");

    // Another client's plugin in the same process is unaffected, before and after.
    assert_plugin(&good_client.dunning_decide(&inv));

    let f = bad_client.late_fee(&inv);
    assert!(expect(Call::LateFee, &reason(&f)), "{mode}: late fee fell back for {:?}", reason(&f));
    assert_eq!(f.value, evaluate::late_fee(&defaults, &inv));

    let t = ticket("t-1", "elevator");
    let s = bad_client.sla_decide(&t);
    assert!(expect(Call::SlaDecide, &reason(&s)), "{mode}: sla fell back for {:?}", reason(&s));
    assert_eq!(s.value, evaluate::sla(&defaults, &t));
    assert_eq!(s.value.response_minutes, 120, "elevator: 2 h response in the product rules");

    let a = applicant(720, "CNY");
    let c = bad_client.credit_decide(&a);
    assert!(expect(Call::CreditDecide, &reason(&c)), "{mode}: credit fell back for {:?}", reason(&c));
    assert_eq!(c.value, evaluate::credit(&defaults, &a));

    // Batch calls: the same containment for the chunk (one element each, so the budgets equal a single call's).
    let b = bad_client.dunning_assess_batch(std::slice::from_ref(&inv));
    assert_eq!(b.len(), 1);
    assert!(expect(Call::DunningAssessBatch, &reason(&b[0])), "{mode}: batch fell back for {:?}", reason(&b[0]));
    assert_eq!(b[0].value.decision, evaluate::dunning(&defaults, &inv));
    assert_eq!(b[0].value.late_fee, evaluate::late_fee(&defaults, &inv));
    let b = bad_client.sla_decide_batch(std::slice::from_ref(&t));
    assert!(expect(Call::SlaDecideBatch, &reason(&b[0])), "{mode}: sla batch fell back for {:?}", reason(&b[0]));
    assert_eq!(b[0].value, evaluate::sla(&defaults, &t));

    // The host still serves: the good client and the bad client (default rules) both answer.
    let g = good_client.sla_decide(&t);
    assert_plugin(&g);
    assert_eq!(g.value.response_minutes, 60);
    assert!(bad_client.dunning_decide(&inv).is_fallback());

    let m = rt.metrics();
    assert_eq!(m.plugin_decisions, 3, "{mode}: {m:?}");
    assert_eq!(m.fallback_total(), 7, "{mode}: {m:?}");
    let events = sink.take();
    assert!(!events.is_empty(), "{mode}: an audit event was emitted");
    assert!(events.iter().all(|e| e.client == "client-bad"), "{mode}: only the bad client is reported");
    assert!(events.iter().all(|e| e.plugin.as_ref().is_some_and(|p| p.info.version == "0.0.1-hostile")));
    // One event per session and reason kind, not one per decision.
    let mut kinds: Vec<_> = events.iter().map(|e| e.reason.kind()).collect();
    kinds.dedup();
    assert_eq!(kinds.len(), events.len(), "{mode}: {events:?}");
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    contained("infinite-loop", |_, r| *r == FallbackReason::OutOfFuel(11_000_000));
}

#[test]
fn memory_bomb_hits_the_memory_cap() {
    contained("memory-bomb", |_, r| *r == FallbackReason::MemoryLimit(16 << 20));
}

#[test]
fn deep_recursion_is_a_trap() {
    // A Rust guest's shadow stack lives in linear memory: overflowing it is an out-of-bounds access.
    contained("deep-recursion", |_, r| match r {
        FallbackReason::Trap(msg) => msg.contains("out of bounds memory access"),
        FallbackReason::StackOverflow => true,
        _ => false,
    });
}

#[test]
fn panic_is_a_trap() {
    contained("panic", |_, r| matches!(r, FallbackReason::Trap(msg) if msg.contains("unreachable")));
}

#[test]
fn huge_output_is_rejected() {
    // A single answer over 64 KiB, or a batch answer over 2 MiB in total.
    contained(
        "huge-output",
        |_, r| matches!(r, FallbackReason::InvalidOutput(msg) if msg.contains("exceeds 65536") || msg.contains("exceeds 2097152")),
    );
}

#[test]
fn out_of_range_output_is_rejected() {
    contained("out-of-range", |call, r| {
        let FallbackReason::InvalidOutput(msg) = r else { return false };
        match call {
            Call::DunningDecide | Call::DunningAssessBatch => msg.contains("decision.stage"),
            Call::LateFee => msg.contains("late-fee.amount") && msg.contains("negative"),
            Call::SlaDecide | Call::SlaDecideBatch => msg.contains("sla.response-minutes"),
            Call::CreditDecide => msg.contains("deposit-months"),
            Call::Init => false,
        }
    });
}

#[test]
fn a_trapped_instance_is_replaced_and_the_plugin_answers_again() {
    let (rt, _sink) = runtime();
    let plugin = rt.load(&hostile_when("panic", "boom")).expect("loads");
    let mut s = rt.session("client-a", plugin);
    let before = rt.metrics().instantiations;

    assert_plugin(&s.dunning_decide(&invoice("ok-1", 3)));
    assert!(s.has_instance());
    let d = s.dunning_decide(&invoice("boom-1", 3));
    assert!(matches!(reason(&d), FallbackReason::Trap(_)));
    assert!(!s.has_instance(), "a trapped instance is poisoned and dropped");
    assert_plugin(&s.dunning_decide(&invoice("ok-2", 3)));
    assert_plugin(&s.dunning_decide(&invoice("ok-3", 3)));
    assert_eq!(rt.metrics().instantiations - before, 2, "one instance before the trap, one after, reused");
}

#[test]
fn the_plugin_is_disabled_for_the_session_after_consecutive_failures() {
    let (rt, sink) = runtime();
    let plugin = rt.load(&hostile("infinite-loop")).expect("loads");
    let mut s = rt.session("client-a", plugin.clone());
    let inv = invoice("inv-1", 10);
    for _ in 0..3 {
        assert_eq!(reason(&s.dunning_decide(&inv)), FallbackReason::OutOfFuel(11_000_000));
    }
    let started = std::time::Instant::now();
    for _ in 0..100 {
        let d = s.dunning_decide(&inv);
        assert!(matches!(reason(&d), FallbackReason::Disabled { failures: 3, .. }));
        assert_eq!(d.value, evaluate::dunning(&defaults(), &inv));
    }
    assert!(started.elapsed().as_millis() < 200, "a disabled plugin is not run: {:?}", started.elapsed());
    let kinds: Vec<_> = sink.take().iter().map(|e| e.reason.kind()).collect();
    assert_eq!(kinds, ["out_of_fuel", "disabled"]);
    assert_eq!(rt.metrics().fallback("out_of_fuel"), 3);
    assert_eq!(rt.metrics().fallback("disabled"), 100);

    // A new session (next invocation) tries the plugin again.
    let mut next = rt.session("client-a", plugin);
    assert_eq!(reason(&next.dunning_decide(&inv)), FallbackReason::OutOfFuel(11_000_000));
}

#[test]
fn a_leaking_plugin_is_reinstantiated_when_it_hits_the_memory_cap() {
    let (rt, _sink) = runtime();
    let plugin = rt.load(&hostile("leak")).expect("loads");
    let mut s = rt.session("client-a", plugin);
    let inv = invoice("inv-1", 1);
    let mut answered = 0;
    let first_failure = loop {
        let d = s.dunning_decide(&inv);
        if d.is_fallback() {
            break reason(&d);
        }
        answered += 1;
        assert!(answered < 40, "a 1 MiB-per-call leak must hit the 16 MiB cap");
    };
    assert_eq!(first_failure, FallbackReason::MemoryLimit(16 << 20));
    assert!((8..=16).contains(&answered), "answered {answered} calls before the cap");
    assert_plugin(&s.dunning_decide(&inv));
}

#[test]
fn facts_over_the_input_cap_use_the_default_rules_without_blaming_the_plugin() {
    let (rt, _sink) = runtime();
    let plugin = rt.load(&hostile("well-behaved")).expect("loads");
    let mut s = rt.session("client-a", plugin);
    let mut inv = invoice("inv-1", 9);
    inv.prior_stages = (0..5000).map(|i| rentops_rules::PriorStage { stage: format!("stage-{i}"), day: i }).collect();
    for _ in 0..5 {
        let d = s.dunning_decide(&inv);
        assert!(matches!(reason(&d), FallbackReason::InputTooLarge { limit: 65536, .. }));
        assert_eq!(d.value, evaluate::dunning(&defaults(), &inv));
    }
    assert_plugin(&s.dunning_decide(&invoice("inv-2", 9)));
}

#[test]
fn init_error_refuses_the_plugin_and_every_decision_uses_the_defaults() {
    let (rt, sink) = runtime();
    let art = hostile("init-error");
    let err = rt.load(&art).unwrap_err();
    assert_eq!(err, LoadError::Init("hostile plugin refuses every table".into()));

    let mut s = rt.load_session("client-a", &art);
    let inv = invoice("inv-1", 12);
    for _ in 0..3 {
        let d = s.dunning_decide(&inv);
        assert_eq!(reason(&d), FallbackReason::InitFailed("hostile plugin refuses every table".into()));
        assert_eq!(d.value, evaluate::dunning(&defaults(), &inv));
    }
    assert_eq!(sink.take().len(), 1, "one audit event per session and reason");
    assert_eq!(rt.metrics().fallback("init_failed"), 3);
}

#[test]
fn init_that_never_returns_runs_out_of_fuel_at_load() {
    let (rt, _sink) = runtime();
    let err = rt.load(&hostile("init-loop")).unwrap_err();
    assert!(
        matches!(&err, LoadError::Trapped { call: "plugin.init", reason: FallbackReason::OutOfFuel(_) }),
        "{err:?}"
    );
}

#[test]
fn a_plugin_claiming_another_contract_major_is_refused() {
    let (rt, _sink) = runtime();
    let err = rt.load(&hostile("wrong-contract-info")).unwrap_err();
    assert!(matches!(&err, LoadError::IncompatibleContract { found } if found.contains("2.0.0")), "{err:?}");
    let mut s = rt.load_session("client-a", &hostile("wrong-contract-info"));
    assert!(matches!(reason(&s.credit_decide(&applicant(700, "CNY"))), FallbackReason::Incompatible(_)));
}

#[test]
fn a_component_exporting_contract_2_0_0_is_refused() {
    let (rt, _sink) = runtime();
    let component = componentize(&guest_file("wasm32-unknown-unknown", "rentops_plugin_hostile_v2"));
    let art = precompile(&component).expect("a 2.0.0 plugin still compiles");
    let err = rt.load(&art).unwrap_err();
    assert_eq!(err, LoadError::IncompatibleContract { found: "rentops:rules@2.0.0".into() });
    let mut s = rt.load_session("client-a", &art);
    let t = ticket("t-1", "lighting");
    let d = s.sla_decide(&t);
    assert!(matches!(reason(&d), FallbackReason::Incompatible(_)));
    assert_eq!(d.value.response_minutes, 24 * 60, "lighting: 24 h in the product rules");
}

#[test]
fn a_component_exporting_contract_0_9_0_is_refused() {
    let (rt, _sink) = runtime();
    let component = wat::parse_str(
        r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $plugin (export "init" (func $f)))
            (export "rentops:rules/plugin@0.9.0" (instance $plugin)))"#,
    )
    .expect("wat");
    let err = rt.load(&precompile(&component).expect("compiles")).unwrap_err();
    assert_eq!(err, LoadError::IncompatibleContract { found: "rentops:rules@0.9.0".into() });
}

#[test]
fn a_plugin_importing_wasi_is_refused() {
    let (rt, _sink) = runtime();
    // The hostile guest built for wasm32-wasip2: std's panic/abort paths import WASI.
    let component = guest_file("wasm32-wasip2", "rentops_plugin_hostile");
    let art = precompile(&component).expect("compiles");
    match rt.load(&art).unwrap_err() {
        LoadError::Imports(names) => {
            assert!(!names.is_empty());
            assert!(names.iter().all(|n| n.starts_with("wasi:")), "{names:?}");
        }
        other => panic!("expected an import refusal, got {other:?}"),
    }
    let mut s = rt.load_session("client-a", &art);
    assert!(matches!(reason(&s.dunning_decide(&invoice("i", 1))), FallbackReason::Incompatible(_)));
}

#[test]
fn a_hand_written_component_importing_wasi_is_refused() {
    let (rt, _sink) = runtime();
    let component = wat::parse_str(
        r#"(component
            (import "wasi:cli/environment@0.2.0" (instance
                (export "get-arguments" (func (result (list string))))))
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $plugin (export "info" (func $f)))
            (export "rentops:rules/plugin@1.0.0" (instance $plugin)))"#,
    )
    .expect("wat");
    let err = rt.load(&precompile(&component).expect("compiles")).unwrap_err();
    assert_eq!(err, LoadError::Imports(vec!["wasi:cli/environment@0.2.0".into()]));
}

#[test]
fn tampered_or_wrong_artifacts_are_refused() {
    let (rt, _sink) = runtime();
    let good = hostile("well-behaved");
    let mut tampered = good.clone();
    let n = tampered.len();
    tampered[n - 100] ^= 0x5a;
    assert_eq!(rt.load(&tampered).unwrap_err(), LoadError::Artifact(artifact::ArtifactError::Corrupt));
    let component = componentize(&guest_file("wasm32-unknown-unknown", "rentops_plugin_hostile"));
    assert_eq!(rt.load(&component).unwrap_err(), LoadError::Artifact(artifact::ArtifactError::NotAnArtifact));
}

#[test]
fn an_artifact_compiled_for_other_engine_settings_is_refused() {
    let (rt, _sink) = runtime();
    let component = componentize(&guest_file("wasm32-unknown-unknown", "rentops_plugin_hostile"));
    let other = EngineSettings { memory_reservation: 1 << 30, ..EngineSettings::default() };
    let art = precompile_with(&other, &component).expect("compiles");
    let err = rt.load(&art).unwrap_err();
    assert!(matches!(&err, LoadError::Engine(msg) if msg.contains("memory reservation")), "{err:?}");
}

#[test]
fn fuel_use_is_deterministic() {
    let (rt, _sink) = runtime();
    let plugin = rt.load(&hostile("well-behaved")).expect("loads");
    let inv = invoice("inv-1", 5);
    let mut a = rt.session("client-a", plugin.clone());
    let mut b = rt.session("client-b", plugin);
    a.dunning_decide(&inv);
    let first = a.last_fuel_used();
    a.dunning_decide(&inv);
    b.dunning_decide(&inv);
    assert!(first > 0);
    assert_eq!(a.last_fuel_used(), first);
    assert_eq!(b.last_fuel_used(), first);
}

#[test]
fn a_process_holds_as_many_sessions_as_the_pool_has_slots() {
    let (rt, _sink) = runtime();
    let plugin = rt.load(&hostile("well-behaved")).expect("loads");
    let inv = invoice("inv-1", 5);
    let mut sessions: Vec<_> = (0..16).map(|i| rt.session(&format!("client-{i}"), plugin.clone())).collect();
    for s in &mut sessions {
        assert_plugin(&s.dunning_decide(&inv));
    }
    // The 17th concurrent instance does not fit the pool: that client gets the defaults, nobody crashes.
    let mut extra = rt.session("client-16", plugin.clone());
    assert!(matches!(reason(&extra.dunning_decide(&inv)), FallbackReason::Instantiate(_)));
    drop(sessions.pop());
    let mut again = rt.session("client-17", plugin);
    assert_plugin(&again.dunning_decide(&inv));
}

#[test]
fn clients_without_a_plugin_get_the_native_rules_without_an_alert() {
    let (rt, sink) = runtime();
    let mut s = rt.native_session("client-a", None);
    let d = s.dunning_decide(&invoice("inv-1", 10));
    assert_eq!(d.source, DecisionSource::Native);
    assert!(sink.take().is_empty());
    assert_eq!(rt.metrics().native_decisions, 1);
    let _: &PluginRuntime = &rt;
}
