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
    let at = ports.clock.now();
    let ev = AuditEvent {
        at,
        user: who.user.clone(),
        role: who.role.as_str().to_string(),
        source_ip: source_ip.map(str::to_string),
        action: action.to_string(),
        details,
    };
    let id = uuid::Uuid::now_v7().to_string();
    let item = Item::new(keys::AUDIT, keys::time_sk(at, &id), serde_json::to_value(&ev).expect("serializes"));
    ports.client_store(client).put(item, Condition::NotExists).await.map(|_| ())
}
