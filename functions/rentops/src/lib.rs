//! The `rentops` operator CLI and local runner (library part, so the
//! end-to-end tests drive exactly what the binary runs).
//!
//! - [`runner`]: HTTP server + queue consumer: the whole system in one process.
//! - [`demo`]: the main job (`rentops demo`).
//! - [`notify_check`]: offline verification of a captured notification.
//! - [`ops`]: operator commands over a local data directory (summary,
//!   suspense, rejected, DLQ, replay, statement import, bill run).

pub mod demo;
pub mod notify_check;
pub mod ops;
pub mod runner;

use std::path::Path;
use std::sync::Arc;

use rentops_app::Ports;
use rentops_embedded::{EmbeddedBackend, EmbeddedOptions};
use rentops_ports::Clock;

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
    };
    Ok((backend, ports))
}
