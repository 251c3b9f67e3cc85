//! rentops-plugin-tools: turn a built guest into a deployable rule-plugin artifact, and check one. No wasmtime:
//! everything here is binary-format work (wit-component, wasmparser), usable from the CLI, tests and scripts.
//!
//! Public API (stable; `rentops plugin build` and `rentops-plugin-host` use it):
//! - [`componentize`]`(core_wasm) -> Result<Vec<u8>>`: a `wasm32-unknown-unknown` core module built with
//!   `rentops-plugin-sdk` → a component (DWARF `.debug_*` sections dropped first; the `name` section is kept so
//!   traps show function names). Refuses a module that imports anything.
//! - [`embed_table`]`(component, json) -> Result<Vec<u8>>`: add (or replace) the top-level custom section
//!   [`TABLE_SECTION`] (`rentops-rules-table`) holding the normalized JSON rules table, so one artifact = one
//!   sha256; the JSON is validated as a `RulesTable` ([`embed_table_unchecked`] skips that, for test guests).
//!   [`read_table`]`(component) -> Result<Option<String>>` reads it back.
//! - [`package`]`(core_or_component, Option<&RulesTable>)`: componentize if needed, then embed the table.
//! - [`inspect`]`(component) -> Result<ComponentReport>`: validates the binary and reports its imports, the
//!   `rentops:rules` interfaces it exports and their contract version, and the table; [`check_plugin`] turns
//!   that into a verdict: zero imports, all five interfaces exported at one supported version
//!   ([`SUPPORTED_MAJORS`]); [`check_report`] is the same verdict over a report.
//! - [`strip_debug`], [`custom_sections`]: section-level helpers.
//!
//! Errors are [`ToolsError`] with messages an operator can act on.

use rentops_rules::RulesTable;
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

/// Name of the custom section that carries the packaged rules table (normalized JSON, UTF-8).
pub const TABLE_SECTION: &str = "rentops-rules-table";
/// The interfaces every rule plugin exports (package `rentops:rules`).
pub const INTERFACES: [&str; 5] = ["types", "plugin", "dunning", "sla", "credit"];
/// Contract majors this build of rentops can run (see plugins/README.md, "Versioning").
pub const SUPPORTED_MAJORS: [u64; 1] = [1];
/// Largest packaged table accepted, bytes.
pub const MAX_TABLE_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    #[error("not a WebAssembly binary (bad header)")]
    NotWasm,
    #[error("malformed WebAssembly: {0}")]
    Malformed(String),
    #[error("expected a core module built for wasm32-unknown-unknown, got a component")]
    AlreadyComponent,
    #[error("expected a component, got a core module (run componentize first)")]
    NotComponent,
    #[error(
        "the module imports {0}: a rule plugin must import nothing (build for wasm32-unknown-unknown, not wasip1/wasip2, and do no I/O)"
    )]
    HasImports(String),
    #[error("could not build the component: {0}")]
    Componentize(String),
    #[error("the component is invalid: {0}")]
    Invalid(String),
    #[error("not a rentops rule plugin: {0}")]
    NotAPlugin(String),
    #[error("packaged rules table: {0}")]
    Table(String),
}

pub type Result<T> = std::result::Result<T, ToolsError>;

/// One top-level section of a module or component: id, byte range of the whole section, and the name of a
/// custom section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub id: u8,
    pub range: std::ops::Range<usize>,
    pub custom_name: Option<String>,
    /// Range of a custom section's payload (after its name).
    pub data: std::ops::Range<usize>,
}

fn leb_u32(bytes: &[u8], pos: &mut usize) -> Result<u32> {
    let mut result: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*pos).ok_or_else(|| ToolsError::Malformed("truncated section header".into()))?;
        *pos += 1;
        result |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return u32::try_from(result).map_err(|_| ToolsError::Malformed("section length overflow".into()));
        }
    }
    Err(ToolsError::Malformed("section length LEB128 too long".into()))
}

fn push_leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Whether the binary is a component (`true`) or a core module (`false`).
pub fn is_component(bytes: &[u8]) -> Result<bool> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(ToolsError::NotWasm);
    }
    Ok(wasmparser::Parser::is_component(bytes))
}

/// The top-level sections of a module or component (nested modules/components are not entered).
pub fn custom_sections(bytes: &[u8]) -> Result<Vec<Section>> {
    is_component(bytes)?;
    let mut pos = 8;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let start = pos;
        let id = bytes[pos];
        pos += 1;
        let len = leb_u32(bytes, &mut pos)? as usize;
        let end = pos
            .checked_add(len)
            .filter(|e| *e <= bytes.len())
            .ok_or_else(|| ToolsError::Malformed(format!("section at byte {start} runs past the end of the file")))?;
        let (custom_name, data) = if id == 0 {
            let mut p = pos;
            let n = leb_u32(bytes, &mut p)? as usize;
            let name_end = p.checked_add(n).filter(|e| *e <= end).ok_or_else(|| {
                ToolsError::Malformed(format!("custom section name at byte {start} runs past its section"))
            })?;
            let name = std::str::from_utf8(&bytes[p..name_end])
                .map_err(|_| ToolsError::Malformed(format!("custom section name at byte {start} is not UTF-8")))?;
            (Some(name.to_string()), name_end..end)
        } else {
            (None, pos..end)
        };
        out.push(Section { id, range: start..end, custom_name, data });
        pos = end;
    }
    Ok(out)
}

fn without_sections(bytes: &[u8], drop: impl Fn(&Section) -> bool) -> Result<Vec<u8>> {
    let sections = custom_sections(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..8]);
    for s in sections.iter().filter(|s| !drop(s)) {
        out.extend_from_slice(&bytes[s.range.clone()]);
    }
    Ok(out)
}

/// Drop DWARF (`.debug_*`) custom sections from a module or component's top level.
pub fn strip_debug(bytes: &[u8]) -> Result<Vec<u8>> {
    without_sections(bytes, |s| s.custom_name.as_deref().is_some_and(|n| n.starts_with(".debug_")))
}

/// Names of a core module's imports (`module::name`).
fn core_imports(module: &[u8]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(|e| ToolsError::Malformed(e.to_string()))? {
            Payload::ImportSection(reader) => {
                for imp in reader.into_imports() {
                    let imp = imp.map_err(|e| ToolsError::Malformed(e.to_string()))?;
                    names.push(format!("{}::{}", imp.module, imp.name));
                }
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => break,
            _ => {}
        }
    }
    Ok(names)
}

/// Turn a guest core module (wasm32-unknown-unknown, built with `rentops-plugin-sdk`) into a component.
pub fn componentize(core_wasm: &[u8]) -> Result<Vec<u8>> {
    if is_component(core_wasm)? {
        return Err(ToolsError::AlreadyComponent);
    }
    let module = strip_debug(core_wasm)?;
    let imports = core_imports(&module)?;
    if !imports.is_empty() {
        return Err(ToolsError::HasImports(imports.join(", ")));
    }
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .map_err(|e| ToolsError::Componentize(format!("{e:#}")))?
        .encode()
        .map_err(|e| ToolsError::Componentize(format!("{e:#}")))?;
    Ok(component)
}

/// Add the packaged rules table (normalized JSON) to a component, replacing any table already there.
pub fn embed_table(component: &[u8], json: &str) -> Result<Vec<u8>> {
    if !is_component(component)? {
        return Err(ToolsError::NotComponent);
    }
    if json.len() > MAX_TABLE_BYTES {
        return Err(ToolsError::Table(format!("{} bytes; at most {MAX_TABLE_BYTES}", json.len())));
    }
    RulesTable::from_json(json).map_err(|e| ToolsError::Table(e.to_string()))?;
    embed_table_unchecked(component, json)
}

/// [`embed_table`] without validating the text as a rules table: for test guests whose table is not a
/// `RulesTable` (e.g. the hostile plugin's `{"hostile": "..."}`). Never use it for a client's plugin.
pub fn embed_table_unchecked(component: &[u8], json: &str) -> Result<Vec<u8>> {
    if !is_component(component)? {
        return Err(ToolsError::NotComponent);
    }
    if json.len() > MAX_TABLE_BYTES {
        return Err(ToolsError::Table(format!("{} bytes; at most {MAX_TABLE_BYTES}", json.len())));
    }
    let mut out = without_sections(component, |s| s.custom_name.as_deref() == Some(TABLE_SECTION))?;
    let mut payload = Vec::with_capacity(json.len() + TABLE_SECTION.len() + 2);
    push_leb(&mut payload, TABLE_SECTION.len() as u64);
    payload.extend_from_slice(TABLE_SECTION.as_bytes());
    payload.extend_from_slice(json.as_bytes());
    out.push(0);
    push_leb(&mut out, payload.len() as u64);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The packaged rules table (normalized JSON), if the component carries one. Not validated here: the plugin
/// validates it in `init`, and [`check_plugin`] validates it for operators.
pub fn read_table(component: &[u8]) -> Result<Option<String>> {
    let sections = custom_sections(component)?;
    let mut tables = sections.iter().filter(|s| s.custom_name.as_deref() == Some(TABLE_SECTION));
    let Some(s) = tables.next() else { return Ok(None) };
    if tables.next().is_some() {
        return Err(ToolsError::Table(format!("more than one {TABLE_SECTION} section")));
    }
    let text = std::str::from_utf8(&component[s.data.clone()])
        .map_err(|_| ToolsError::Table(format!("the {TABLE_SECTION} section is not UTF-8")))?;
    Ok(Some(text.to_string()))
}

/// Componentize a core module if needed, then embed `table` (normalized) when given.
pub fn package(wasm: &[u8], table: Option<&RulesTable>) -> Result<Vec<u8>> {
    let component = if is_component(wasm)? { wasm.to_vec() } else { componentize(wasm)? };
    match table {
        Some(t) => embed_table(&component, &t.to_json()),
        None => Ok(component),
    }
}

/// What a component imports and exports, as far as rentops cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentReport {
    pub size: usize,
    /// Top-level import names (a rule plugin has none).
    pub imports: Vec<String>,
    /// Top-level export names, e.g. `rentops:rules/dunning@1.0.0`.
    pub exports: Vec<String>,
    /// The contract version of the `rentops:rules` exports when they all agree, e.g. `1.0.0`.
    pub contract: Option<String>,
    /// The packaged rules table (normalized JSON), if any.
    pub table: Option<String>,
}

/// Validate a component and list its imports, exports and packaged table.
pub fn inspect(component: &[u8]) -> Result<ComponentReport> {
    if !is_component(component)? {
        return Err(ToolsError::NotComponent);
    }
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(component)
        .map_err(|e| ToolsError::Invalid(e.to_string()))?;
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        match payload.map_err(|e| ToolsError::Malformed(e.to_string()))? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for imp in reader {
                    imports.push(imp.map_err(|e| ToolsError::Malformed(e.to_string()))?.name.full_name().into_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for exp in reader {
                    exports.push(exp.map_err(|e| ToolsError::Malformed(e.to_string()))?.name.full_name().into_owned());
                }
            }
            _ => {}
        }
    }
    let versions: Vec<&str> = exports
        .iter()
        .filter_map(|e| e.strip_prefix("rentops:rules/"))
        .filter_map(|e| e.split_once('@').map(|(_, v)| v))
        .collect();
    let contract = match versions.first() {
        Some(v) if versions.iter().all(|x| x == v) => Some(v.to_string()),
        _ => None,
    };
    Ok(ComponentReport { size: component.len(), imports, exports, contract, table: read_table(component)? })
}

/// The checks the host and `rentops plugin build` apply before accepting an artifact: valid component, zero
/// imports, all of [`INTERFACES`] exported from `rentops:rules` at one version whose major is supported, and a
/// valid packaged table if there is one. Returns the report on success.
pub fn check_plugin(component: &[u8]) -> Result<ComponentReport> {
    let report = inspect(component)?;
    check_report(&report)?;
    Ok(report)
}

/// The verdict part of [`check_plugin`] over an already gathered report.
pub fn check_report(report: &ComponentReport) -> Result<()> {
    if !report.imports.is_empty() {
        return Err(ToolsError::HasImports(report.imports.join(", ")));
    }
    let Some(contract) = report.contract.clone() else {
        return Err(ToolsError::NotAPlugin(format!(
            "no consistent rentops:rules exports (exports: {})",
            if report.exports.is_empty() { "none".to_string() } else { report.exports.join(", ") }
        )));
    };
    let major = contract.split('.').next().and_then(|m| m.parse::<u64>().ok());
    if !major.is_some_and(|m| SUPPORTED_MAJORS.contains(&m)) {
        return Err(ToolsError::NotAPlugin(format!(
            "contract rentops:rules@{contract} is not supported (this build runs {})",
            SUPPORTED_MAJORS.iter().map(|m| format!("{m}.x")).collect::<Vec<_>>().join(", ")
        )));
    }
    for iface in INTERFACES {
        let name = format!("rentops:rules/{iface}@{contract}");
        if !report.exports.contains(&name) {
            return Err(ToolsError::NotAPlugin(format!("missing export {name}")));
        }
    }
    if let Some(t) = &report.table {
        RulesTable::from_json(t).map_err(|e| ToolsError::Table(e.to_string()))?;
    }
    Ok(())
}
