//! Complement to `shared/plugin-host/benches/bench.rs` (which covers dunning + late fee): all four decision
//! kinds of the contract — dunning.decide, late fee, sla.decide, credit.decide — through the packaged default
//! plugin (the `.cwasm` a deploy produces) vs the same table evaluated natively, same facts, same run, with
//! the success path checked equal; decisions/s, ratio (goal ≥ 0.5) and per-call p50/p99 (instance reused).
//! Also where a cold load's time goes: artifact decode (BLAKE3 check; sha256 of the same payload, format 1's
//! check, for comparison), `Component::deserialize` (bytes, copied) vs `Component::deserialize_file` (mmap; and
//! writing the payload to a new file first, as a function with an empty /tmp would have to), and the host's
//! whole `load`.
//! Run without `RUST_BACKTRACE` as on Lambda (the success path creates no errors either way).
//!
//! ```text
//! scripts/build-plugins.sh
//! cargo bench -p rentops-coldstart --bench decisions
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rentops_coldstart::percentile;
use rentops_plugin_host::{ClientRules, Limits, MemorySink, PluginRuntime};
use rentops_rules::{
    ApplicantFacts, ApplicantKind, InvoiceFacts, Money, Priority, RulesTable, TenantHistory, TicketFacts, evaluate,
};

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("decisions: {msg}");
    std::process::exit(1);
}

fn target_dir() -> std::path::PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => d.into(),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

fn invoices(n: usize) -> Vec<InvoiceFacts> {
    (0..n)
        .map(|i| {
            let days = (i % 51) as i32 - 10;
            let outstanding = 100_000 + (i as i64 * 7919) % 900_000;
            InvoiceFacts {
                invoice_id: format!("inv-{i:05}"),
                lease_id: format!("lease-{}", i % 97),
                days_since_issue: 30 + days,
                days_after_due: days,
                amount_due: Money::new(outstanding, "CNY"),
                amount_outstanding: Money::new(outstanding, "CNY"),
                partial_payments: (i % 3) as u32,
                prior_stages: vec![],
                history: TenantHistory { late_invoices_12m: (i % 4) as u32, max_days_late_12m: 3, tenure_months: 18 },
                category: "office".into(),
            }
        })
        .collect()
}

fn tickets(n: usize) -> Vec<TicketFacts> {
    let devices = ["elevator", "lighting", "plumbing", "hvac", "fire-safety", "barrier-gate", "door", "electrical"];
    (0..n)
        .map(|i| TicketFacts {
            ticket_id: format!("t-{i:05}"),
            device_type: devices[i % devices.len()].into(),
            priority: Priority::ALL[i % 4],
            building_id: format!("b-{}", i % 7),
            reported_minute_of_day: ((i * 37) % 1440) as u32,
            reported_weekday: (i % 7) as u8 + 1,
        })
        .collect()
}

fn applicants(n: usize) -> Vec<ApplicantFacts> {
    (0..n)
        .map(|i| ApplicantFacts {
            kind: if i % 5 == 0 { ApplicantKind::Company } else { ApplicantKind::Person },
            credit_score: if i % 9 == 0 { None } else { Some(450 + (i as u32 * 13) % 400) },
            company_years: if i % 5 == 0 { Some((i % 12) as u32) } else { None },
            adverse_records: (i % 6 == 0) as u32,
            monthly_rent: Money::new(300_000 + (i as i64 % 10) * 50_000, "CNY"),
            rent_to_income_ppm: Some(200_000 + (i as u32 % 5) * 60_000),
        })
        .collect()
}

/// Runs `native` and `plugin` over `facts` `rounds` times; checks equal answers first; prints the figures.
fn compare<F, T: PartialEq + std::fmt::Debug>(
    name: &str,
    facts: &[F],
    rules: &mut ClientRules,
    native: impl Fn(&F) -> T,
    plugin: impl Fn(&mut ClientRules, &F) -> rentops_plugin_host::Decision<T>,
) {
    for f in facts {
        let d = plugin(rules, f);
        if d.is_fallback() {
            fail(format!("{name}: plugin fell back: {:?}", d.source));
        }
        if d.value != native(f) {
            fail(format!("{name}: plugin and native differ: {:?} vs {:?}", d.value, native(f)));
        }
    }
    let rounds = 20;
    let n = (rounds * facts.len()) as f64;
    let t = Instant::now();
    for _ in 0..rounds {
        for f in facts {
            black_box(native(black_box(f)));
        }
    }
    let native_t = t.elapsed();
    let t = Instant::now();
    for _ in 0..rounds {
        for f in facts {
            black_box(plugin(rules, black_box(f)));
        }
    }
    let plugin_t = t.elapsed();
    let mut lat = Vec::with_capacity(facts.len() * 5);
    for _ in 0..5 {
        for f in facts {
            let t = Instant::now();
            black_box(plugin(rules, f));
            lat.push(t.elapsed());
        }
    }
    lat.sort();
    let (nr, pr) = (n / native_t.as_secs_f64(), n / plugin_t.as_secs_f64());
    let us = |d: Duration| format!("{:.2} µs", d.as_secs_f64() * 1e6);
    println!(
        "{name:<15} native {nr:>10.0}/s  plugin {pr:>9.0}/s  ratio {:.3}  plugin p50 {} p99 {}  fuel {}",
        pr / nr,
        us(percentile(&lat, 0.5)),
        us(percentile(&lat, 0.99)),
        rules.last_fuel_used()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let path = target_dir().join("plugins/default.wasm");
    let component = std::fs::read(&path).unwrap_or_else(|e| {
        fail(format!("{}: {e}. Build the plugins first: scripts/build-plugins.sh", path.display()))
    });
    let cwasm = rentops_plugin_host::precompile(&component).unwrap_or_else(|e| fail(format!("precompile: {e}")));
    let rt = PluginRuntime::new(Limits::default(), Arc::new(MemorySink::default())).unwrap_or_else(|e| fail(e));
    let plugin = rt.load(&cwasm).unwrap_or_else(|e| fail(format!("load: {e}")));
    let mut rules = rt.session("bench", plugin);
    let table = RulesTable::product_default();
    let (inv, tik, app) = (invoices(1000), tickets(1000), applicants(1000));
    println!(
        "== all decision kinds, default plugin (.cwasm from {}) vs native rentops-rules, 1000 varied facts x 20",
        path.display()
    );
    println!("RUST_BACKTRACE={}", std::env::var("RUST_BACKTRACE").unwrap_or_else(|_| "(unset)".into()));
    compare("dunning.decide", &inv, &mut rules, |f| evaluate::dunning(&table, f), |r, f| r.dunning_decide(f));
    compare("late fee", &inv, &mut rules, |f| evaluate::late_fee(&table, f), |r, f| r.late_fee(f));
    compare("sla.decide", &tik, &mut rules, |f| evaluate::sla(&table, f), |r, f| r.sla_decide(f));
    compare("credit.decide", &app, &mut rules, |f| evaluate::credit(&table, f), |r, f| r.credit_decide(f));
    load_breakdown(&rt, &cwasm);
}

/// p50 of 30 runs of each step of a cold load.
fn load_breakdown(rt: &PluginRuntime, cwasm: &[u8]) {
    let payload = rentops_plugin_host::artifact::decode(cwasm).unwrap_or_else(|e| fail(e)).payload.to_vec();
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(e));
    let payload_path = dir.path().join("payload.cwasm");
    std::fs::write(&payload_path, &payload).unwrap_or_else(|e| fail(e));
    let time = |f: &dyn Fn()| {
        let mut v: Vec<Duration> = (0..30)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        v.sort();
        percentile(&v, 0.5)
    };
    let decode = time(&|| {
        black_box(rentops_plugin_host::artifact::decode(black_box(cwasm)).unwrap_or_else(|e| fail(e)));
    });
    // SAFETY (all three): the payload was produced by this process's own `precompile` for this engine's settings.
    let bytes = time(&|| {
        black_box(unsafe { wasmtime::component::Component::deserialize(rt.engine(), &payload) })
            .unwrap_or_else(|e| fail(e));
    });
    let file = time(&|| {
        black_box(unsafe { wasmtime::component::Component::deserialize_file(rt.engine(), &payload_path) })
            .unwrap_or_else(|e| fail(e));
    });
    let load = time(&|| {
        black_box(rt.load(cwasm)).unwrap_or_else(|e| fail(e));
    });
    // The route `deserialize_file` would need on Lambda (its /tmp starts empty): write the verified payload
    // to a fresh file, then map it. Measured to see whether it beats the copy `deserialize` makes.
    let tmp_path = dir.path().join("fresh.cwasm");
    let write_then_map = time(&|| {
        let _ = std::fs::remove_file(&tmp_path);
        std::fs::write(&tmp_path, &payload).unwrap_or_else(|e| fail(e));
        black_box(unsafe { wasmtime::component::Component::deserialize_file(rt.engine(), &tmp_path) })
            .unwrap_or_else(|e| fail(e));
    });
    let sha = time(&|| {
        black_box(rentops_plugin_host::artifact::sha256_hex(black_box(&payload)));
    });
    let us = |d: Duration| format!("{:.0} µs", d.as_secs_f64() * 1e6);
    println!("== cold load of the default plugin ({} KiB artifact), p50 of 30", cwasm.len() / 1024);
    println!("sha256 of the payload (format 1's check)  : {}", us(sha));
    println!("artifact::decode (BLAKE3 of the payload)  : {}", us(decode));
    println!("Component::deserialize (bytes, copied)    : {}", us(bytes));
    println!("Component::deserialize_file (mmap)        : {}", us(file));
    println!("write payload to a new file + deserialize_file: {}", us(write_then_map));
    println!("PluginRuntime::load (all of it)           : {}", us(load));
    println!(
        "  of which checks + trial instance (load - decode - deserialize bytes): {}",
        us(load.saturating_sub(decode + bytes))
    );
}
