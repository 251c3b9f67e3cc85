//! [`write_all`]: (re)writes the shipped sample directory (`sample/` at the repository root;
//! `rentops sample generate` calls it).

use std::io;
use std::path::Path;

use crate::month::build;
use crate::{SampleSpec, expected, portfolio, secrets_file, statements};

/// Writes into `dir` (the sample directory itself, e.g. `<repo>/sample`):
/// `portfolio.json`, `secrets.json`, `notifications-<YYYY-MM>.jsonl`, `statements/*.xml|*.csv`,
/// `expected.json` and `README.md`. Same spec → byte-identical files. Every file is written to
/// a temporary name and renamed, so a reader never sees half a file. Old `statements/*.xml|csv`
/// are removed first (a different spec month would otherwise leave stale ones).
pub fn write_all(dir: &Path, spec: &SampleSpec) -> io::Result<()> {
    let spec = spec.normalized();
    let p = portfolio(&spec);
    let built = build(&p, &spec);
    let notes = &built.notes;
    let exp = expected(&p, &spec, notes);
    let stmts = statements::render(&built.transfers, &spec);

    std::fs::create_dir_all(dir.join("statements"))?;
    for entry in std::fs::read_dir(dir.join("statements"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "xml" || e == "csv") {
            std::fs::remove_file(&path)?;
        }
    }
    write(dir, "portfolio.json", &pretty(&p)?)?;
    write(dir, "secrets.json", &pretty(&secrets_file(&p))?)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("secrets.json"), std::fs::Permissions::from_mode(0o600))?;
    }
    let mut jsonl = Vec::new();
    for n in notes {
        jsonl.extend(serde_json::to_vec(n).map_err(io::Error::other)?);
        jsonl.push(b'\n');
    }
    let notes_name = notifications_file_name(&spec);
    write(dir, &notes_name, &jsonl)?;
    for (_, name, bytes) in &stmts {
        write(&dir.join("statements"), name, bytes)?;
    }
    write(dir, "expected.json", &pretty(&exp)?)?;
    write(dir, "maintenance.json", &pretty(&maintenance_file(&p))?)?;
    let notes_by_kind = {
        let mut m = std::collections::BTreeMap::<&str, usize>::new();
        for t in &built.transfers {
            *m.entry(t.note).or_default() += 1;
        }
        m.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
    };
    let readme =
        readme(&spec, &notes_name, &stmts.iter().map(|s| s.1.clone()).collect::<Vec<_>>(), notes.len(), &notes_by_kind);
    write(dir, "README.md", readme.as_bytes())?;
    Ok(())
}

/// The maintenance setup of the main client (`rentops load` reads `maintenance.json` next to the portfolio).
pub fn maintenance_file(p: &rentops_app::portfolio::PortfolioFile) -> rentops_app::tickets::setup::MaintenanceFile {
    rentops_app::tickets::setup::MaintenanceFile {
        clients: p
            .clients
            .iter()
            .filter(|c| c.client.id == crate::MAIN_CLIENT)
            .map(crate::tickets::maintenance)
            .collect(),
    }
}

/// `notifications-<YYYY-MM>.jsonl`.
pub fn notifications_file_name(spec: &SampleSpec) -> String {
    format!("notifications-{}.jsonl", spec.month_key())
}

fn pretty<T: serde::Serialize>(v: &T) -> io::Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v).map_err(io::Error::other)?;
    out.push(b'\n');
    Ok(out)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

fn readme(spec: &SampleSpec, notes_name: &str, statement_files: &[String], notes: usize, transfers: &str) -> String {
    let statements = statement_files.iter().map(|f| format!("- `statements/{f}`\n")).collect::<String>();
    format!(
        r#"# Sample data (generated — do not edit by hand)

Everything here is generated deterministically by the `rentops-sample` crate
(`shared/sample`) from seed {seed}: {projects} projects, {buildings} buildings,
{units} units and {leases} leases for `acme-properties`, 20 leases for
`lotus-parking`, demo month {month}. All names, accounts and ids are
placeholders.

**All keys are TEST keys** from `shared/codecs/testdata/pki` (throw-away, committed
on purpose). Never configure them for a real client.

| file | what |
|---|---|
| `portfolio.json` | `rentops_app::portfolio::PortfolioFile`: clients → projects → buildings → units, tenants (with payer accounts), leases with billing rules. Billing settings: bills go out {ahead} days before they are due and `billing_from` is {from}, so the bill run on {first} 00:30 Asia/Shanghai issues exactly the bills due in {month}. |
| `secrets.json` | the embedded backend's `FileSecrets` file: `rentops/<client>/providers` = the `ProviderConfig` JSON (TEST keys; `lotus-parking` has only Stripe and WeChat Pay). The secrets port wants mode 0600: `chmod 600` it after a checkout (git does not keep the mode). |
| `{notes_name}` | {notes} HTTP deliveries, one JSON object per line, in delivery order: `seq`, `at` (set the clock to it), `client`, `provider`, `path`, `query`, `headers`, `body` (base64 of the exact bytes), `label`, `expect_status`, `expect_event` / `expect_rejection`. Signed exactly as each provider signs: Alipay RSA2 form (some GBK), WeChat Pay v3 (AES-256-GCM resource, platform certificate or public-key id), UnionPay 5.1.0 with its certificate, Stripe `Stripe-Signature`. Labels: payment, duplicate (a provider retry), trade-finished, refund, not-paid (WAIT_BUYER_PAY), unknown-order, wrong-amount, forged, probe, stale-replay. |
| `statements/` | bank statements of `acme-properties` to import after the notifications (transfers: {transfers}). |
| `expected.json` | what the ledger must show afterwards, per client: receivable, received (payments − refunds), received on invoices, credit, collection rate, by project, suspense items by reason, suggestions, rejected deliveries by code. |
| `maintenance.json` | `rentops_app::tickets::setup::MaintenanceFile` of `acme-properties`: building coordinates, technicians (skills, base, weekly shift, load cap, on call) and a ticket history (Oct–Nov 2026) in which barrier gate `PK-GATE-01` goes offline on weekday mornings 09:00–10:30; `rentops load` reads it next to `portfolio.json`, `rentops tickets analyze --client acme-properties` finds the cluster. |

{statements}
Regenerate (byte-identical for the same seed):

```sh
cargo run -p rentops -- sample generate
```
"#,
        seed = spec.seed,
        projects = spec.projects,
        buildings = spec.buildings,
        units = spec.units,
        leases = spec.leases,
        month = spec.month_key(),
        ahead = spec.bill_days_ahead(),
        from = spec.billing_from(),
        first = spec.first_day(),
    )
}
