//! A deliberately hostile rules plugin for the plugin host's test suite. NEVER deploy it.
//!
//! One guest, many attacks: what it does is chosen by the rules table packaged with it (the
//! `rentops-rules-table` custom section the host passes to `plugin.init`), a tiny JSON object:
//!
//! ```text
//! {"hostile": "<mode>"}                    misbehave on every decision
//! {"hostile": "<mode>", "when": "boom"}    misbehave only when the invoice / ticket id starts with "boom"
//!                                          (credit: when the monthly rent's currency is "XXX"; the
//!                                          compact dunning batch, which carries no ids: the category)
//! ```
//!
//! Modes: `well-behaved` (valid, boring answers), `infinite-loop`, `memory-bomb` (allocates until the
//! memory cap), `deep-recursion` (overflows the shadow stack: a memory-out-of-bounds trap), `panic`,
//! `huge-output` (MiB strings, 10 000-entry lists: far over the host's 64 KiB answer cap, yet within the fuel budget), `out-of-range` (negative late fee, 0-minute SLA, empty
//! stage, 1000-month deposit), `leak` (keeps 1 MiB per call: fails after ~15 calls in one instance),
//! `init-error` (init returns an error), `init-loop` (init never returns), `wrong-contract-info`
//! (`plugin.info` claims contract 2.0.0), `wrong-length` (single decisions well-behaved; the batch functions
//! answer one element too few (dunning) or too many (sla)), `bad-index` (single decisions well-behaved; the
//! compact dunning batch answers indexes out of range into its own tables and a self-contradicting late fee;
//! the SLA batch points odd tickets past its decisions).
//!
//! Batch functions (`dunning.assess-batch`, `sla.decide-batch`) apply the same attacks item by item, so a
//! `panic` with `"when": "boom"` traps in the middle of a batch, at the first "boom" item.
//!
//! Built for wasm32-unknown-unknown and componentized like every plugin (zero imports). Built for
//! wasm32-wasip2 it becomes the "imports WASI" case (std's panic/abort paths import WASI there).

wit_bindgen::generate!({ path: "../wit", world: "rules" });

use std::hint::black_box;
use std::sync::Mutex;

use exports::rentops::rules::types::{Channel, Money};
use exports::rentops::rules::{credit, dunning, plugin, sla};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    WellBehaved,
    InfiniteLoop,
    MemoryBomb,
    DeepRecursion,
    Panic,
    HugeOutput,
    OutOfRange,
    Leak,
    InitError,
    InitLoop,
    WrongContractInfo,
    WrongLength,
    BadIndex,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "well-behaved" => Mode::WellBehaved,
            "infinite-loop" => Mode::InfiniteLoop,
            "memory-bomb" => Mode::MemoryBomb,
            "deep-recursion" => Mode::DeepRecursion,
            "panic" => Mode::Panic,
            "huge-output" => Mode::HugeOutput,
            "out-of-range" => Mode::OutOfRange,
            "leak" => Mode::Leak,
            "init-error" => Mode::InitError,
            "init-loop" => Mode::InitLoop,
            "wrong-contract-info" => Mode::WrongContractInfo,
            "wrong-length" => Mode::WrongLength,
            "bad-index" => Mode::BadIndex,
            _ => return None,
        })
    }
}

struct State {
    mode: Mode,
    when: Option<String>,
}

static STATE: Mutex<State> = Mutex::new(State { mode: Mode::WellBehaved, when: None });
static HOARD: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The string value of `"key": "value"` in a flat JSON object (enough for this test guest).
fn json_str<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\"");
    let rest = &json[json.find(&pat)? + pat.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

/// The mode to act on for a call about `id`.
fn mode_for(id: &str) -> Mode {
    let st = STATE.lock().unwrap_or_else(|p| p.into_inner());
    match &st.when {
        Some(prefix) if !id.starts_with(prefix.as_str()) => Mode::WellBehaved,
        _ => st.mode,
    }
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = black_box(x.wrapping_add(1));
    }
}

fn bomb() -> ! {
    // Uninitialised capacity: the memory is grown, not written, so the cap is hit long before the fuel
    // runs out (zeroing 16 MiB byte by byte would itself take more than 11 M instructions).
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut v: Vec<u8> = Vec::with_capacity(4 << 20);
        v.push(1);
        hoard.push(black_box(v));
    }
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let frame = black_box([n; 64]);
    if black_box(n < u64::MAX) { recurse(n + 1).wrapping_add(frame[7]) } else { frame[0] }
}

fn leak() {
    let mut v = vec![0u8; 1 << 20];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    HOARD.lock().unwrap_or_else(|p| p.into_inner()).push(v);
}

/// The misbehaviours shared by every decision; returns normally for the modes that need a shaped answer.
fn attack(mode: Mode) {
    match mode {
        Mode::InfiniteLoop => spin(),
        Mode::MemoryBomb => bomb(),
        Mode::DeepRecursion => {
            black_box(recurse(0));
        }
        Mode::Panic => panic!("hostile plugin panics on purpose"),
        Mode::Leak => leak(),
        _ => {}
    }
}

fn huge(n: usize) -> String {
    "x".repeat(n)
}

struct Hostile;

impl plugin::Guest for Hostile {
    fn info() -> plugin::PluginInfo {
        let contract = if STATE.lock().unwrap_or_else(|p| p.into_inner()).mode == Mode::WrongContractInfo {
            "2.0.0"
        } else {
            "1.0.0"
        };
        plugin::PluginInfo {
            name: "hostile test plugin".into(),
            version: "0.0.1-hostile".into(),
            contract: contract.into(),
        }
    }

    fn init(table: String) -> Result<(), String> {
        let mode = match json_str(&table, "hostile") {
            None => Mode::WellBehaved,
            Some(m) => Mode::parse(m).ok_or_else(|| format!("unknown hostile mode {m:?}"))?,
        };
        let mut st = STATE.lock().unwrap_or_else(|p| p.into_inner());
        st.mode = mode;
        st.when = json_str(&table, "when").map(str::to_string);
        drop(st);
        match mode {
            Mode::InitError => Err("hostile plugin refuses every table".into()),
            Mode::InitLoop => spin(),
            _ => Ok(()),
        }
    }
}

impl dunning::Guest for Hostile {
    fn decide(facts: dunning::InvoiceFacts) -> dunning::DunningDecision {
        let mode = mode_for(&facts.invoice_id);
        attack(mode);
        match mode {
            Mode::HugeOutput => dunning::DunningDecision {
                stage: huge(1 << 20),
                tier: 1,
                actions: (0..10_000).map(|_| dunning::Action { channel: Channel::Sms, template: "t".into() }).collect(),
                legal_demand: false,
            },
            Mode::OutOfRange => {
                dunning::DunningDecision { stage: String::new(), tier: 9999, actions: vec![], legal_demand: true }
            }
            _ => dunning::DunningDecision { stage: "none".into(), tier: 0, actions: vec![], legal_demand: false },
        }
    }

    fn assess_late_fee(facts: dunning::InvoiceFacts) -> dunning::LateFee {
        let mode = mode_for(&facts.invoice_id);
        attack(mode);
        let currency = facts.amount_outstanding.currency.clone();
        match mode {
            Mode::HugeOutput => {
                dunning::LateFee { amount: Money { minor: 0, currency }, rule: None, explanation: huge(1 << 20) }
            }
            Mode::OutOfRange => dunning::LateFee {
                amount: Money { minor: -100, currency },
                rule: None,
                explanation: "a negative late fee".into(),
            },
            _ => dunning::LateFee {
                amount: Money { minor: 0, currency },
                rule: None,
                // The words the host gives the batch's no-rule answer: single and batch agree.
                explanation: "No late fee is charged under these rules.".into(),
            },
        }
    }

    /// The compact batch: the same attacks item by item (`when` matches the invoice's *category* here: the
    /// batch carries no ids), plus `bad-index` (item i: i % 4 = 0 a decision index out of range, 1 a late-fee
    /// rule index out of range, 2 a text index out of range, 3 a fee with an outcome that charges nothing).
    fn assess_batch(batch: dunning::InvoiceBatch) -> dunning::BatchAssessment {
        use dunning::{BatchItem, BatchLateFee, FeeCaps, FeeOutcome, FeeWording};
        let mut out = dunning::BatchAssessment {
            strings: vec!["hostile text".into()],
            decisions: vec![dunning::DunningDecision {
                stage: "none".into(),
                tier: 0,
                actions: vec![],
                legal_demand: false,
            }],
            fee_rules: vec![],
            items: Vec::with_capacity(batch.category.len()),
        };
        let ok_fee = BatchLateFee {
            amount: 0,
            rule: None,
            outcome: FeeOutcome::NoRule,
            days_charged: 0,
            caps: FeeCaps::empty(),
            wording: FeeWording::Standard,
        };
        for (i, &category) in batch.category.iter().enumerate() {
            let category = batch.strings.get(category as usize).map_or("", String::as_str);
            let mode = mode_for(category);
            attack(mode);
            let item = match mode {
                Mode::HugeOutput => {
                    out.decisions.push(dunning::DunningDecision {
                        stage: huge(1 << 20),
                        tier: 1,
                        actions: (0..10_000)
                            .map(|_| dunning::Action { channel: Channel::Sms, template: "t".into() })
                            .collect(),
                        legal_demand: false,
                    });
                    out.strings.push(huge(1 << 20));
                    BatchItem {
                        decision: out.decisions.len() as u32 - 1,
                        late_fee: BatchLateFee { wording: FeeWording::OwnText(out.strings.len() as u32 - 1), ..ok_fee },
                    }
                }
                Mode::OutOfRange => {
                    out.decisions.push(dunning::DunningDecision {
                        stage: String::new(),
                        tier: 9999,
                        actions: vec![],
                        legal_demand: true,
                    });
                    BatchItem {
                        decision: out.decisions.len() as u32 - 1,
                        late_fee: BatchLateFee { amount: -100, wording: FeeWording::OwnText(0), ..ok_fee },
                    }
                }
                Mode::BadIndex => match i % 4 {
                    0 => BatchItem { decision: 99, late_fee: ok_fee },
                    1 => BatchItem { decision: 0, late_fee: BatchLateFee { rule: Some(99), ..ok_fee } },
                    2 => {
                        BatchItem { decision: 0, late_fee: BatchLateFee { wording: FeeWording::OwnText(99), ..ok_fee } }
                    }
                    _ => BatchItem {
                        decision: 0,
                        late_fee: BatchLateFee { amount: 100, outcome: FeeOutcome::NotOverdue, ..ok_fee },
                    },
                },
                _ => BatchItem { decision: 0, late_fee: ok_fee },
            };
            out.items.push(item);
        }
        if wrong_length() {
            out.items.pop();
        }
        out
    }
}

/// Whether the batch functions must answer the wrong number of elements.
fn wrong_length() -> bool {
    mode_is(Mode::WrongLength)
}

/// Whether the configured mode is `m` (whatever the `when` prefix).
fn mode_is(m: Mode) -> bool {
    STATE.lock().unwrap_or_else(|p| p.into_inner()).mode == m
}

impl sla::Guest for Hostile {
    fn decide(facts: sla::TicketFacts) -> sla::SlaDecision {
        let mode = mode_for(&facts.ticket_id);
        attack(mode);
        let ok = sla::SlaDecision {
            response_minutes: 60,
            resolution_minutes: 240,
            calendar: sla::Calendar::Always,
            pause_statuses: vec![],
            warn_at_ppm: vec![500_000, 800_000],
            escalation: vec![],
        };
        match mode {
            Mode::HugeOutput => sla::SlaDecision { pause_statuses: vec![huge(1024); 256], ..ok },
            Mode::OutOfRange => sla::SlaDecision { response_minutes: 0, resolution_minutes: 0, ..ok },
            _ => ok,
        }
    }

    /// The batch carries no ticket ids: `when` matches the ticket's *building* here; every ticket gets its own
    /// decision (item i = decision i), except in `bad-index`, where odd tickets get decision index 99.
    fn decide_batch(batch: sla::TicketBatch) -> sla::SlaBatch {
        let text = |i: u32| batch.strings.get(i as usize).cloned().unwrap_or_default();
        let decisions: Vec<sla::SlaDecision> = (0..batch.device_type.len())
            .map(|i| {
                <Hostile as sla::Guest>::decide(sla::TicketFacts {
                    ticket_id: text(batch.building[i]),
                    device_type: text(batch.device_type[i]),
                    priority: batch.priority[i],
                    building_id: text(batch.building[i]),
                    reported_minute_of_day: batch.reported_minute_of_day[i],
                    reported_weekday: batch.reported_weekday[i],
                })
            })
            .collect();
        let bad_index = mode_is(Mode::BadIndex);
        // bad-index: every odd ticket points past the decisions.
        let mut items: Vec<u32> =
            (0..decisions.len() as u32).map(|i| if bad_index && i % 2 == 1 { 99 } else { i }).collect();
        if wrong_length()
            && let Some(last) = items.last().copied()
        {
            items.push(last);
        }
        sla::SlaBatch { decisions, items }
    }
}

impl credit::Guest for Hostile {
    fn decide(facts: credit::ApplicantFacts) -> credit::CreditDecision {
        let id = if facts.monthly_rent.currency == "XXX" { "boom" } else { "" };
        let mode = mode_for(id);
        attack(mode);
        match mode {
            Mode::HugeOutput => credit::CreditDecision {
                verdict: credit::Verdict::Accept,
                deposit_months_ppm: 1_000_000,
                reason: huge(1 << 20),
            },
            Mode::OutOfRange => credit::CreditDecision {
                verdict: credit::Verdict::Accept,
                deposit_months_ppm: 1_000_000_000,
                reason: "a thousand months of deposit".into(),
            },
            _ => credit::CreditDecision {
                verdict: credit::Verdict::Accept,
                deposit_months_ppm: 1_000_000,
                reason: "hostile plugin in well-behaved mode".into(),
            },
        }
    }
}

// Exported only on wasm32: a native cdylib cannot carry export names such as
// `rentops:rules/credit@1.0.0#decide` (the linker's version script rejects them).
#[cfg(target_arch = "wasm32")]
export!(Hostile);
