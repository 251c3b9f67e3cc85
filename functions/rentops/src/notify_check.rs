//! `rentops notify check`: verify one captured notification offline — the
//! command an operator runs when a provider says our webhook rejected it.
//! Needs no backend: provider, headers, raw body and key material only.

use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use rentops_codecs::{Incoming, Notification, ProviderConfig};
use rentops_domain::Provider;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// alipay, wechatpay, unionpay or stripe.
    #[arg(long)]
    pub provider: String,
    /// File with the raw body exactly as received.
    #[arg(long)]
    pub body: PathBuf,
    /// File with the request headers, one `Name: value` per line.
    #[arg(long)]
    pub headers: Option<PathBuf>,
    /// The raw query string of the request URL, if it had one.
    #[arg(long)]
    pub query: Option<String>,
    /// The client's provider configuration (the JSON kept in the secret
    /// `rentops/<client>/providers`): keys and certificates.
    #[arg(long)]
    pub config: PathBuf,
    /// Verify as of this time (RFC 3339 or unix seconds) instead of now —
    /// for timestamps of captured WeChat Pay / Stripe notifications.
    #[arg(long)]
    pub at: Option<String>,
}

/// Parse `Name: value` lines (blank lines and `#` comments ignored).
pub fn parse_headers(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once(':').with_context(|| format!("headers line {}: expected `Name: value`", n + 1))?;
        out.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(out)
}

pub fn parse_time(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(secs) = s.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0).context("--at: unix seconds out of range");
    }
    Ok(DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("--at {s:?}: expected RFC 3339 or unix seconds"))?
        .to_utc())
}

/// Returns the process exit code: 0 genuine, 2 rejected.
pub fn run(args: &CheckArgs) -> anyhow::Result<i32> {
    let Some(provider) = Provider::parse(&args.provider).filter(|p| *p != Provider::Bank) else {
        bail!("--provider {:?}: expected alipay, wechatpay, unionpay or stripe", args.provider);
    };
    let body = std::fs::read(&args.body).with_context(|| format!("reading body file {}", args.body.display()))?;
    let headers = match &args.headers {
        Some(p) => parse_headers(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)?,
        None => Vec::new(),
    };
    let config_text =
        std::fs::read_to_string(&args.config).with_context(|| format!("reading config {}", args.config.display()))?;
    if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(&config_text) {
        if m.keys().any(|k| k.starts_with("rentops/")) {
            bail!(
                "{} is a secrets file (name → secret); pass one client's provider configuration, \
                 i.e. the value of rentops/<client>/providers, as its own JSON file",
                args.config.display()
            );
        }
    }
    let (config, problems) = ProviderConfig::from_json_lenient(config_text.as_bytes()).map_err(|e| {
        anyhow::anyhow!("{}: not a provider configuration (ProviderConfig JSON): {e}", args.config.display())
    })?;
    for (section, problem) in problems {
        eprintln!("warning: section {section:?} of {} is unusable: {problem}", args.config.display());
    }
    let now = match &args.at {
        Some(t) => parse_time(t)?,
        None => Utc::now(),
    };
    let incoming = Incoming { headers: &headers, body: &body, query: args.query.as_deref() };
    let (out, code) = match rentops_codecs::verify_with_config(provider, &config, &incoming, now) {
        Ok(Notification::Money(event)) => (
            json!({"verdict": "genuine", "provider": provider, "checked_at": now, "dedup_key": event.dedup_key(), "payment": event}),
            0,
        ),
        Ok(Notification::Ignored { reason, provider_txn_id, notification_id }) => (
            json!({"verdict": "genuine", "provider": provider, "checked_at": now, "books_nothing": reason,
                   "provider_txn_id": provider_txn_id, "notification_id": notification_id}),
            0,
        ),
        Err(r) => (
            json!({"verdict": "rejected", "provider": provider, "checked_at": now, "code": r.code(), "reason": r.to_string(),
                   "our_configuration_problem": r.is_our_fault()}),
            2,
        ),
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_files_parse_like_captures() {
        let h = parse_headers("# captured\nWechatpay-Serial: ABC\r\nWechatpay-Nonce:  n1 \n\n").unwrap();
        assert_eq!(h, vec![("Wechatpay-Serial".into(), "ABC".into()), ("Wechatpay-Nonce".into(), "n1".into())]);
        assert!(parse_headers("no colon here").is_err());
    }

    #[test]
    fn times_parse_as_unix_or_rfc3339() {
        assert_eq!(parse_time("1624523846").unwrap().timestamp(), 1624523846);
        assert_eq!(parse_time("2021-06-24T16:37:26+08:00").unwrap().timestamp(), 1624523846);
        assert!(parse_time("yesterday").is_err());
    }
}
