//! Loading a client's portfolio (client → projects → buildings → units;
//! tenants; leases) into the store, and reading it back.
//!
//! The file format is [`PortfolioFile`]: JSON with the domain's own types.
//! Loading validates every reference (a lease's unit must be in its building,
//! in its project; its tenant must exist; currencies must match the client)
//! before writing anything, and is idempotent: records are written with
//! "if not exists", so loading the same file twice changes nothing.

use std::collections::{HashMap, HashSet};

use rentops_domain::Money;
use rentops_domain::lease::Lease;
use rentops_domain::org::{Building, Client, Project, Tenant, Unit};
use rentops_ports::{ClientId, ClientStore, Condition, Item, PortError, keys::prefix};
use serde::{Deserialize, Serialize};

use crate::ctx::Ports;
use crate::keys;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Portfolio {
    pub client: Client,
    #[serde(default)]
    pub billing: crate::billrun::BillingSettings,
    /// The client's own receiving bank accounts: a bank statement is imported
    /// only if it is a statement of one of these.
    #[serde(default)]
    pub bank_accounts: Vec<String>,
    pub projects: Vec<Project>,
    pub buildings: Vec<Building>,
    pub units: Vec<Unit>,
    pub tenants: Vec<Tenant>,
    pub leases: Vec<Lease>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortfolioFile {
    pub clients: Vec<Portfolio>,
}

/// `LEASE#<number>` / `META`: the lease and its account state. Every posting
/// rewrites it with a version condition, which serializes postings per lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaseRecord {
    pub lease: Lease,
    /// Over-payments kept for the tenant, applied to the next bills.
    pub credit: Money,
}

/// `PORTFOLIO` / `LEASE#<number>`: what reports need without reading the lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaseIndex {
    pub number: String,
    pub project_id: String,
    pub building_id: String,
    pub unit_id: String,
    pub tenant_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("portfolio of {client}: {message}")]
    Invalid { client: String, message: String },
    #[error(transparent)]
    Port(#[from] PortError),
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct LoadReport {
    pub client: String,
    pub written: usize,
    pub already_present: usize,
}

/// Check every reference inside one client's portfolio.
pub fn validate(p: &Portfolio) -> Result<ClientId, LoadError> {
    let invalid = |message: String| LoadError::Invalid { client: p.client.id.clone(), message };
    let client = ClientId::new(&p.client.id).map_err(|e| invalid(e.to_string()))?;
    let projects: HashSet<&str> = p.projects.iter().map(|x| x.id.as_str()).collect();
    let buildings: HashMap<&str, &str> = p.buildings.iter().map(|b| (b.id.as_str(), b.project_id.as_str())).collect();
    let units: HashMap<&str, &str> = p.units.iter().map(|u| (u.id.as_str(), u.building_id.as_str())).collect();
    let tenants: HashSet<&str> = p.tenants.iter().map(|t| t.id.as_str()).collect();
    for b in &p.buildings {
        if !projects.contains(b.project_id.as_str()) {
            return Err(invalid(format!("building {} names unknown project {}", b.id, b.project_id)));
        }
    }
    for u in &p.units {
        if !buildings.contains_key(u.building_id.as_str()) {
            return Err(invalid(format!("unit {} names unknown building {}", u.id, u.building_id)));
        }
    }
    let mut seen = HashSet::new();
    for l in &p.leases {
        let n = l.number.as_str();
        if !seen.insert(n) {
            return Err(invalid(format!("lease {n} appears twice")));
        }
        match units.get(l.unit_id.as_str()) {
            None => return Err(invalid(format!("lease {n} names unknown unit {}", l.unit_id))),
            Some(b) if *b != l.building_id => {
                return Err(invalid(format!(
                    "lease {n}: unit {} is in building {b}, not {}",
                    l.unit_id, l.building_id
                )));
            }
            _ => {}
        }
        if buildings.get(l.building_id.as_str()) != Some(&l.project_id.as_str()) {
            return Err(invalid(format!("lease {n}: building {} is not in project {}", l.building_id, l.project_id)));
        }
        if !tenants.contains(l.tenant_id.as_str()) {
            return Err(invalid(format!("lease {n} names unknown tenant {}", l.tenant_id)));
        }
        l.rules.validate(&p.client.currency).map_err(|e| invalid(format!("lease {n}: {e}")))?;
    }
    Ok(client)
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("domain records serialize")
}

/// Write one client's portfolio (idempotent).
pub async fn load(ports: &Ports, p: &Portfolio) -> Result<LoadReport, LoadError> {
    let client = validate(p)?;
    let store = ports.client_store(&client);
    let mut items = vec![
        Item::new(keys::CLIENT, keys::META, json(&p.client)),
        Item::new(keys::CLIENT, crate::billrun::BILLING, json(&p.billing)),
        Item::new(keys::CLIENT, BANK_ACCOUNTS, serde_json::json!({ "accounts": p.bank_accounts })),
    ];
    items.extend(p.projects.iter().map(|x| Item::new(keys::PORTFOLIO, format!("PROJECT#{}", x.id), json(x))));
    items.extend(p.buildings.iter().map(|x| Item::new(keys::PORTFOLIO, format!("BUILDING#{}", x.id), json(x))));
    items.extend(p.units.iter().map(|x| Item::new(keys::PORTFOLIO, format!("UNIT#{}", x.id), json(x))));
    items.extend(p.tenants.iter().map(|x| Item::new(keys::PORTFOLIO, format!("TENANT#{}", x.id), json(x))));
    for l in &p.leases {
        let idx = LeaseIndex {
            number: l.number.as_str().to_string(),
            project_id: l.project_id.clone(),
            building_id: l.building_id.clone(),
            unit_id: l.unit_id.clone(),
            tenant_id: l.tenant_id.clone(),
        };
        items.push(Item::new(keys::PORTFOLIO, format!("LEASE#{}", l.number.as_str()), json(&idx)));
        let rec = LeaseRecord { lease: l.clone(), credit: Money::zero(p.client.currency.clone()) };
        items.push(Item::new(keys::lease(l.number.as_str()), keys::META, json(&rec)));
    }
    let mut report = LoadReport { client: client.to_string(), ..Default::default() };
    for item in items {
        match store.put(item, Condition::NotExists).await {
            Ok(_) => report.written += 1,
            Err(e) if e.is_condition_failure() => report.already_present += 1,
            Err(e) => return Err(e.into()),
        }
    }
    // The global registry the schedules iterate over.
    let reg = Item::new(keys::SYS_CLIENTS, client.as_str(), serde_json::json!({ "id": client.as_str() }));
    match ports.store.put(reg, Condition::NotExists).await {
        Ok(_) => {}
        Err(e) if e.is_condition_failure() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(report)
}

/// `CLIENT` / `BANK`: the client's receiving bank accounts.
pub const BANK_ACCOUNTS: &str = "BANK";

/// The client's receiving bank accounts (normalized: digits and letters only).
pub async fn bank_accounts(store: &ClientStore) -> Result<Vec<String>, PortError> {
    let Some(item) = store.get(keys::CLIENT, BANK_ACCOUNTS).await? else { return Ok(Vec::new()) };
    let accounts: Vec<String> = serde_json::from_value(item.body.get("accounts").cloned().unwrap_or_default())
        .map_err(|e| PortError::Other(format!("bank accounts of {}: {e}", store.client())))?;
    Ok(accounts.iter().map(|a| rentops_domain::org::normalize_account(a)).collect())
}

/// Every registered client (for schedules).
pub async fn clients(ports: &Ports) -> Result<Vec<ClientId>, PortError> {
    let mut q = rentops_ports::Query::table(keys::SYS_CLIENTS, rentops_ports::SkRange::All);
    let mut out = Vec::new();
    loop {
        let page = ports.store.query(q.clone()).await?;
        for it in page.items {
            out.push(ClientId::new(it.sk)?);
        }
        match page.next {
            Some(n) => q.start = Some(n),
            None => return Ok(out),
        }
    }
}

pub async fn client_settings(store: &ClientStore) -> Result<Client, PortError> {
    store
        .get(keys::CLIENT, keys::META)
        .await?
        .ok_or_else(|| PortError::NotFound(format!("client {} has no settings", store.client())))?
        .decode()
}

/// Every lease index entry of a client, in lease-number order.
pub async fn lease_index(store: &ClientStore) -> Result<Vec<LeaseIndex>, PortError> {
    store
        .query_all(rentops_ports::Query::table(keys::PORTFOLIO, prefix("LEASE#")))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}

/// A lease's invoices, oldest period first (every one, open or not).
pub async fn lease_invoices(
    store: &ClientStore,
    lease: &str,
) -> Result<Vec<rentops_domain::billing::Invoice>, PortError> {
    store
        .query_all(rentops_ports::Query::table(keys::lease(lease), prefix("INV#")))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}

/// A lease's ledger entries (payments, refunds, credit applications).
pub async fn lease_entries(
    store: &ClientStore,
    lease: &str,
) -> Result<Vec<rentops_domain::ledger::LedgerEntry>, PortError> {
    store
        .query_all(rentops_ports::Query::table(keys::lease(lease), prefix("ENTRY#")))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}

/// Projects and buildings by id (for report labels).
pub async fn names(store: &ClientStore) -> Result<(HashMap<String, Project>, HashMap<String, Building>), PortError> {
    let projects = store
        .query_all(rentops_ports::Query::table(keys::PORTFOLIO, prefix("PROJECT#")))
        .await?
        .iter()
        .map(|i| i.decode::<Project>().map(|p| (p.id.clone(), p)))
        .collect::<Result<_, _>>()?;
    let buildings = store
        .query_all(rentops_ports::Query::table(keys::PORTFOLIO, prefix("BUILDING#")))
        .await?
        .iter()
        .map(|i| i.decode::<Building>().map(|b| (b.id.clone(), b)))
        .collect::<Result<_, _>>()?;
    Ok((projects, buildings))
}
