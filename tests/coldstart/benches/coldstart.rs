//! Cold start of a function that uses a rule plugin vs the hello-world `lambda_runtime` function, and the
//! binary sizes (issue 3, proof). Prints figures; `harness = false`.
//!
//! ```text
//! scripts/build-plugins.sh                                  # $CARGO_TARGET_DIR/plugins/default.wasm
//! cargo bench -p rentops-coldstart --bench coldstart        # COLDSTART_RUNS=30 by default
//! ```
//!
//! What it does:
//! 1. precompiles the default plugin component (as `rentops plugin deploy` does) into a `.cwasm` file;
//! 2. builds `rules-probe` and `hello-lambda` with `cargo build --release` in a separate cargo invocation
//!    (no feature unification with this crate's `compile`: the probe links the runtime-only host), checks
//!    the probe binary contains no Cranelift, strips copies of both (`strip`) and prints their sizes;
//! 3. runs a fake Lambda Runtime API on localhost and, N times in rotating order (after 2 warm-up runs
//!    each), spawns hello-lambda, rules-probe, and — to split the difference, not for the goal —
//!    rules-probe given a file that is not an artifact (same binary, wasmtime engine and pooling allocator
//!    set up, no plugin loaded, answers from the native fallback), each with the Lambda environment
//!    (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, `_MEMORY_SIZE`, `_VERSION`, log group/stream,
//!    JSON logs; no `RUST_BACKTRACE`, as on Lambda) and measures process spawn → invocation response
//!    received;
//! 4. checks every answer: hello echoes the event; the probe's dunning decision and late fee equal the
//!    native `rentops-rules` evaluation for the same facts, and both came from the plugin (from the
//!    fallback for the no-plugin variant);
//! 5. prints p50/p90 of each, the ratio probe/hello (the goal, ≤ 1.3×), the split of the difference
//!    (binary + engine vs the plugin load) and the probe's own log of its first decision (runtime +
//!    artifact load, first decision, main → decision).
//!
//! Not measured: Lambda's own sandbox/VM start and fetching the code package (the same for both
//! functions), a cold page cache (binaries and the `.cwasm` are in the page cache after the warm-ups).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rentops_coldstart::{FakeRuntimeApi, Outcome, ms, percentile};
use rentops_rules::{InvoiceFacts, Money, RulesTable, TenantHistory, evaluate};
use rules_probe::{ProbeEvent, ProbeResponse, Source};

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("coldstart: {msg}");
    std::process::exit(1);
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or_else(|e| fail(format!("{}: {e}", p.display())))
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB ({bytes} bytes)", bytes as f64 / (1024.0 * 1024.0))
}

fn facts() -> InvoiceFacts {
    // 10 days overdue, CNY 8,000.00 outstanding: tier "8–15 days" (phone task) and a late fee.
    InvoiceFacts {
        invoice_id: "inv-2026-03-0042".into(),
        lease_id: "lease-17".into(),
        days_since_issue: 40,
        days_after_due: 10,
        amount_due: Money::new(800_000, "CNY"),
        amount_outstanding: Money::new(800_000, "CNY"),
        partial_payments: 0,
        prior_stages: vec![],
        history: TenantHistory { late_invoices_12m: 1, max_days_late_12m: 6, tenure_months: 20 },
        category: "office".into(),
    }
}

struct Run {
    elapsed: Duration,
    body: Vec<u8>,
    stdout: String,
}

fn run_once(api: &mut FakeRuntimeApi, bin: &Path, event: &[u8], artifact: &Path, name: &str) -> Run {
    let (request_id, rx) = api.arm(event);
    let mut cmd = Command::new(bin);
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LOG")
        .env("AWS_LAMBDA_RUNTIME_API", api.addr())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/03/01/[$LATEST]coldstart")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "eu-west-1")
        .env("RULES_ARTIFACT", artifact)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| fail(format!("{}: {e}", bin.display())));
    let outcome = rx.recv_timeout(Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    match outcome {
        Ok(Outcome::Response { at, body }) => Run { elapsed: at - start, body, stdout },
        Ok(Outcome::Error { path, body }) => fail(format!(
            "{name} ({request_id}) reported an error at {path}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            String::from_utf8_lossy(&body)
        )),
        Err(_) => fail(format!("{name} ({request_id}) sent no response in 20 s\nstdout:\n{stdout}\nstderr:\n{stderr}")),
    }
}

/// The probe's `"first decision"` JSON log line.
struct FirstDecision {
    init: Duration,
    first: Duration,
    main_to: Duration,
}

fn first_decision(stdout: &str) -> FirstDecision {
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let f = &v["fields"];
        if f["message"] == "first decision" {
            let get = |k: &str| {
                Duration::from_micros(
                    f[k].as_u64().unwrap_or_else(|| fail(format!("first decision log without {k}: {line}"))),
                )
            };
            return FirstDecision {
                init: get("init_us"),
                first: get("first_decision_us"),
                main_to: get("main_to_decision_us"),
            };
        }
    }
    fail(format!("rules-probe logged no \"first decision\" line:\n{stdout}"))
}

/// Timings of one probe variant.
#[derive(Default)]
struct ProbeRuns {
    total: Vec<Duration>,
    init: Vec<Duration>,
    first: Vec<Duration>,
    main_to: Vec<Duration>,
}

impl ProbeRuns {
    fn push(&mut self, r: &Run) {
        let d = first_decision(&r.stdout);
        self.total.push(r.elapsed);
        self.init.push(d.init);
        self.first.push(d.first);
        self.main_to.push(d.main_to);
    }
    fn sort(&mut self) {
        for v in [&mut self.total, &mut self.init, &mut self.first, &mut self.main_to] {
            v.sort();
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("COLDSTART_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let target = target_dir();
    let work = tempfile::tempdir().unwrap_or_else(|e| fail(format!("tempdir: {e}")));

    // ---- 1. the deploy step: precompile the default plugin
    let component_path = target.join("plugins/default.wasm");
    let component = std::fs::read(&component_path).unwrap_or_else(|e| {
        fail(format!("{}: {e}. Build the plugins first: scripts/build-plugins.sh", component_path.display()))
    });
    let t = Instant::now();
    let cwasm = rentops_plugin_host::precompile(&component).unwrap_or_else(|e| fail(format!("precompile: {e}")));
    let precompile_time = t.elapsed();
    let artifact = work.path().join("default.cwasm");
    std::fs::write(&artifact, &cwasm).unwrap_or_else(|e| fail(format!("{}: {e}", artifact.display())));

    // ---- 2. the function binaries (separate cargo invocation: runtime-only plugin host)
    println!("== building: cargo build --release -p rules-probe -p hello-lambda");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked", "--quiet", "-p", "rules-probe", "-p", "hello-lambda"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap_or_else(|e| fail(format!("cargo: {e}")));
    if !status.success() {
        fail("cargo build of rules-probe / hello-lambda failed");
    }
    let mut bins = Vec::new();
    for name in ["hello-lambda", "rules-probe"] {
        let built = target.join("release").join(name);
        let stripped = work.path().join(name);
        let ok = Command::new("strip")
            .arg("-o")
            .arg(&stripped)
            .arg(&built)
            .status()
            .unwrap_or_else(|e| fail(format!("strip (binutils) is needed to measure stripped sizes: {e}")));
        if !ok.success() {
            fail(format!("strip {} failed", built.display()));
        }
        bins.push((name, built, stripped));
    }
    let probe_bin = std::fs::read(&bins[1].1).unwrap_or_else(|e| fail(format!("{}: {e}", bins[1].1.display())));
    let needle = b"cranelift_codegen";
    if probe_bin.windows(needle.len()).any(|w| w == needle) {
        fail("rules-probe links Cranelift: it was built with rentops-plugin-host/compile (feature unification?)");
    }

    println!("== sizes (release profile; stripped = `strip` of the release binary)");
    for (name, built, stripped) in &bins {
        println!("{name:<13} stripped {}   unstripped {}", mib(size(stripped)), mib(size(built)));
    }
    let (h, p) = (size(&bins[0].2), size(&bins[1].2));
    println!("rules-probe - hello-lambda (stripped): +{}", mib(p.saturating_sub(h)));
    println!(
        "default plugin: component {} KiB, precompiled artifact (.cwasm) {} KiB (precompile took {})",
        component.len() / 1024,
        cwasm.len() / 1024,
        ms(precompile_time)
    );

    // ---- 3./4. cold starts
    let invoice = facts();
    let event = serde_json::to_vec(&ProbeEvent { client: "client-a".into(), invoice: invoice.clone() })
        .unwrap_or_else(|e| fail(format!("event json: {e}")));
    let table = RulesTable::product_default();
    let want_dunning = evaluate::dunning(&table, &invoice);
    let want_fee = evaluate::late_fee(&table, &invoice);
    let mut api = FakeRuntimeApi::start().unwrap_or_else(|e| fail(format!("fake runtime api: {e}")));

    let check_hello = |r: &Run| {
        let got: serde_json::Value =
            serde_json::from_slice(&r.body).unwrap_or_else(|e| fail(format!("hello-lambda answered non-JSON: {e}")));
        let sent: serde_json::Value = serde_json::from_slice(&event).unwrap_or_else(|e| fail(e));
        if got != sent {
            fail(format!("hello-lambda did not echo the event: {got}"));
        }
    };
    let check_probe = |r: &Run| {
        let got: ProbeResponse = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
            fail(format!("rules-probe answer is not a ProbeResponse: {e}: {}", String::from_utf8_lossy(&r.body)))
        });
        if got.dunning != want_dunning || got.late_fee != want_fee {
            fail(format!(
                "rules-probe decision differs from the native rules:\n got {:?} {:?}\nwant {:?} {:?}",
                got.dunning, got.late_fee, want_dunning, want_fee
            ));
        }
        for s in [&got.dunning_source, &got.late_fee_source] {
            if !matches!(s, Source::Plugin { .. }) {
                fail(format!("rules-probe decision did not come from the plugin: {s:?}"));
            }
        }
        got
    };

    let (hello, probe) = (&bins[0].2, &bins[1].2);
    // Same binary, but nothing to load: splits the difference into "bigger binary + wasmtime engine" and
    // "the plugin load". Its answer must come from the fallback (native rules), and equal them.
    let not_an_artifact = work.path().join("not-an-artifact.cwasm");
    std::fs::write(&not_an_artifact, b"not a plugin").unwrap_or_else(|e| fail(e));
    let check_no_plugin = |r: &Run| {
        let got: ProbeResponse = serde_json::from_slice(&r.body).unwrap_or_else(|e| fail(e));
        if got.dunning != want_dunning || got.late_fee != want_fee || got.plugin.is_some() {
            fail(format!(
                "rules-probe without a plugin answered {:?} {:?} {:?}",
                got.dunning, got.late_fee, got.plugin
            ));
        }
        if !matches!(got.dunning_source, Source::Fallback { .. }) {
            fail(format!("rules-probe without a plugin: source {:?}", got.dunning_source));
        }
    };
    for _ in 0..2 {
        check_hello(&run_once(&mut api, hello, &event, &artifact, "hello-lambda"));
        check_probe(&run_once(&mut api, probe, &event, &artifact, "rules-probe"));
        check_no_plugin(&run_once(&mut api, probe, &event, &not_an_artifact, "rules-probe"));
    }
    let load_before = load_avg();
    let mut th = Vec::new();
    let (mut plugin, mut no_plugin) = (ProbeRuns::default(), ProbeRuns::default());
    let mut sample = None;
    for i in 0..runs {
        // rotate which goes first, so drift in machine load hits all three alike
        for k in 0..3 {
            match (i + k) % 3 {
                0 => {
                    let r = run_once(&mut api, hello, &event, &artifact, "hello-lambda");
                    check_hello(&r);
                    th.push(r.elapsed);
                }
                1 => {
                    let r = run_once(&mut api, probe, &event, &artifact, "rules-probe");
                    sample = Some(check_probe(&r));
                    plugin.push(&r);
                }
                _ => {
                    let r = run_once(&mut api, probe, &event, &not_an_artifact, "rules-probe");
                    check_no_plugin(&r);
                    no_plugin.push(&r);
                }
            }
        }
    }
    let load_after = load_avg();
    th.sort();
    plugin.sort();
    no_plugin.sort();
    let d = sample.unwrap_or_else(|| fail("no runs (COLDSTART_RUNS=0?)"));
    let p = |v: &[Duration], q: f64| ms(percentile(v, q));
    let p50 = |v: &[Duration]| percentile(v, 0.5);
    println!("== cold start: process spawn -> invocation response received ({runs} runs each, rotating order)");
    println!("load average before {load_before}, after {load_after} ({} cores)", num_cpus());
    println!("hello-lambda                  : p50 {}  p90 {}  min {}", p(&th, 0.5), p(&th, 0.9), ms(th[0]));
    let t = &plugin.total;
    println!("rules-probe                   : p50 {}  p90 {}  min {}", p(t, 0.5), p(t, 0.9), ms(t[0]));
    let ratio = |q: f64| percentile(t, q).as_secs_f64() / percentile(&th, q).as_secs_f64();
    println!("ratio rules-probe/hello: p50 {:.2}x  p90 {:.2}x  (goal <= 1.3x)", ratio(0.5), ratio(0.9));
    let n = &no_plugin.total;
    println!(
        "rules-probe, no plugin loaded : p50 {}  p90 {}  min {}  (for the split below only)",
        p(n, 0.5),
        p(n, 0.9),
        ms(n[0])
    );
    println!(
        "split of the p50 difference +{}: binary + engine (no-plugin - hello) +{}, plugin load not hidden (probe - no-plugin) +{}",
        ms(p50(t).saturating_sub(p50(&th))),
        ms(p50(n).saturating_sub(p50(&th))),
        ms(p50(t).saturating_sub(p50(n)))
    );
    for (name, v) in [("with the plugin", &plugin), ("no plugin loaded", &no_plugin)] {
        println!("== inside rules-probe, {name} (its \"first decision\" log line), p50 / p90");
        println!("runtime + load artifact (init_us): {} / {}", p(&v.init, 0.5), p(&v.init, 0.9));
        println!(
            "first decision (session, instantiate, init, dunning + late fee): {} / {}",
            p(&v.first, 0.5),
            p(&v.first, 0.9)
        );
        println!("main() -> first decision         : {} / {}", p(&v.main_to, 0.5), p(&v.main_to, 0.9));
    }
    println!(
        "decision checked against native rentops-rules: stage {} tier {} legal_demand {} late fee {} {} (plugin {} {})",
        d.dunning.stage,
        d.dunning.tier,
        d.dunning.legal_demand,
        d.late_fee.amount.minor,
        d.late_fee.amount.currency,
        d.plugin.as_ref().map(|p| p.name.as_str()).unwrap_or("-"),
        d.plugin.as_ref().map(|p| p.version.as_str()).unwrap_or("-"),
    );
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
