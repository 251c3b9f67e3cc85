//! Read-side reports for finance staff and operators: receivable vs received
//! by project and building, the suspense list, rejected notifications.

use chrono::{DateTime, Utc};
use rentops_domain::matching::SuspenseItem;
use rentops_domain::summary::{CollectionSummary, InvoiceRow};
use rentops_ports::{ClientId, PortError, Query, SkRange};

use crate::ctx::Ports;
use crate::keys;
use crate::portfolio;
use crate::webhook::RejectedRecord;

/// Receivable vs received for one client as of `now` (its local date).
pub async fn collection_summary(
    ports: &Ports,
    client: &ClientId,
    now: DateTime<Utc>,
) -> Result<CollectionSummary, PortError> {
    let store = ports.client_store(client);
    let settings = portfolio::client_settings(&store).await?;
    let (projects, buildings) = portfolio::names(&store).await?;
    let mut rows = Vec::new();
    for idx in portfolio::lease_index(&store).await? {
        let project_name =
            projects.get(&idx.project_id).map(|p| p.name.clone()).unwrap_or_else(|| idx.project_id.clone());
        let building_name =
            buildings.get(&idx.building_id).map(|b| b.name.clone()).unwrap_or_else(|| idx.building_id.clone());
        for invoice in portfolio::lease_invoices(&store, &idx.number).await? {
            rows.push(InvoiceRow {
                project_id: idx.project_id.clone(),
                project_name: project_name.clone(),
                building_id: idx.building_id.clone(),
                building_name: building_name.clone(),
                invoice,
            });
        }
    }
    let as_of = now.with_timezone(&settings.time_zone).date_naive();
    CollectionSummary::build(&rows, as_of, settings.time_zone, &settings.currency)
        .map_err(|e| PortError::Other(format!("summary of {client}: {e}")))
}

/// Suspense items, oldest first.
pub async fn suspense(ports: &Ports, client: &ClientId) -> Result<Vec<SuspenseItem>, PortError> {
    ports
        .client_store(client)
        .query_all(Query::table(keys::SUSPENSE, SkRange::All))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}

/// Notifications that failed verification, oldest first.
pub async fn rejected(ports: &Ports, client: &ClientId) -> Result<Vec<RejectedRecord>, PortError> {
    ports
        .client_store(client)
        .query_all(Query::table(keys::REJECTED, SkRange::All))
        .await?
        .iter()
        .map(|i| i.decode())
        .collect()
}
