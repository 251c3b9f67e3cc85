//! Precompiling a plugin component into the artifact the functions load (feature `compile`, operator CLI
//! and tests only: it links Cranelift).

use wasmtime::Engine;

use crate::artifact::{self, ArtifactError};
use crate::config::{EngineSettings, engine_config};

/// Why a component could not be precompiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    #[error("plugin does not compile: {0}")]
    Wasmtime(String),
}

/// Precompile `component` (a `.wasm` component as built by `rentops plugin build`) for
/// [`EngineSettings::default`] into the artifact [`crate::PluginRuntime::load`] takes.
pub fn precompile(component: &[u8]) -> Result<Vec<u8>, CompileError> {
    precompile_with(&EngineSettings::default(), component)
}

/// [`precompile`] for explicit engine settings (they must equal the loading runtime's).
pub fn precompile_with(settings: &EngineSettings, component: &[u8]) -> Result<Vec<u8>, CompileError> {
    let table = artifact::read_table_section(component)?.unwrap_or("");
    let engine = Engine::new(&engine_config(settings)).map_err(|e| CompileError::Wasmtime(format!("{e:#}")))?;
    let payload = engine.precompile_component(component).map_err(|e| CompileError::Wasmtime(format!("{e:#}")))?;
    Ok(artifact::encode(component, table, &payload))
}
