//! Batch calls (`ClientRules::dunning_assess_batch`, `ClientRules::sla_decide_batch`): a batch answers
//! exactly what the single calls answer (default and example plugins, hundreds of varied facts, chunked and
//! not), and a hostile plugin in batch mode (wrong answer length, trap in the middle of a batch, an invalid
//! element, an infinite loop, oversized facts) costs only the affected chunk or element its plugin answer,
//! while the host keeps serving.
//!
//! Needs the guests built: scripts/build-plugins.sh (see tests/common/mod.rs).

mod common;

use common::*;
use rentops_plugin_host::{
    Call, ClientRules, Decision, DecisionSource, FallbackReason, InputSize, InvoiceAssessment, Limits,
};
use rentops_rules::table::LateFeeTable;
use rentops_rules::{self as r, RulesTable, evaluate};

/// `n` invoices varying everything the rules look at: days around due, amounts, part payments, prior stages,
/// tenant history, category.
fn varied_invoices(n: usize) -> Vec<r::InvoiceFacts> {
    let categories = ["office", "apartment", "parking", "equipment"];
    (0..n)
        .map(|i| {
            let day = (i % 61) as i32 - 15;
            let mut f = invoice(&format!("inv-{i:04}"), day);
            f.lease_id = format!("lease-{}", i % 37);
            f.days_since_issue = (30 + day).max(0) - (i % 3) as i32;
            f.amount_due = money(50_000 + (i as i64 * 7919) % 2_000_000);
            f.amount_outstanding = money(f.amount_due.minor - (i as i64 % 4) * f.amount_due.minor / 5);
            f.partial_payments = (i % 4) as u32;
            if i % 5 == 0 && day > 3 {
                f.prior_stages = vec![r::PriorStage { stage: "overdue-gentle".into(), day: 1 }];
            }
            f.history = r::TenantHistory {
                late_invoices_12m: (i % 7 / 3) as u32,
                max_days_late_12m: (i % 11) as u32,
                tenure_months: (i % 30) as u32,
            };
            f.category = categories[i % categories.len()].into();
            f
        })
        .collect()
}

fn varied_tickets(n: usize) -> Vec<r::TicketFacts> {
    let devices = ["elevator", "lighting", "hvac", "plumbing", "barrier-gate", "ev-charger", "camera", "other-thing"];
    let priorities = [r::Priority::Low, r::Priority::Normal, r::Priority::High, r::Priority::Urgent];
    (0..n)
        .map(|i| {
            let mut t = ticket(&format!("t-{i:04}"), devices[i % devices.len()]);
            t.priority = priorities[i / devices.len() % priorities.len()];
            t.reported_minute_of_day = ((i * 97) % 1440) as u32;
            t.reported_weekday = (i % 7) as u8 + 1;
            t.building_id = format!("b-{}", i % 5);
            t
        })
        .collect()
}

fn version_of<T>(d: &Decision<T>) -> &str {
    match &d.source {
        DecisionSource::Plugin { version } => version,
        other => panic!("expected the plugin to answer, got {other:?}"),
    }
}

fn reason<T>(d: &Decision<T>) -> &FallbackReason {
    match &d.source {
        DecisionSource::Fallback { reason } => reason,
        other => panic!("expected a fallback, got {other:?}"),
    }
}

/// Batch answers == single answers (values and sources), for a session with the given chunk size.
fn batch_equals_single(crate_file: &str, chunk: usize, native: Option<&RulesTable>) {
    let (rt, sink) = runtime_with(Limits { batch_chunk: chunk, ..Limits::default() });
    let plugin = rt.load(&plugin_artifact(crate_file, None)).expect("plugin loads");
    let mut batch = rt.session("client-batch", plugin.clone());
    let mut single = rt.session("client-single", plugin);
    let invoices = varied_invoices(400);
    let got = batch.dunning_assess_batch(&invoices);
    assert_eq!(got.len(), invoices.len());
    let mut stages = std::collections::BTreeSet::new();
    let mut fees = 0;
    for (f, a) in invoices.iter().zip(&got) {
        let d = single.dunning_decide(f);
        let fee = single.late_fee(f);
        assert_eq!(version_of(a), version_of(&d));
        assert_eq!(a.value, InvoiceAssessment { decision: d.value, late_fee: fee.value }, "{}", f.invoice_id);
        if let Some(t) = native {
            assert_eq!(a.value.decision, evaluate::dunning(t, f), "native dunning {}", f.invoice_id);
            assert_eq!(a.value.late_fee, evaluate::late_fee(t, f), "native late fee {}", f.invoice_id);
        }
        stages.insert(a.value.decision.stage.clone());
        fees += usize::from(a.value.late_fee.amount.minor > 0);
    }
    // The facts really exercise the rules: reminders, several overdue stages, fees.
    assert!(stages.len() >= 4, "{stages:?}");
    assert!(fees > 50, "{fees} invoices with a fee");
    assert!(batch.last_fuel_used() > 0);

    let tickets = varied_tickets(300);
    let got = batch.sla_decide_batch(&tickets);
    assert_eq!(got.len(), tickets.len());
    for (t, s) in tickets.iter().zip(&got) {
        let d = single.sla_decide(t);
        assert_eq!(version_of(s), version_of(&d));
        assert_eq!(s.value, d.value, "{t:?}");
        if let Some(table) = native {
            assert_eq!(s.value, evaluate::sla(table, t));
        }
    }
    assert!(got.windows(2).any(|w| w[0].value.response_minutes != w[1].value.response_minutes));
    assert!(batch.dunning_assess_batch(&[]).is_empty());
    assert!(sink.take().is_empty(), "no fallback");
    let m = rt.metrics();
    assert_eq!(m.fallback_total(), 0);
    // Singles: 2 per invoice + 1 per ticket; batch: 1 per invoice + 1 per ticket.
    assert_eq!(m.plugin_decisions, (400 * 2 + 300) + (400 + 300));
}

#[test]
fn default_plugin_batches_equal_single_calls_and_native_rules() {
    let product = defaults();
    batch_equals_single("rentops_plugin_default", 256, Some(&product));
    // Small chunks: many chunk boundaries, same answers.
    batch_equals_single("rentops_plugin_default", 7, Some(&product));
}

#[test]
fn example_plugin_batches_equal_single_calls() {
    batch_equals_single("rentops_plugin_example", 256, None);
    batch_equals_single("rentops_plugin_example", 33, None);
}

#[test]
fn sessions_without_a_plugin_answer_batches_natively() {
    let (rt, sink) = runtime();
    let table = defaults();
    let invoices = varied_invoices(20);
    let mut native = rt.native_session("client-n", None);
    for (f, a) in invoices.iter().zip(native.dunning_assess_batch(&invoices)) {
        assert_eq!(a.source, DecisionSource::Native);
        assert_eq!(a.value.late_fee, evaluate::late_fee(&table, f));
    }
    let art = hostile("wrong-contract-info");
    let mut broken = rt.load_session("client-b", &art);
    let got = broken.sla_decide_batch(&varied_tickets(10));
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|d| matches!(reason(d), FallbackReason::Incompatible(_))));
    assert_eq!(sink.take().len(), 1, "one audit event per session and reason kind");
}

/// 600 invoices = chunks of 256, 256, 88. Element `i` of the answer for a chunk that fell back equals the
/// product default rules.
fn assert_chunk_fell_back(
    got: &[Decision<InvoiceAssessment>],
    facts: &[r::InvoiceFacts],
    range: std::ops::Range<usize>,
) {
    let table = defaults();
    for i in range {
        assert!(got[i].is_fallback(), "element {i}");
        assert_eq!(got[i].value.decision, evaluate::dunning(&table, &facts[i]), "element {i}");
        assert_eq!(got[i].value.late_fee, evaluate::late_fee(&table, &facts[i]), "element {i}");
    }
}

fn bad_and_good(
    mode_table: &str,
    limits: Limits,
) -> (ClientRules, ClientRules, std::sync::Arc<rentops_plugin_host::MemorySink>) {
    let (rt, sink) = runtime_with(limits);
    let bad = rt.load(&hostile_artifact(mode_table)).expect("hostile plugin loads");
    let good = rt.load(&hostile("well-behaved")).expect("good plugin loads");
    (rt.session("client-bad", bad), rt.session("client-good", good), sink)
}

#[test]
fn a_batch_answer_of_the_wrong_length_falls_back_for_the_chunk() {
    let (mut bad, mut good, sink) = bad_and_good(r#"{"hostile": "wrong-length"}"#, Limits::default());
    let invoices = varied_invoices(300);
    let got = bad.dunning_assess_batch(&invoices);
    assert_eq!(got.len(), 300);
    assert_chunk_fell_back(&got, &invoices, 0..300);
    assert_eq!(reason(&got[0]), &FallbackReason::InvalidOutput("batch answer has 255 elements for 256 facts".into()));
    assert_eq!(reason(&got[299]), &FallbackReason::InvalidOutput("batch answer has 43 elements for 44 facts".into()));
    // Another client is unaffected; the bad client's single calls (well-behaved in this mode) still work and
    // reset the failure count.
    assert!(good.dunning_assess_batch(&invoices).iter().all(|d| !d.is_fallback()));
    assert!(!bad.dunning_decide(&invoices[0]).is_fallback());
    // SLA: one element too many.
    let tickets = varied_tickets(10);
    let s = bad.sla_decide_batch(&tickets);
    assert_eq!(s.len(), 10);
    assert_eq!(reason(&s[3]), &FallbackReason::InvalidOutput("batch answer has 11 elements for 10 facts".into()));
    assert_eq!(s[3].value, evaluate::sla(&defaults(), &tickets[3]));
    let events = sink.take();
    assert_eq!(events.len(), 1, "one alert per session and reason kind: {events:?}");
    assert_eq!((events[0].client.as_str(), events[0].call), ("client-bad", Call::DunningAssessBatch));
}

#[test]
fn a_trap_in_the_middle_of_a_batch_costs_only_that_chunk() {
    let (mut bad, mut good, sink) = bad_and_good(r#"{"hostile": "panic", "when": "boom"}"#, Limits::default());
    let mut invoices = varied_invoices(600);
    // The compact batch carries no ids: the hostile guest's "when" matches the category there.
    invoices[300].category = "boom-300".into();
    let got = bad.dunning_assess_batch(&invoices);
    assert_eq!(got.len(), 600);
    for (i, d) in got.iter().enumerate().take(256) {
        assert_eq!(version_of(d), "0.0.1-hostile", "element {i}");
    }
    assert_chunk_fell_back(&got, &invoices, 256..512);
    assert!(matches!(reason(&got[256]), FallbackReason::Trap(m) if m.contains("unreachable")), "{:?}", got[256]);
    // The poisoned instance was replaced: the third chunk is answered by the plugin again.
    assert!(got[512..].iter().all(|d| !d.is_fallback()));
    assert!(bad.has_instance());
    // The host keeps serving the same client, batch and single, and the other client.
    invoices[300].category = "office".into();
    assert!(bad.dunning_assess_batch(&invoices).iter().all(|d| !d.is_fallback()));
    assert!(!bad.late_fee(&invoices[5]).is_fallback());
    assert!(good.dunning_assess_batch(&invoices[..10]).iter().all(|d| !d.is_fallback()));
    let events = sink.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].call, Call::DunningAssessBatch);
}

#[test]
fn an_invalid_element_falls_back_alone() {
    let (mut bad, _good, _sink) = bad_and_good(r#"{"hostile": "out-of-range", "when": "boom"}"#, Limits::default());
    let mut invoices = varied_invoices(50);
    invoices[17].category = "boom-17".into();
    let got = bad.dunning_assess_batch(&invoices);
    for (i, d) in got.iter().enumerate() {
        if i == 17 {
            assert!(
                matches!(reason(d), FallbackReason::InvalidOutput(m) if m.starts_with("element 17: ")),
                "{:?}",
                d.source
            );
            assert_eq!(d.value.decision, evaluate::dunning(&defaults(), &invoices[17]));
        } else {
            assert_eq!(version_of(d), "0.0.1-hostile", "element {i}");
        }
    }
    let mut tickets = varied_tickets(20);
    tickets[4].ticket_id = "boom-4".into();
    // The batch carries no ticket ids: the hostile guest matches `when` on the building there.
    tickets[4].building_id = "boom-4".into();
    let got = bad.sla_decide_batch(&tickets);
    assert!(got.iter().enumerate().all(|(i, d)| d.is_fallback() == (i == 4)));
}

#[test]
fn three_failing_chunks_in_a_row_disable_the_plugin_for_the_session() {
    let (mut bad, _good, sink) =
        bad_and_good(r#"{"hostile": "infinite-loop"}"#, Limits { batch_chunk: 4, ..Limits::default() });
    let invoices = varied_invoices(20);
    let got = bad.dunning_assess_batch(&invoices);
    assert_chunk_fell_back(&got, &invoices, 0..20);
    // The chunk's budget is 4 × 11 M fuel.
    assert_eq!(reason(&got[0]), &FallbackReason::OutOfFuel(44_000_000));
    assert_eq!(reason(&got[11]), &FallbackReason::OutOfFuel(44_000_000));
    assert!(matches!(reason(&got[12]), FallbackReason::Disabled { failures: 3, .. }), "{:?}", got[12].source);
    assert!(!bad.has_instance());
    let kinds: Vec<_> = sink.take().iter().map(|e| e.reason.kind()).collect();
    assert_eq!(kinds, ["out_of_fuel", "disabled"]);
}

#[test]
fn oversized_facts_are_not_sent_and_the_rest_of_the_batch_is() {
    let (rt, _sink) = runtime();
    let plugin = rt.load(&plugin_artifact("rentops_plugin_default", None)).expect("loads");
    let mut s = rt.session("client-a", plugin);
    let version = s.plugin().expect("plugin").info.version.clone();
    let mut invoices = varied_invoices(10);
    invoices[6].category = "x".repeat(70_000);
    let got = s.dunning_assess_batch(&invoices);
    assert_eq!(got.len(), 10);
    for (i, d) in got.iter().enumerate() {
        if i == 6 {
            assert!(matches!(reason(d), FallbackReason::InputTooLarge { limit: 65_536, .. }), "{:?}", d.source);
        } else {
            assert_eq!(version_of(d), version, "element {i}");
            assert_eq!(d.value.late_fee, evaluate::late_fee(&defaults(), &invoices[i]));
        }
    }
    // The byte cap per chunk closes a chunk early: the chunk's fuel budget (11 M per element, reported when
    // a looping plugin runs out) shows how many invoices it held.
    let limits = Limits { max_batch_input_bytes: 64 << 10, max_consecutive_failures: 100, ..Limits::default() };
    let (mut bad, _good, _sink) = bad_and_good(r#"{"hostile": "infinite-loop"}"#, limits);
    let invoices: Vec<_> = (0..40)
        .map(|i| {
            let mut f = invoice(&format!("inv-{i:04}"), i % 20);
            f.lease_id = format!("lease-{}", "9".repeat(3000));
            f
        })
        .collect();
    let size = invoices[0].wire_size();
    assert!(invoices.iter().all(|f| f.wire_size() == size));
    let per_chunk = (64 << 10) / size;
    assert!((2..40).contains(&per_chunk), "{per_chunk}");
    let got = bad.dunning_assess_batch(&invoices);
    assert_eq!(reason(&got[0]), &FallbackReason::OutOfFuel(11_000_000 * per_chunk as u64));
    assert_eq!(reason(&got[per_chunk]), &FallbackReason::OutOfFuel(11_000_000 * per_chunk as u64));
}

/// `varied_invoices` plus what the late-fee wording depends on: other currencies (USD, and JPY without minor
/// units) and settled invoices.
fn varied_currencies(n: usize) -> Vec<r::InvoiceFacts> {
    let mut invoices = varied_invoices(n);
    for (i, f) in invoices.iter_mut().enumerate() {
        let cur = match i % 7 {
            3 => "USD",
            5 => "JPY",
            _ => "CNY",
        };
        f.amount_due.currency = cur.into();
        f.amount_outstanding.currency = cur.into();
        if i % 13 == 0 {
            f.amount_outstanding.minor = 0;
        }
    }
    invoices
}

/// The late-fee explanation of a batch is worded by the host from the plugin's structured answer: for every
/// outcome and cap of the table rules (flat, flat in another currency, percent with both caps, daily up to the
/// amount outstanding, no rule) it must be exactly what the plugin's single call and the native rules say.
#[test]
fn batch_late_fees_are_worded_exactly_like_native_for_every_outcome() {
    let cny = |minor| Some(r::Money::new(minor, "CNY"));
    let rules = [
        Some(LateFeeTable {
            grace_days: 5,
            basis: r::FeeBasis::Flat,
            flat: cny(5_000),
            rate_ppm: 0,
            max_share_ppm: 0,
            max_amount: None,
        }),
        Some(LateFeeTable {
            grace_days: 0,
            basis: r::FeeBasis::Percent,
            flat: None,
            rate_ppm: 100_000,
            max_share_ppm: 50_000,
            max_amount: cny(10_000),
        }),
        Some(LateFeeTable {
            grace_days: 2,
            basis: r::FeeBasis::DailyPercent,
            flat: None,
            rate_ppm: 50_000,
            max_share_ppm: 0,
            max_amount: None,
        }),
        None,
    ];
    let invoices = varied_currencies(500);
    let mut outcomes = std::collections::BTreeSet::new();
    let mut caps = [0usize; 3];
    for rule in rules {
        let mut table = defaults();
        table.late_fee = rule;
        assert_eq!(table.validate(), Ok(()));
        let (rt, sink) = runtime();
        let plugin = rt.load(&plugin_artifact("rentops_plugin_default", Some(&table.to_json()))).expect("loads");
        let mut batch = rt.session("client-batch", plugin.clone());
        let mut single = rt.session("client-single", plugin);
        let got = batch.dunning_assess_batch(&invoices);
        assert_eq!(got.len(), invoices.len());
        for (f, a) in invoices.iter().zip(&got) {
            assert!(!a.is_fallback(), "{:?}", a.source);
            let want = evaluate::late_fee(&table, f);
            assert_eq!(a.value.late_fee, want, "{f:?}");
            assert_eq!(a.value.decision, evaluate::dunning(&table, f));
            assert_eq!(single.late_fee(f).value, want);
            let calc = evaluate::late_fee_calc(&table, f);
            outcomes.insert(format!("{:?}", calc.parts.outcome));
            for (n, hit) in
                caps.iter_mut().zip([calc.parts.caps.share, calc.parts.caps.amount, calc.parts.caps.outstanding])
            {
                *n += usize::from(hit);
            }
        }
        assert!(sink.take().is_empty());
    }
    let want: std::collections::BTreeSet<String> =
        ["NoRule", "NothingOutstanding", "NotOverdue", "WithinGrace", "FlatOtherCurrency", "Charged"]
            .into_iter()
            .map(String::from)
            .collect();
    assert_eq!(outcomes, want, "every outcome a valid table can reach was compared");
    assert!(caps.iter().all(|n| *n > 0), "every cap was hit: {caps:?}");
}

/// Indexes into the answer's own tables out of range, or a late fee whose parts contradict themselves: that
/// element alone falls back to the default rules, with the reason; the rest of the chunk is the plugin's.
#[test]
fn out_of_range_indexes_in_a_batch_answer_fall_back_per_element() {
    let (mut bad, _good, sink) = bad_and_good(r#"{"hostile": "bad-index"}"#, Limits::default());
    let invoices = varied_invoices(8);
    let got = bad.dunning_assess_batch(&invoices);
    assert_eq!(got.len(), 8);
    let table = defaults();
    let want = [
        "decision index 99 out of range (1 decisions)",
        "late-fee.rule index 99 out of range (0 rules)",
        "late-fee.wording: text index 99 out of range (1 strings)",
        "late-fee: an outcome that charges nothing has a fee or caps",
    ];
    for (i, d) in got.iter().enumerate() {
        assert_eq!(reason(d), &FallbackReason::InvalidOutput(format!("element {i}: {}", want[i % 4])), "element {i}");
        assert_eq!(d.value.decision, evaluate::dunning(&table, &invoices[i]));
        assert_eq!(d.value.late_fee, evaluate::late_fee(&table, &invoices[i]));
    }
    // The single calls of the same plugin are well-behaved and still answer.
    assert!(!bad.dunning_decide(&invoices[0]).is_fallback());
    let events = sink.take();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].call, Call::DunningAssessBatch);

    // SLA: odd tickets point past the batch's decisions: those get the default rules, the others the plugin's.
    let tickets = varied_tickets(6);
    let got = bad.sla_decide_batch(&tickets);
    assert_eq!(got.len(), 6);
    for (i, d) in got.iter().enumerate() {
        if i % 2 == 1 {
            let want =
                FallbackReason::InvalidOutput(format!("element {i}: decision index 99 out of range (6 decisions)"));
            assert_eq!(reason(d), &want, "ticket {i}");
            assert_eq!(d.value, evaluate::sla(&table, &tickets[i]), "ticket {i}");
        } else {
            assert_eq!(version_of(d), "0.0.1-hostile", "ticket {i}");
            assert_eq!(d.value.response_minutes, 60, "ticket {i}: the hostile plugin's own answer");
        }
    }
}
