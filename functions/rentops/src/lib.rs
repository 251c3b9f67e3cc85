//! The `rentops` operator CLI and local runner (library part, so the
//! end-to-end tests drive exactly what the binary runs).
//!
//! - [`runner`]: HTTP server + queue consumer: the whole system in one process.
//! - [`demo`]: the main job (`rentops demo`).
//! - [`notify_check`]: offline verification of a captured notification.
//! - [`ops`]: operator commands over a local data directory (summary,
//!   suspense, rejected, DLQ, replay, statement import, bill run).
//! - [`plugin_cmd`]: `rentops plugin ...`, the rule-plugin operator workflow.

pub mod contract_cmd;
pub mod demo;
pub mod dunning_cmd;
pub mod notify_check;
pub mod ops;
pub mod plugin_cmd;
pub mod runner;
pub mod tickets_cmd;

use std::path::Path;
use std::sync::Arc;

use rentops_app::Ports;
use rentops_embedded::{EmbeddedBackend, EmbeddedOptions};
use rentops_ports::Clock;

/// The local token issuer of a data directory: HS256 with a 32-byte secret
/// kept in `<dir>/auth-signing.key` (created on first use, mode 0600).
pub fn local_issuer(dir: &Path) -> anyhow::Result<rentops_app::auth::LocalIssuer> {
    use std::io::Write;
    let path = dir.join("auth-signing.key");
    if !path.exists() {
        std::fs::create_dir_all(dir)?;
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|e| anyhow::anyhow!("cannot generate a key: {e}"))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(&path) {
            Ok(mut f) => f.write_all(&key)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    let key = std::fs::read(&path)?;
    anyhow::ensure!(key.len() == 32, "{} must hold 32 bytes", path.display());
    Ok(rentops_app::auth::LocalIssuer::new(&key))
}

/// Copy a FileSecrets JSON file into `<dir>/secrets.json` with mode 0600
/// (git does not keep file modes; the secrets port refuses readable files).
pub fn install_secrets(src: &Path, dir: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let bytes = std::fs::read(src).with_context(|| format!("reading {}", src.display()))?;
    // Check every provider configuration before installing; errors never quote a secret.
    let file: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {}", src.display(), rentops_codecs::config::redacted_json_error(&e)))?;
    for (name, value) in &file {
        if name.ends_with("/providers") {
            let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
            let (_, problems) = rentops_codecs::ProviderConfig::from_json_lenient(text.as_bytes())
                .map_err(|e| anyhow::anyhow!("{}: secret {name}: {e}", src.display()))?;
            if let Some((section, problem)) = problems.first() {
                anyhow::bail!("{}: secret {name}: section {section:?}: {problem}", src.display());
            }
        }
    }
    std::fs::create_dir_all(dir)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let path = dir.join("secrets.json");
    let mut f = opts.open(&path).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(&bytes)?;
    Ok(())
}

/// Open the embedded backend in `dir` and wire the ports with `clock`.
pub fn open_local(dir: &Path, base_url: &str, clock: Arc<dyn Clock>) -> anyhow::Result<(EmbeddedBackend, Ports)> {
    let backend =
        EmbeddedBackend::open_with(dir, EmbeddedOptions { base_url: base_url.to_string(), ..Default::default() })?;
    let ports = Ports {
        store: backend.store.clone(),
        queue: backend.queue.clone(),
        blob: backend.blob.clone(),
        secrets: backend.secrets.clone(),
        clock,
        intake: Some(backend.intake.clone()),
    };
    Ok((backend, ports))
}
