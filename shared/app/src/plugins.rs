//! Rule-plugin registry and operator workflow over the ports (Store + Blob), so it works the same on the
//! embedded backend and on AWS: deploy, list, activate, roll back, load the active plugin for a client, and
//! shadow-run a candidate version against the client's open invoices (and fixture tickets / applicants)
//! before anyone activates it. The CLI (`rentops plugin ...`, functions/rentops/src/plugin_cmd.rs) is a thin
//! layer over this module; the sandbox itself is `rentops-plugin-host`.
//!
//! # Layout (see [`crate::keys`])
//! - Blobs: `plugins/<client>/rules/<version>/component.wasm` (the `.wasm` component, with its rules table
//!   embedded) and `.../artifact.cwasm` (the precompiled artifact the functions load, no compiler needed).
//! - `PLUGIN#rules` / `VERSION#<sortable semver>`: [`PluginVersion`] — sha256 and size of both files, the
//!   contract and `plugin.info`, who deployed it, when, notes, status (`uploading` → `ready`).
//! - `PLUGIN#rules` / `ACTIVE`: [`ActiveRecord`] — the active version (or none: default rules), the stack of
//!   previously active versions (what rollback returns to) and the activation history (last
//!   [`MAX_HISTORY`]).
//!
//! # Guarantees
//! - **Immutable versions.** Deploy claims the version with a conditional put (`uploading`) before it
//!   uploads anything, then marks it `ready` (conditional on the claim) together with its audit event.
//!   Deploying an existing version with the same component bytes is an idempotent success (an interrupted
//!   deploy resumes); with other bytes it fails with [`RegistryError::VersionConflict`] naming both sha256s.
//! - **No lost update on activation.** [`activate`] and [`rollback`] write the new `ACTIVE` item conditional
//!   on the item version they read (and, when the operator says which version they expect to replace,
//!   on that too), in one transaction with a check that the target version is registered and its audit
//!   event (who, when, from, to). Two operators racing: exactly one wins; the other gets
//!   [`RegistryError::ActiveChanged`] saying who changed it.
//! - **Client isolation.** Items are reached only through [`rentops_ports::ClientStore`] (`C#<client>#`), blob
//!   keys embed the client id, and the artifact's recorded sha256 is checked on every load, so client B can
//!   neither activate nor load client A's version.
//! - **Integrity on load.** [`active_artifact`] returns the active artifact only if its bytes hash to the
//!   registered sha256 and the artifact names the registered component; [`PluginLoader::client_rules`]
//!   never fails: no active version → native default rules; any registry, blob, integrity or load problem →
//!   default rules for that client with a `plugin_fallback` alert and a `plugin.load_failed` audit event.
//!
//! # Shadow runs
//! [`shadow_invoices`] builds [`InvoiceFacts`] for the client's open invoices as of a local date
//! ([`invoice_facts`]: days in the client's time zone, outstanding amount, part payments from the ledger,
//! 12-month history of the lease's other invoices, tenure) and runs dunning + late fee through the baseline
//! (the active version, or the default rules when none is active) and the candidate, reporting counts per kind
//! of difference and examples. Tickets (SLA) and credit applicants do not exist in the store yet: they come
//! from a fixture file ([`Fixtures`], JSON or TOML) via [`shadow_tickets`] / [`shadow_applicants`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use rentops_plugin_host::artifact::{self, ArtifactError};
use rentops_plugin_host::{
    ClientRules, Decision, DecisionSource, FallbackEvent, FallbackSink, LoadError, LoadedPlugin, PluginRuntime,
};
use rentops_ports::{ClientId, ClientStore, Condition, Item, PortError, PutMode, Query, WriteOp, keys::prefix};
use rentops_rules::{
    ApplicantFacts, CreditDecision, DunningDecision, InvoiceFacts, LateFee, PluginInfo, SlaDecision, TicketFacts,
};
use serde::{Deserialize, Serialize};

use crate::audit;
use crate::auth::{Principal, Role};
use crate::ctx::Ports;
use crate::keys;

/// The plugin kind this registry holds (the WIT world `rules`: dunning, SLA and credit in one artifact).
pub const KIND: &str = "rules";
/// File name of the component in the blob store.
pub const COMPONENT_FILE: &str = "component.wasm";
/// File name of the precompiled artifact in the blob store.
pub const ARTIFACT_FILE: &str = "artifact.cwasm";
/// Activations kept in [`ActiveRecord::history`] (older ones stay in the audit trail).
pub const MAX_HISTORY: usize = 100;
/// Previously active versions kept for rollback.
pub const MAX_ROLLBACK_DEPTH: usize = 50;
/// Largest component accepted by deploy (a rules plugin is ~0.3 MiB).
pub const MAX_COMPONENT_BYTES: usize = 16 << 20;
/// Largest notes text.
pub const MAX_NOTES: usize = 2000;

// ------------------------------------------------------------------------------------------------ types

/// Who does something in the registry (recorded in items and audit events with role `operator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub user: String,
    /// Where the command came from (IP address or host name), if known.
    pub source: Option<String>,
}

impl Operator {
    pub fn new(user: impl Into<String>) -> Self {
        Operator { user: user.into(), source: None }
    }
    fn principal(&self, client: &ClientId) -> Principal {
        Principal { client: client.clone(), user: self.user.clone(), role: Role::Operator }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    /// Claimed by a deploy that has not finished uploading (an interrupted deploy; re-run it).
    Uploading,
    /// Uploaded and verified: can be shadow-run and activated.
    Ready,
}

/// `PLUGIN#rules` / `VERSION#<sortable>`: one deployed version. Immutable once `ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginVersion {
    pub client: String,
    pub kind: String,
    /// The registry version (`MAJOR.MINOR.PATCH`), chosen at deploy (default: the plugin's own version).
    pub version: String,
    pub status: VersionStatus,
    /// sha256 (hex) of the component (`component.wasm`): the identity of the version.
    pub component_sha256: String,
    pub component_size: u64,
    /// sha256 (hex) of the precompiled artifact (`artifact.cwasm`), checked on every load.
    pub artifact_sha256: String,
    pub artifact_size: u64,
    pub component_key: String,
    pub artifact_key: String,
    /// `rentops:rules` contract the plugin was built against (from `plugin.info`).
    pub contract: String,
    /// `plugin.info` as the plugin reported it at deploy.
    pub plugin: PluginInfo,
    /// Name and version of the packaged rules table, when the component carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub deployed_by: String,
    pub deployed_at: DateTime<Utc>,
    #[serde(default)]
    pub notes: String,
}

/// One change of the active version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activation {
    /// `activate` or `rollback`.
    pub action: String,
    /// Active before (`None`: default rules).
    pub from: Option<String>,
    /// Active after (`None`: default rules).
    pub to: Option<String>,
    pub by: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

/// `PLUGIN#rules` / `ACTIVE`: which version the functions load for this client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveRecord {
    /// `None`: no plugin, the default rules apply.
    pub version: Option<String>,
    /// Previously active versions, most recent last (what [`rollback`] returns to).
    #[serde(default)]
    pub previous: Vec<Option<String>>,
    /// Most recent last, at most [`MAX_HISTORY`].
    #[serde(default)]
    pub history: Vec<Activation>,
}

impl ActiveRecord {
    pub fn last_change(&self) -> Option<&Activation> {
        self.history.last()
    }
}

/// The `ACTIVE` item as read, with the item version a conditional write needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveState {
    pub record: ActiveRecord,
    /// Store item version (`None`: never activated).
    pub item_version: Option<u64>,
}

/// Registry errors, worded for the operator running the command.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("version {0:?}: expected MAJOR.MINOR.PATCH with numbers 0-999999 and no leading zeros, e.g. 2026.1.0")]
    InvalidVersion(String),
    #[error(
        "{client}: version {version} is already deployed with other bytes (registered component sha256 {registered_sha256}, this one {new_sha256}); versions are immutable: deploy it under a new version"
    )]
    VersionConflict { client: String, version: String, registered_sha256: String, new_sha256: String },
    #[error("{client}: no plugin version {version} is deployed for this client (see `rentops plugin list`)")]
    NotFound { client: String, version: String },
    #[error("{client}: version {version} was never fully uploaded (interrupted deploy); re-run the deploy")]
    NotReady { client: String, version: String },
    #[error(
        "{client}: the active version changed meanwhile: expected {}, now {} (changed by {by} at {at}); check `rentops plugin list` and retry",
        show(expected),
        show(found)
    )]
    ActiveChanged { client: String, expected: Option<String>, found: Option<String>, by: String, at: String },
    #[error("{client}: version {version} is already active")]
    AlreadyActive { client: String, version: String },
    #[error("{client}: nothing to roll back to (no earlier activation recorded)")]
    NothingToRollBack { client: String },
    #[error(
        "the artifact was not built from this component (artifact names component {artifact_names}, the component is {component})"
    )]
    ArtifactMismatch { artifact_names: String, component: String },
    #[error("not a usable rule plugin: {0}")]
    InvalidPlugin(#[from] LoadError),
    #[error("not a precompiled plugin artifact: {0}")]
    InvalidArtifact(#[from] ArtifactError),
    #[error("{what}: {message}")]
    TooLarge { what: &'static str, message: String },
    #[error("{client}: {key} is missing from the blob store (registered for version {version})")]
    MissingBlob { client: String, version: String, key: String },
    #[error(
        "{client}: {key} does not match the registry (registered sha256 {expected}, stored bytes {found}): the stored plugin was altered or corrupted; redeploy it under a new version"
    )]
    Integrity { client: String, key: String, expected: String, found: String },
    #[error("{client}: registry item {what} is unreadable: {message}")]
    Corrupt { client: String, what: String, message: String },
    #[error(transparent)]
    Port(#[from] PortError),
}

fn show(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "none (default rules)".into())
}

// ------------------------------------------------------------------------------------------------ versions

/// Parse `MAJOR.MINOR.PATCH` into its sortable key (`002026.000001.000000`).
pub fn sortable_version(version: &str) -> Result<String, RegistryError> {
    let bad = || RegistryError::InvalidVersion(version.to_string());
    let parts: Vec<&str> = version.split('.').collect();
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(3);
    for p in parts {
        if p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) || (p.len() > 1 && p.starts_with('0'))
        {
            return Err(bad());
        }
        let n: u32 = p.parse().map_err(|_| bad())?;
        out.push(format!("{n:06}"));
    }
    Ok(out.join("."))
}

fn sha256_hex(bytes: &[u8]) -> String {
    artifact::sha256_hex(bytes)
}

fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("registry records serialize")
}

fn decode<T: serde::de::DeserializeOwned>(client: &ClientId, item: &Item) -> Result<T, RegistryError> {
    serde_json::from_value(item.body.clone()).map_err(|e| RegistryError::Corrupt {
        client: client.to_string(),
        what: format!("{}/{}", item.pk, item.sk),
        message: e.to_string(),
    })
}

async fn version_item(store: &ClientStore, version: &str) -> Result<Option<Item>, RegistryError> {
    let sk = keys::plugin_version_sk(&sortable_version(version)?);
    Ok(store.get(keys::PLUGIN_RULES, &sk).await?)
}

/// One registered version (any status), `None` when not deployed.
pub async fn get_version(
    ports: &Ports,
    client: &ClientId,
    version: &str,
) -> Result<Option<PluginVersion>, RegistryError> {
    match version_item(&ports.client_store(client), version).await? {
        Some(item) => Ok(Some(decode(client, &item)?)),
        None => Ok(None),
    }
}

/// A registered, `ready` version, or the operator-facing error.
pub async fn ready_version(ports: &Ports, client: &ClientId, version: &str) -> Result<PluginVersion, RegistryError> {
    let v = get_version(ports, client, version)
        .await?
        .ok_or_else(|| RegistryError::NotFound { client: client.to_string(), version: version.to_string() })?;
    if v.status != VersionStatus::Ready {
        return Err(RegistryError::NotReady { client: client.to_string(), version: version.to_string() });
    }
    Ok(v)
}

// ------------------------------------------------------------------------------------------------ deploy

/// What `rentops plugin deploy` hands over: the component and its precompiled artifact (the CLI precompiles
/// with `rentops_plugin_host::precompile`; the app itself never compiles).
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// `None`: the plugin's own version from `plugin.info`.
    pub version: Option<String>,
    pub component: Vec<u8>,
    pub artifact: Vec<u8>,
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployOutcome {
    /// Uploaded and registered now.
    Deployed(PluginVersion),
    /// The same bytes were already registered under this version: nothing changed.
    AlreadyDeployed(PluginVersion),
}

impl DeployOutcome {
    pub fn version(&self) -> &PluginVersion {
        match self {
            DeployOutcome::Deployed(v) | DeployOutcome::AlreadyDeployed(v) => v,
        }
    }
}

/// Upload and register a plugin version (see the module doc for the protocol). The artifact is loaded into
/// `rt` first (integrity, zero imports, contract, `plugin.info`, `plugin.init` with its table), so a version
/// that cannot run on this host is never registered.
pub async fn deploy(
    ports: &Ports,
    rt: &PluginRuntime,
    client: &ClientId,
    req: DeployRequest,
    operator: &Operator,
) -> Result<DeployOutcome, RegistryError> {
    if req.component.len() > MAX_COMPONENT_BYTES {
        return Err(RegistryError::TooLarge {
            what: "component",
            message: format!("{} bytes, at most {MAX_COMPONENT_BYTES}", req.component.len()),
        });
    }
    if req.notes.len() > MAX_NOTES {
        return Err(RegistryError::TooLarge {
            what: "notes",
            message: format!("{} bytes, at most {MAX_NOTES}", req.notes.len()),
        });
    }
    let component_sha256 = sha256_hex(&req.component);
    let art = artifact::decode(&req.artifact)?;
    if art.component_sha256 != component_sha256 {
        return Err(RegistryError::ArtifactMismatch {
            artifact_names: art.component_sha256,
            component: component_sha256,
        });
    }
    let loaded = rt.load(&req.artifact)?;
    let info = loaded.identity().info.clone();
    let version = req.version.clone().unwrap_or_else(|| info.version.clone());
    let sortable = sortable_version(&version)?;
    let sk = keys::plugin_version_sk(&sortable);
    let table = match loaded.table_json() {
        t if t.trim().is_empty() => None,
        t => rentops_rules::RulesTable::from_json(t).ok().map(|t| format!("{} {}", t.name, t.version)),
    };
    let store = ports.client_store(client);
    let component_key = keys::plugin_blob(client.as_str(), &version, COMPONENT_FILE);
    let artifact_key = keys::plugin_blob(client.as_str(), &version, ARTIFACT_FILE);
    let mut record = PluginVersion {
        client: client.to_string(),
        kind: KIND.to_string(),
        version: version.clone(),
        status: VersionStatus::Uploading,
        component_sha256: component_sha256.clone(),
        component_size: req.component.len() as u64,
        artifact_sha256: sha256_hex(&req.artifact),
        artifact_size: req.artifact.len() as u64,
        component_key: component_key.clone(),
        artifact_key: artifact_key.clone(),
        contract: info.contract.clone(),
        plugin: info,
        table,
        deployed_by: operator.user.clone(),
        deployed_at: ports.clock.now(),
        notes: req.notes.clone(),
    };

    // Claim the version (or find who holds it). Two rounds at most: a concurrent claim is re-read once.
    let mut claimed_version = None;
    for _ in 0..2 {
        match store.get(keys::PLUGIN_RULES, &sk).await? {
            Some(item) => {
                let existing: PluginVersion = decode(client, &item)?;
                if existing.component_sha256 != component_sha256 {
                    return Err(RegistryError::VersionConflict {
                        client: client.to_string(),
                        version,
                        registered_sha256: existing.component_sha256,
                        new_sha256: component_sha256,
                    });
                }
                if existing.status == VersionStatus::Ready {
                    return Ok(DeployOutcome::AlreadyDeployed(existing));
                }
                // An interrupted deploy of the same bytes: take it over and finish it.
                record.deployed_at = existing.deployed_at;
                claimed_version = Some(item.version);
                break;
            }
            None => {
                let item = Item::new(keys::PLUGIN_RULES, &sk, to_json(&record));
                match store.put(item, Condition::NotExists).await {
                    Ok(v) => {
                        claimed_version = Some(v);
                        break;
                    }
                    Err(e) if e.is_condition_failure() => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    let Some(claimed) = claimed_version else {
        return Err(PortError::Transient(format!("{client}: version {version} is being deployed concurrently")).into());
    };

    // Only the claim holder writes these keys; overwriting finishes an interrupted upload of the same version.
    ports.blob.put(&component_key, req.component, "application/wasm", PutMode::Overwrite).await?;
    ports.blob.put(&artifact_key, req.artifact, "application/octet-stream", PutMode::Overwrite).await?;

    record.status = VersionStatus::Ready;
    let audit_item = audit::event_item(
        ports.clock.now(),
        &operator.principal(client),
        operator.source.as_deref(),
        "plugin.deploy",
        serde_json::json!({
            "kind": KIND, "version": version, "component_sha256": record.component_sha256,
            "artifact_sha256": record.artifact_sha256, "plugin": record.plugin.name,
            "plugin_version": record.plugin.version, "notes": record.notes,
        }),
    );
    let ops = vec![
        WriteOp::Put {
            item: Item::new(keys::PLUGIN_RULES, &sk, to_json(&record)),
            condition: Condition::Version(claimed),
        },
        WriteOp::Put { item: audit_item, condition: Condition::NotExists },
    ];
    match store.transact(ops).await {
        Ok(()) => Ok(DeployOutcome::Deployed(record)),
        Err(e) if e.is_condition_failure() => {
            // Someone finished the same deploy first: fine if it is the same bytes.
            let existing = get_version(ports, client, &version)
                .await?
                .ok_or_else(|| RegistryError::NotFound { client: client.to_string(), version: version.clone() })?;
            if existing.component_sha256 == component_sha256 && existing.status == VersionStatus::Ready {
                Ok(DeployOutcome::AlreadyDeployed(existing))
            } else {
                Err(e.into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------------------------ list

/// Every registered version (semver order) and the active pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub versions: Vec<PluginVersion>,
    pub active: ActiveRecord,
}

pub async fn list(ports: &Ports, client: &ClientId) -> Result<Listing, RegistryError> {
    let store = ports.client_store(client);
    let items = store.query_all(Query::table(keys::PLUGIN_RULES, prefix(keys::PLUGIN_VERSION_PREFIX))).await?;
    let versions = items.iter().map(|i| decode(client, i)).collect::<Result<Vec<PluginVersion>, _>>()?;
    Ok(Listing { versions, active: active_state(ports, client).await?.record })
}

/// The `ACTIVE` item as it is now.
pub async fn active_state(ports: &Ports, client: &ClientId) -> Result<ActiveState, RegistryError> {
    match ports.client_store(client).get(keys::PLUGIN_RULES, keys::PLUGIN_ACTIVE).await? {
        Some(item) => Ok(ActiveState { record: decode(client, &item)?, item_version: Some(item.version) }),
        None => Ok(ActiveState::default()),
    }
}

// ------------------------------------------------------------------------------------------------ activate

/// What the operator believes is active before the change (`--from`): `Any` = whatever is active when the
/// command reads it (still no lost update: the write is conditional on that read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Any,
    /// `None`: no plugin active (default rules).
    Version(Option<String>),
}

/// Make `version` the client's active plugin (atomic pointer flip, audited). Returns the change.
pub async fn activate(
    ports: &Ports,
    client: &ClientId,
    version: &str,
    expect: &Expect,
    operator: &Operator,
    notes: &str,
) -> Result<Activation, RegistryError> {
    let state = active_state(ports, client).await?;
    activate_from(ports, client, &state, version, expect, operator, notes).await
}

/// [`activate`] from an `ACTIVE` state read earlier (tests use it to race two operators deterministically).
pub async fn activate_from(
    ports: &Ports,
    client: &ClientId,
    state: &ActiveState,
    version: &str,
    expect: &Expect,
    operator: &Operator,
    notes: &str,
) -> Result<Activation, RegistryError> {
    check_expectation(client, state, expect)?;
    if state.record.version.as_deref() == Some(version) {
        return Err(RegistryError::AlreadyActive { client: client.to_string(), version: version.to_string() });
    }
    let target = ready_version(ports, client, version).await?;
    let store = ports.client_store(client);
    let target_item = version_item(&store, &target.version)
        .await?
        .ok_or_else(|| RegistryError::NotFound { client: client.to_string(), version: version.to_string() })?;
    let mut next = state.record.clone();
    next.previous.push(state.record.version.clone());
    if next.previous.len() > MAX_ROLLBACK_DEPTH {
        next.previous.remove(0);
    }
    let check = WriteOp::Check {
        pk: keys::PLUGIN_RULES.to_string(),
        sk: target_item.sk.clone(),
        condition: Condition::Version(target_item.version),
    };
    flip(ports, client, state, next, Some(target.version), "activate", operator, notes, Some(check)).await
}

/// Return to the version that was active before the current one (or to the default rules when the current
/// one was the first). Atomic and audited like [`activate`].
pub async fn rollback(
    ports: &Ports,
    client: &ClientId,
    expect: &Expect,
    operator: &Operator,
    notes: &str,
) -> Result<Activation, RegistryError> {
    let state = active_state(ports, client).await?;
    check_expectation(client, &state, expect)?;
    let mut next = state.record.clone();
    let Some(target) = next.previous.pop() else {
        return Err(RegistryError::NothingToRollBack { client: client.to_string() });
    };
    let check = match &target {
        Some(v) => {
            // The version rolled back to must still be a ready, registered version.
            let item = version_item(&ports.client_store(client), v).await?;
            let item =
                item.ok_or_else(|| RegistryError::NotFound { client: client.to_string(), version: v.clone() })?;
            let pv: PluginVersion = decode(client, &item)?;
            if pv.status != VersionStatus::Ready {
                return Err(RegistryError::NotReady { client: client.to_string(), version: v.clone() });
            }
            Some(WriteOp::Check {
                pk: keys::PLUGIN_RULES.to_string(),
                sk: item.sk,
                condition: Condition::Version(item.version),
            })
        }
        None => None,
    };
    flip(ports, client, &state, next, target, "rollback", operator, notes, check).await
}

fn check_expectation(client: &ClientId, state: &ActiveState, expect: &Expect) -> Result<(), RegistryError> {
    if let Expect::Version(v) = expect
        && *v != state.record.version
    {
        let last = state.record.last_change();
        return Err(RegistryError::ActiveChanged {
            client: client.to_string(),
            expected: v.clone(),
            found: state.record.version.clone(),
            by: last.map(|a| a.by.clone()).unwrap_or_else(|| "nobody".into()),
            at: last.map(|a| a.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "never".into()),
        });
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn flip(
    ports: &Ports,
    client: &ClientId,
    state: &ActiveState,
    mut next: ActiveRecord,
    to: Option<String>,
    action: &str,
    operator: &Operator,
    notes: &str,
    check: Option<WriteOp>,
) -> Result<Activation, RegistryError> {
    if notes.len() > MAX_NOTES {
        return Err(RegistryError::TooLarge {
            what: "notes",
            message: format!("{} bytes, at most {MAX_NOTES}", notes.len()),
        });
    }
    let at = ports.clock.now();
    let change = Activation {
        action: action.to_string(),
        from: state.record.version.clone(),
        to: to.clone(),
        by: operator.user.clone(),
        at,
        notes: notes.to_string(),
    };
    next.version = to;
    next.history.push(change.clone());
    if next.history.len() > MAX_HISTORY {
        let excess = next.history.len() - MAX_HISTORY;
        next.history.drain(..excess);
    }
    let condition = match state.item_version {
        Some(v) => Condition::Version(v),
        None => Condition::NotExists,
    };
    let audit_item = audit::event_item(
        at,
        &operator.principal(client),
        operator.source.as_deref(),
        &format!("plugin.{action}"),
        serde_json::json!({ "kind": KIND, "from": change.from, "to": change.to, "notes": notes }),
    );
    let mut ops = vec![
        WriteOp::Put { item: Item::new(keys::PLUGIN_RULES, keys::PLUGIN_ACTIVE, to_json(&next)), condition },
        WriteOp::Put { item: audit_item, condition: Condition::NotExists },
    ];
    ops.extend(check);
    match ports.client_store(client).transact(ops).await {
        Ok(()) => {
            tracing::info!(%client, action, from = ?change.from, to = ?change.to, by = %change.by, "plugin activation");
            Ok(change)
        }
        Err(e) if e.is_condition_failure() => {
            let now = active_state(ports, client).await?;
            if now.item_version == state.item_version {
                // The pointer did not move: the target version changed under us (a concurrent deploy finished).
                return Err(e.into());
            }
            let last = now.record.last_change();
            Err(RegistryError::ActiveChanged {
                client: client.to_string(),
                expected: state.record.version.clone(),
                found: now.record.version.clone(),
                by: last.map(|a| a.by.clone()).unwrap_or_else(|| "unknown".into()),
                at: last.map(|a| a.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_else(|| "unknown".into()),
            })
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------------------------ load

/// The verified artifact bytes of one registered version.
pub async fn version_artifact(
    ports: &Ports,
    client: &ClientId,
    version: &str,
) -> Result<(PluginVersion, Vec<u8>), RegistryError> {
    let v = ready_version(ports, client, version).await?;
    let bytes = verified_blob(ports, client, &v.version, &v.artifact_key, &v.artifact_sha256).await?;
    // The envelope must name the registered component (a swapped artifact with a valid hash of its own would
    // already fail the check above; this catches a registry item pointing at another version's artifact).
    let art = artifact::decode(&bytes)?;
    if art.component_sha256 != v.component_sha256 {
        return Err(RegistryError::Integrity {
            client: client.to_string(),
            key: v.artifact_key.clone(),
            expected: format!("component {}", v.component_sha256),
            found: format!("component {}", art.component_sha256),
        });
    }
    Ok((v, bytes))
}

/// The verified component bytes of one registered version (for inspection and re-packaging).
pub async fn version_component(
    ports: &Ports,
    client: &ClientId,
    version: &str,
) -> Result<(PluginVersion, Vec<u8>), RegistryError> {
    let v = ready_version(ports, client, version).await?;
    let bytes = verified_blob(ports, client, &v.version, &v.component_key, &v.component_sha256).await?;
    Ok((v, bytes))
}

async fn verified_blob(
    ports: &Ports,
    client: &ClientId,
    version: &str,
    key: &str,
    expected: &str,
) -> Result<Vec<u8>, RegistryError> {
    let bytes = ports.blob.get(key).await?.ok_or_else(|| RegistryError::MissingBlob {
        client: client.to_string(),
        version: version.to_string(),
        key: key.to_string(),
    })?;
    let found = sha256_hex(&bytes);
    if found != expected {
        return Err(RegistryError::Integrity {
            client: client.to_string(),
            key: key.to_string(),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(bytes)
}

/// The active version's artifact, verified against the registry; `Ok(None)` when no plugin is active.
pub async fn active_artifact(
    ports: &Ports,
    client: &ClientId,
) -> Result<Option<(PluginVersion, Vec<u8>)>, RegistryError> {
    match active_state(ports, client).await?.record.version {
        Some(v) => version_artifact(ports, client, &v).await.map(Some),
        None => Ok(None),
    }
}

/// How a client's rules were obtained by [`PluginLoader::client_rules`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesOrigin {
    /// No active plugin: the native default rules.
    Default,
    /// The active plugin, loaded.
    Plugin { version: String, component_sha256: String },
    /// The active plugin could not be used; the default rules apply. `reason` is for people.
    Fallback { version: Option<String>, reason: String },
}

/// Loads clients' active plugins, caching loaded artifacts by sha256 for the life of the process (a Lambda
/// execution environment). One per process; cheap to share.
pub struct PluginLoader {
    rt: PluginRuntime,
    cache: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
}

impl PluginLoader {
    pub fn new(rt: PluginRuntime) -> Self {
        PluginLoader { rt, cache: Mutex::new(HashMap::new()) }
    }

    pub fn runtime(&self) -> &PluginRuntime {
        &self.rt
    }

    /// The session that answers `client`'s decisions in this invocation. Never fails: without an active
    /// plugin the default rules answer (`Native`); if the active plugin cannot be fetched, verified or loaded,
    /// the default rules answer with `Fallback` decisions, a `plugin_fallback` alert is logged and a
    /// `plugin.load_failed` audit event is written (best effort: an audit write failure is logged, not raised).
    pub async fn client_rules(&self, ports: &Ports, client: &ClientId) -> (ClientRules, RulesOrigin) {
        let active = match active_state(ports, client).await {
            Ok(s) => s.record.version,
            Err(e) => return self.failed(ports, client, None, e.to_string(), LoadError::Info(e.to_string())).await,
        };
        let Some(version) = active else {
            return (self.rt.native_session(client.as_str(), None), RulesOrigin::Default);
        };
        match self.load_version(ports, client, &version).await {
            Ok((v, plugin)) => (
                self.rt.session(client.as_str(), plugin),
                RulesOrigin::Plugin { version: v.version, component_sha256: v.component_sha256 },
            ),
            Err(e) => {
                let load_error = match &e {
                    RegistryError::InvalidPlugin(le) => le.clone(),
                    RegistryError::InvalidArtifact(ae) => LoadError::Artifact(ae.clone()),
                    RegistryError::Integrity { .. } => LoadError::Artifact(ArtifactError::Corrupt),
                    RegistryError::MissingBlob { .. } => LoadError::Artifact(ArtifactError::Truncated(0)),
                    other => LoadError::Info(other.to_string()),
                };
                self.failed(ports, client, Some(version), e.to_string(), load_error).await
            }
        }
    }

    /// Fetch, verify and load one registered version (cached by artifact sha256).
    pub async fn load_version(
        &self,
        ports: &Ports,
        client: &ClientId,
        version: &str,
    ) -> Result<(PluginVersion, Arc<LoadedPlugin>), RegistryError> {
        let v = ready_version(ports, client, version).await?;
        if let Some(p) = self.cached(&v.artifact_sha256) {
            return Ok((v, p));
        }
        let (v, bytes) = version_artifact(ports, client, version).await?;
        let plugin = self.rt.load(&bytes)?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(v.artifact_sha256.clone(), plugin.clone());
        Ok((v, plugin))
    }

    fn cached(&self, artifact_sha256: &str) -> Option<Arc<LoadedPlugin>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(artifact_sha256).cloned()
    }

    async fn failed(
        &self,
        ports: &Ports,
        client: &ClientId,
        version: Option<String>,
        reason: String,
        error: LoadError,
    ) -> (ClientRules, RulesOrigin) {
        tracing::warn!(alert = "plugin_fallback", %client, plugin = "rules", version = ?version, reason = %reason,
            "client's active rule plugin cannot be used; default rules apply");
        let system = Principal { client: client.clone(), user: "rentops-plugin-host".into(), role: Role::Operator };
        let details = serde_json::json!({ "kind": KIND, "version": version, "reason": reason });
        if let Err(e) = audit::record(ports, client, &system, None, "plugin.load_failed", details).await {
            tracing::warn!(%client, error = %e, "could not write the plugin.load_failed audit event");
        }
        (self.rt.fallback_session(client.as_str(), &error, None), RulesOrigin::Fallback { version, reason })
    }
}

/// A [`FallbackSink`] for the application: buffers the host's fallback events (the host calls it
/// synchronously on the decision path), [`AuditFallbackSink::flush`] writes them as `plugin.fallback` audit
/// events of each client after the batch.
#[derive(Debug, Default)]
pub struct AuditFallbackSink(Mutex<Vec<FallbackEvent>>);

impl FallbackSink for AuditFallbackSink {
    fn plugin_fallback(&self, event: &FallbackEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
    }
}

impl AuditFallbackSink {
    /// Write the buffered events; returns how many. Events of an invalid client id are logged and dropped.
    pub async fn flush(&self, ports: &Ports) -> Result<usize, PortError> {
        let events = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        let mut n = 0;
        for ev in events {
            let Ok(client) = ClientId::new(ev.client.clone()) else {
                tracing::warn!(client = %ev.client, "plugin fallback for an invalid client id; not audited");
                continue;
            };
            let system = Principal { client: client.clone(), user: "rentops-plugin-host".into(), role: Role::Operator };
            let details = serde_json::json!({
                "kind": KIND,
                "call": ev.call.as_str(),
                "reason_kind": ev.reason.kind(),
                "reason": ev.reason.to_string(),
                "plugin": ev.plugin.as_ref().map(|p| &p.info.name),
                "plugin_version": ev.plugin.as_ref().map(|p| &p.info.version),
                "component_sha256": ev.plugin.as_ref().map(|p| &p.sha256),
            });
            audit::record(ports, &client, &system, None, "plugin.fallback", details).await?;
            n += 1;
        }
        Ok(n)
    }
}

// ------------------------------------------------------------------------------------------------ facts

/// The dunning facts of every open invoice of `client` as of the local date `as_of` (issued on or before it,
/// outstanding > 0), in lease then invoice order — exactly what the dunning run gives the plugin (see
/// [`crate::dunning::open_invoice_facts`]: days in the client's calendar, part payments, tenant history,
/// prior stages, lease category).
pub async fn invoice_facts(ports: &Ports, client: &ClientId, as_of: NaiveDate) -> Result<Vec<InvoiceFacts>, PortError> {
    crate::dunning::open_invoice_facts(&ports.client_store(client), as_of).await
}

// ------------------------------------------------------------------------------------------------ shadow

/// One fact set compared between baseline and candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffExample {
    /// Invoice number, ticket id or applicant id.
    pub id: String,
    /// Extra context (lease, days after due, device type ...).
    pub context: String,
    /// Kinds of difference, e.g. `["stage", "late_fee_amount"]`.
    pub kinds: Vec<String>,
    pub active: serde_json::Value,
    pub candidate: serde_json::Value,
}

/// How a candidate's decisions differ from the baseline's over one set of facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffReport {
    /// `dunning` (invoices), `sla` (tickets) or `credit` (applicants).
    pub what: String,
    pub evaluated: usize,
    /// Fact sets with at least one difference.
    pub differing: usize,
    /// Fact sets per kind of difference (every kind listed, zero included).
    pub by_kind: BTreeMap<String, usize>,
    /// Examples (at most the requested number), in fact order: the first ones, then one of each further
    /// combination of kinds of difference (replacing repeats), so every kind found is shown.
    pub examples: Vec<DiffExample>,
    /// Decisions the baseline / candidate answered by falling back to the default rules, and why.
    pub baseline_fallbacks: usize,
    pub candidate_fallbacks: usize,
    pub fallback_reasons: Vec<String>,
}

impl DiffReport {
    fn new(what: &str, kinds: &[&str]) -> Self {
        DiffReport {
            what: what.into(),
            evaluated: 0,
            differing: 0,
            by_kind: kinds.iter().map(|k| (k.to_string(), 0)).collect(),
            examples: Vec::new(),
            baseline_fallbacks: 0,
            candidate_fallbacks: 0,
            fallback_reasons: Vec::new(),
        }
    }

    fn note<T>(&mut self, side: &str, d: &Decision<T>) {
        if let DecisionSource::Fallback { reason } = &d.source {
            if side == "baseline" {
                self.baseline_fallbacks += 1;
            } else {
                self.candidate_fallbacks += 1;
            }
            let text = format!("{side}: {reason}");
            if !self.fallback_reasons.contains(&text) && self.fallback_reasons.len() < 10 {
                self.fallback_reasons.push(text);
            }
        }
    }

    fn record(&mut self, kinds: Vec<&str>, max_examples: usize, example: impl FnOnce(Vec<String>) -> DiffExample) {
        self.evaluated += 1;
        if kinds.is_empty() {
            return;
        }
        self.differing += 1;
        for k in &kinds {
            *self.by_kind.entry(k.to_string()).or_default() += 1;
        }
        let kinds: Vec<String> = kinds.into_iter().map(String::from).collect();
        if self.examples.len() < max_examples {
            self.examples.push(example(kinds));
            return;
        }
        // Full: a new combination of kinds replaces the latest example whose combination is shown twice, so
        // the examples cover every kind of difference the run found.
        if max_examples == 0 || self.examples.iter().any(|e| e.kinds == kinds) {
            return;
        }
        let dup = (0..self.examples.len())
            .rev()
            .find(|&i| self.examples.iter().filter(|e| e.kinds == self.examples[i].kinds).count() > 1);
        if let Some(i) = dup {
            self.examples.remove(i);
            self.examples.push(example(kinds));
        }
    }
}

/// Kinds of dunning difference, in report order.
pub const DUNNING_KINDS: [&str; 4] = ["stage", "channels", "legal_demand", "late_fee_amount"];
/// Kinds of SLA difference.
pub const SLA_KINDS: [&str; 6] = ["response", "resolution", "calendar", "pause_statuses", "warn_points", "escalation"];
/// Kinds of credit difference.
pub const CREDIT_KINDS: [&str; 2] = ["verdict", "deposit"];

/// A shadow run: which rules were compared, and the differences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShadowReport {
    pub client: String,
    /// Local date the invoice facts were computed for.
    pub as_of: NaiveDate,
    /// e.g. `active 1.0.0 (sha256 ab12…)` or `default rules (no active plugin)`.
    pub baseline: String,
    pub candidate: String,
    pub reports: Vec<DiffReport>,
}

/// The two sessions a shadow run compares: the baseline (active version or default rules) and the candidate.
pub struct ShadowPair {
    pub baseline: ClientRules,
    pub baseline_label: String,
    pub candidate: ClientRules,
    pub candidate_label: String,
}

/// Open the baseline and candidate sessions. The candidate must be a ready version that loads (a shadow run
/// of a broken candidate is an error, not a report). The baseline is the active version as the functions
/// would load it — if that falls back, the report says so in its fallback counts.
pub async fn shadow_pair(
    ports: &Ports,
    loader: &PluginLoader,
    client: &ClientId,
    candidate_version: &str,
) -> Result<ShadowPair, RegistryError> {
    let (cv, cp) = loader.load_version(ports, client, candidate_version).await?;
    let candidate = loader.runtime().session(client.as_str(), cp);
    let candidate_label = format!("candidate {} (sha256 {})", cv.version, short(&cv.component_sha256));
    let (baseline, origin) = loader.client_rules(ports, client).await;
    let baseline_label = match origin {
        RulesOrigin::Default => "default rules (no active plugin)".to_string(),
        RulesOrigin::Plugin { version, component_sha256 } => {
            format!("active {version} (sha256 {})", short(&component_sha256))
        }
        RulesOrigin::Fallback { version, reason } => {
            format!("default rules (active {} cannot be used: {reason})", version.unwrap_or_default())
        }
    };
    Ok(ShadowPair { baseline, baseline_label, candidate, candidate_label })
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Shadow-run `candidate_version` over the client's open invoices as of `as_of` (dunning + late fee).
pub async fn shadow_invoices(
    ports: &Ports,
    loader: &PluginLoader,
    client: &ClientId,
    candidate_version: &str,
    as_of: NaiveDate,
    max_examples: usize,
) -> Result<ShadowReport, RegistryError> {
    let mut pair = shadow_pair(ports, loader, client, candidate_version).await?;
    let facts = invoice_facts(ports, client, as_of).await?;
    let report = compare_invoices(&mut pair, &facts, max_examples);
    Ok(ShadowReport {
        client: client.to_string(),
        as_of,
        baseline: pair.baseline_label,
        candidate: pair.candidate_label,
        reports: vec![report],
    })
}

fn dunning_view(d: &DunningDecision, fee: &LateFee) -> serde_json::Value {
    serde_json::json!({
        "stage": d.stage,
        "tier": d.tier,
        "channels": d.actions.iter().map(|a| a.channel.as_str()).collect::<Vec<_>>(),
        "legal_demand": d.legal_demand,
        "late_fee": rentops_rules::money::format_money(fee.amount.minor, &fee.amount.currency),
        "late_fee_minor": fee.amount.minor,
    })
}

/// Dunning + late fee of each invoice through both sessions.
pub fn compare_invoices(pair: &mut ShadowPair, facts: &[InvoiceFacts], max_examples: usize) -> DiffReport {
    let mut r = DiffReport::new("dunning", &DUNNING_KINDS);
    for f in facts {
        let bd = pair.baseline.dunning_decide(f);
        let bf = pair.baseline.late_fee(f);
        let cd = pair.candidate.dunning_decide(f);
        let cf = pair.candidate.late_fee(f);
        for (side, d) in [("baseline", &bd), ("candidate", &cd)] {
            r.note(side, d);
        }
        for (side, d) in [("baseline", &bf), ("candidate", &cf)] {
            r.note(side, d);
        }
        let mut kinds = Vec::new();
        if bd.value.stage != cd.value.stage {
            kinds.push("stage");
        }
        let channels = |d: &DunningDecision| {
            let mut c: Vec<_> = d.actions.iter().map(|a| a.channel).collect();
            c.sort();
            c.dedup();
            c
        };
        if channels(&bd.value) != channels(&cd.value) {
            kinds.push("channels");
        }
        if bd.value.legal_demand != cd.value.legal_demand {
            kinds.push("legal_demand");
        }
        if bf.value.amount != cf.value.amount {
            kinds.push("late_fee_amount");
        }
        r.record(kinds, max_examples, |kinds| DiffExample {
            id: f.invoice_id.clone(),
            context: format!("lease {}, day {:+} after due", f.lease_id, f.days_after_due),
            kinds,
            active: dunning_view(&bd.value, &bf.value),
            candidate: dunning_view(&cd.value, &cf.value),
        });
    }
    r
}

fn sla_view(d: &SlaDecision) -> serde_json::Value {
    serde_json::to_value(d).unwrap_or_default()
}

/// SLA decisions of each fixture ticket through both sessions.
pub fn shadow_tickets(pair: &mut ShadowPair, tickets: &[TicketFacts], max_examples: usize) -> DiffReport {
    let mut r = DiffReport::new("sla", &SLA_KINDS);
    for t in tickets {
        let b = pair.baseline.sla_decide(t);
        let c = pair.candidate.sla_decide(t);
        r.note("baseline", &b);
        r.note("candidate", &c);
        let (b_, c_) = (&b.value, &c.value);
        let mut kinds = Vec::new();
        if b_.response_minutes != c_.response_minutes {
            kinds.push("response");
        }
        if b_.resolution_minutes != c_.resolution_minutes {
            kinds.push("resolution");
        }
        if b_.calendar != c_.calendar {
            kinds.push("calendar");
        }
        if b_.pause_statuses != c_.pause_statuses {
            kinds.push("pause_statuses");
        }
        if b_.warn_at_ppm != c_.warn_at_ppm {
            kinds.push("warn_points");
        }
        if b_.escalation != c_.escalation {
            kinds.push("escalation");
        }
        r.record(kinds, max_examples, |kinds| DiffExample {
            id: t.ticket_id.clone(),
            context: format!(
                "{} {} weekday {} minute {}",
                t.device_type,
                t.priority.as_str(),
                t.reported_weekday,
                t.reported_minute_of_day
            ),
            kinds,
            active: sla_view(b_),
            candidate: sla_view(c_),
        });
    }
    r
}

fn credit_view(d: &CreditDecision) -> serde_json::Value {
    serde_json::to_value(d).unwrap_or_default()
}

/// Credit decisions of each fixture applicant through both sessions.
pub fn shadow_applicants(pair: &mut ShadowPair, applicants: &[NamedApplicant], max_examples: usize) -> DiffReport {
    let mut r = DiffReport::new("credit", &CREDIT_KINDS);
    for a in applicants {
        let b = pair.baseline.credit_decide(&a.facts);
        let c = pair.candidate.credit_decide(&a.facts);
        r.note("baseline", &b);
        r.note("candidate", &c);
        let mut kinds = Vec::new();
        if b.value.verdict != c.value.verdict {
            kinds.push("verdict");
        }
        if b.value.deposit_months_ppm != c.value.deposit_months_ppm {
            kinds.push("deposit");
        }
        r.record(kinds, max_examples, |kinds| DiffExample {
            id: a.id.clone(),
            context: format!("score {}", a.facts.credit_score.map(|s| s.to_string()).unwrap_or_else(|| "none".into())),
            kinds,
            active: credit_view(&b.value),
            candidate: credit_view(&c.value),
        });
    }
    r
}

// ------------------------------------------------------------------------------------------------ fixtures

/// An applicant in a fixture file: an id for the report plus the facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedApplicant {
    pub id: String,
    #[serde(flatten)]
    pub facts: ApplicantFacts,
}

/// Fixture facts for `rentops plugin test` and for shadow runs of SLA and credit (tickets and applicants do
/// not exist in the store yet). JSON (`{"invoices": [...], "tickets": [...], "applicants": [...]}`) or TOML
/// (`[[invoices]]`, `[[tickets]]`, `[[applicants]]`), each entry the `rentops-rules` facts record with its
/// contract field names (money as `{ minor = 150000, currency = "CNY" }`); every list is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(default)]
    pub invoices: Vec<InvoiceFacts>,
    #[serde(default)]
    pub tickets: Vec<TicketFacts>,
    #[serde(default)]
    pub applicants: Vec<NamedApplicant>,
}

impl Fixtures {
    /// Parse a fixture file; `name` decides the format (`.toml`, else JSON) and prefixes errors.
    pub fn parse(name: &str, text: &str) -> Result<Fixtures, String> {
        if name.ends_with(".toml") {
            toml::from_str(text).map_err(|e| format!("{name}: {e}"))
        } else {
            serde_json::from_str(text).map_err(|e| format!("{name}:{}:{}: {e}", e.line(), e.column()))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.invoices.is_empty() && self.tickets.is_empty() && self.applicants.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_semver() {
        assert_eq!(sortable_version("2026.1.0").unwrap(), "002026.000001.000000");
        assert!(sortable_version("1.10.0").unwrap() > sortable_version("1.9.0").unwrap());
        for bad in ["1.0", "1.0.0.0", "01.0.0", "1.a.0", "1.0.0-rc1", "", "1234567.0.0", "1..0"] {
            assert!(sortable_version(bad).is_err(), "{bad}");
        }
    }
}
