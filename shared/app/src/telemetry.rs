//! Logging set-up shared by every binary: JSON when Lambda's log format says
//! so (`AWS_LAMBDA_LOG_FORMAT=JSON`) or `RENTOPS_LOG_JSON=1`; level from
//! `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_default("info")
}

/// Like [`init`], with another default level (the CLI's report commands use `warn`
/// so their output is not buried in per-message logs).
pub fn init_with_default(default_level: &str) {
    let level =
        std::env::var("AWS_LAMBDA_LOG_LEVEL").map(|l| l.to_lowercase()).unwrap_or_else(|_| default_level.into());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").map(|f| f.eq_ignore_ascii_case("json")).unwrap_or(false)
        || std::env::var("RENTOPS_LOG_JSON").is_ok_and(|v| v == "1");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if json {
        builder.json().with_current_span(true).without_time().try_init()
    } else {
        builder.with_writer(std::io::stderr).try_init()
    };
}
