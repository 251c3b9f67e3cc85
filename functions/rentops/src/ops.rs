//! Operator commands over a local data directory (the embedded backend).
//! Each prints what a finance clerk or an on-call engineer needs, in words.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rentops_app::ctx::{Ports, queues};
use rentops_app::poster;
use rentops_app::reports;
use rentops_app::webhook::{PaymentEventMessage, RawEnvelope, WebhookService};
use rentops_domain::matching::{SuspenseItem, SuspenseStatus};
use rentops_ports::ClientId;

/// The suspense list as a table a finance clerk reads.
/// Times are shown in the client's own time zone.
pub fn format_suspense(items: &[SuspenseItem], tz: chrono_tz::Tz) -> String {
    let mut out = String::new();
    let open: Vec<_> = items.iter().filter(|i| matches!(i.status, SuspenseStatus::Open)).collect();
    let total: rust_decimal::Decimal = open.iter().map(|i| i.amount.amount).sum();
    let cur = open.first().map(|i| i.amount.currency.to_string()).unwrap_or_else(|| "CNY".into());
    let _ = writeln!(
        out,
        "Suspense: {} open item(s), {cur} {:.2} waiting for a person (times in {})",
        open.len(),
        total,
        tz.name()
    );
    for i in &open {
        let _ = writeln!(
            out,
            "  {}  {:<9} {:<8} {:>14}  {}",
            i.received_at.with_timezone(&tz).format("%Y-%m-%d %H:%M"),
            i.provider.as_str(),
            i.kind.as_str(),
            i.amount.grouped(),
            i.provider_txn_id
        );
        let _ = writeln!(out, "      why: {}", i.reason);
        if let Some(r) = &i.remittance {
            let _ = writeln!(out, "      payer wrote: {r}");
        }
        if let Some(s) = &i.suggestion {
            let _ = writeln!(
                out,
                "      suggestion (not applied): {} — {}",
                s.invoice.as_ref().map_or_else(|| s.lease.to_string(), |v| v.to_string()),
                s.why
            );
        }
    }
    out
}

/// Rejected notifications grouped by reason code, with the latest example of each.
pub async fn format_rejected(ports: &Ports, client: &ClientId) -> anyhow::Result<String> {
    let rej = reports::rejected(ports, client).await?;
    let mut by_code: std::collections::BTreeMap<&str, Vec<_>> = Default::default();
    for r in &rej {
        by_code.entry(r.code.as_str()).or_default().push(r);
    }
    let mut out = String::new();
    let _ = writeln!(out, "Rejected notifications: {} (nothing was booked for them)", rej.len());
    for (code, rs) in by_code {
        let last = rs.last().expect("non-empty group");
        let _ = writeln!(
            out,
            "  {code:<16} x{:<3} last {} from {} via {}: {}",
            rs.len(),
            last.at.format("%Y-%m-%d %H:%M"),
            last.source_ip.as_deref().unwrap_or("-"),
            last.provider,
            last.reason
        );
        if let Some(k) = &last.raw_key {
            let _ = writeln!(out, "      kept as {k}");
        }
    }
    Ok(out)
}

/// The queues with a dead-letter queue that `rentops dlq` handles.
pub const DLQ_QUEUES: &[&str] = &[queues::PAYMENT_EVENTS, queues::NOTICES, queues::DUNNING_WORK];

/// `rentops dlq list`: each dead-lettered message of `queue`, why it failed, and how to replay it.
pub async fn dlq_list(ports: &Ports, data: &Path, queue: &str) -> anyhow::Result<String> {
    anyhow::ensure!(DLQ_QUEUES.contains(&queue), "queue {queue:?}: expected one of {}", DLQ_QUEUES.join(", "));
    let dlq = format!("{queue}-dlq");
    let mut out = String::new();
    let msgs = ports.queue.receive(&dlq, 10, Duration::from_secs(1)).await?;
    let depth = ports.queue.depth(&dlq).await? + msgs.len() as u64;
    let _ = writeln!(out, "{dlq}: {depth} message(s)");
    for m in &msgs {
        let what = if queue == queues::PAYMENT_EVENTS {
            match serde_json::from_str::<PaymentEventMessage>(&m.body) {
                Ok(p) => format!("client {} event {} {}", p.client, p.event.dedup_key(), p.event.amount.grouped()),
                Err(_) => format!("unreadable body ({} bytes)", m.body.len()),
            }
        } else {
            format!("{:.200}", m.body)
        };
        let why = match poster::failure(ports, queue, &m.id).await? {
            Some(f) => format!("{} (after {} tries, {})", f.error, f.receive_count, f.at.format("%Y-%m-%d %H:%M:%S")),
            None => "no failure recorded".into(),
        };
        let _ = writeln!(out, "  message {}: {what}\n      failed: {why}", m.id);
        // Make it visible again right away for the next look.
        let _ = ports.queue.change_visibility(&dlq, &m.receipt, Duration::ZERO).await;
    }
    if depth > 0 {
        let _ = writeln!(
            out,
            "replay all once the cause is fixed: rentops dlq redrive --queue {queue} --data {}",
            data.display()
        );
    }
    Ok(out)
}

pub async fn dlq_redrive(ports: &Ports, queue: &str) -> anyhow::Result<u32> {
    anyhow::ensure!(DLQ_QUEUES.contains(&queue), "queue {queue:?}: expected one of {}", DLQ_QUEUES.join(", "));
    Ok(ports.queue.redrive(queue, 1000).await?)
}

/// `rentops notify replay`: verify a kept notification again as of its arrival and record it.
/// Returns whether the provider would have been told "accepted", and a sentence.
pub async fn replay(ports: &Ports, key: &str) -> anyhow::Result<(bool, String)> {
    let bytes = ports.blob.get(key).await?.with_context(|| format!("no kept notification at {key}"))?;
    let env: RawEnvelope =
        serde_json::from_slice(&bytes).with_context(|| format!("{key} is not a kept notification envelope"))?;
    let svc = WebhookService::new(ports.clone());
    let resp = svc.replay(&env).await.map_err(anyhow::Error::msg)?;
    let ok = (200..300).contains(&resp.status) && resp.body_text() != "fail";
    let verdict = if ok { "accepted (recorded once; duplicates change nothing)" } else { "still rejected" };
    Ok((ok, format!("replayed {key}: {verdict}; provider reply would be {} {}", resp.status, resp.body_text())))
}

pub async fn summary_text(ports: &Ports, client: &ClientId, now: DateTime<Utc>) -> anyhow::Result<String> {
    let s = reports::collection_summary(ports, client, now).await?;
    Ok(s.to_string())
}
