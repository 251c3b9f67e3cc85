//! Audit events of sensitive actions (`AUDIT` / `<time>#<id>` per client):
//! who, in which role, from which IP, did what, when. Kept with the client's
//! data (retention ≥ 180 days: the table has no TTL on these items).

use chrono::{DateTime, Utc};
use rentops_ports::{ClientId, Condition, Item};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::ctx::Ports;
use crate::keys;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub user: String,
    pub role: String,
    pub source_ip: Option<String>,
    pub action: String,
    pub details: serde_json::Value,
}

/// Record an audit event. Failing to audit fails the caller's request: an
/// action that cannot be audited must not look successful.
pub async fn record(
    ports: &Ports,
    client: &ClientId,
    who: &Principal,
    source_ip: Option<&str>,
    action: &str,
    details: serde_json::Value,
) -> Result<(), rentops_ports::PortError> {
    let item = event_item(ports.clock.now(), who, source_ip, action, details);
    ports.client_store(client).put(item, Condition::NotExists).await.map(|_| ())
}

/// The audit item (relative keys, write it with [`Condition::NotExists`]) for callers that must write the
/// event in the same transaction as the action it records (e.g. a plugin activation: the pointer flip and
/// its audit event land together or not at all).
pub fn event_item(
    at: DateTime<Utc>,
    who: &Principal,
    source_ip: Option<&str>,
    action: &str,
    details: serde_json::Value,
) -> Item {
    let ev = AuditEvent {
        at,
        user: who.user.clone(),
        role: who.role.as_str().to_string(),
        source_ip: source_ip.map(str::to_string),
        action: action.to_string(),
        details,
    };
    let id = uuid::Uuid::now_v7().to_string();
    Item::new(keys::AUDIT, keys::time_sk(at, &id), serde_json::to_value(&ev).expect("serializes"))
}

/// Every audit event of a client, oldest first.
pub async fn events(ports: &Ports, client: &ClientId) -> Result<Vec<AuditEvent>, rentops_ports::PortError> {
    ports
        .client_store(client)
        .query_all(rentops_ports::Query::table(keys::AUDIT, rentops_ports::SkRange::All))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}
