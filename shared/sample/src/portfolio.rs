//! The sample portfolio ([`portfolio`]) and the provider secrets the demo's clients are
//! configured with ([`secrets_file`]).
//!
//! `acme-properties` (main client, sizes from the spec): projects cycle through an office park,
//! a long-stay apartment complex and a parking/industrial site; buildings and units are spread
//! over them by weight; persons and companies rent them (companies sometimes several units);
//! rents CNY 600 (a parking bay) to 45,000 (a warehouse) per month, ~1 in 8 office/warehouse
//! leases quarterly, due days 1..31 (some 31 and some leases starting on the 31st), deposits,
//! yearly escalation on some, starts 2024-01..2026-11, ends 2027..2029.
//!
//! `lotus-parking` (always 20 leases on 30 bays): tenants pay by Stripe and WeChat Pay only; its
//! lease numbers (L-000001..) and so its order numbers overlap acme's on purpose — client
//! isolation must keep them apart.

use chrono::{Datelike, Months, NaiveDate};
use rentops_app::billrun::BillingSettings;
use rentops_app::portfolio::{Portfolio, PortfolioFile};
use rentops_codecs::ProviderConfig;
use rentops_codecs::testkit::sample_provider_config;
use rentops_domain::lease::{BillingRules, Cycle, Escalation, Lease, PeriodAnchor};
use rentops_domain::org::{
    AllocationPolicy, Building, Client, LeaseNumber, PayerAccount, Project, Tenant, TenantKind, Unit,
};
use rentops_domain::{Currency, Money};
use rust_decimal::Decimal;

use crate::names;
use crate::rng::Rng;
use crate::{SampleSpec, TZ};

pub const MAIN_CLIENT: &str = "acme-properties";
pub const SECOND_CLIENT: &str = "lotus-parking";
/// Leases of the second client (fixed, whatever the spec).
pub const SECOND_CLIENT_LEASES: usize = 20;
const SECOND_CLIENT_UNITS: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProjectKind {
    Office,
    Apartments,
    Industrial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitKind {
    Office,
    Apartment,
    ParkingBay,
    Warehouse,
}

const PROJECT_KINDS: [ProjectKind; 3] = [ProjectKind::Office, ProjectKind::Apartments, ProjectKind::Industrial];

/// The sample portfolio: `acme-properties` sized by `spec`, then `lotus-parking`.
pub fn portfolio(spec: &SampleSpec) -> PortfolioFile {
    let spec = spec.normalized();
    let mut rng = Rng::stream(spec.seed, "portfolio");
    let main = main_client(&spec, &mut rng);
    let mut rng2 = Rng::stream(spec.seed, "portfolio-lotus");
    let second = second_client(&spec, &mut rng2);
    PortfolioFile { clients: vec![main, second] }
}

/// The embedded `FileSecrets` JSON: `{"rentops/<client>/providers": "<ProviderConfig JSON>"}`
/// with the TEST keys of `rentops_codecs::testkit::sample_provider_config` (both clients share
/// the test keys; `lotus-parking` configures only Stripe and WeChat Pay).
pub fn secrets_file(p: &PortfolioFile) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for c in &p.clients {
        let config = provider_config(&c.client.id);
        let text = serde_json::to_string(&config).expect("provider config serializes");
        map.insert(format!("rentops/{}/providers", c.client.id), serde_json::Value::String(text));
    }
    serde_json::Value::Object(map)
}

/// The provider configuration a sample client has (see [`secrets_file`]).
pub fn provider_config(client: &str) -> ProviderConfig {
    let mut config = sample_provider_config();
    if client == SECOND_CLIENT {
        config.alipay = None;
        config.unionpay = None;
    }
    config
}

fn billing(spec: &SampleSpec) -> BillingSettings {
    BillingSettings {
        bill_days_ahead: spec.bill_days_ahead(),
        billing_from: Some(spec.billing_from()),
        payment_request_days: 90,
    }
}

fn client(id: &str, name: &str) -> Client {
    Client {
        id: id.into(),
        name: name.into(),
        time_zone: TZ,
        currency: Currency::cny(),
        allocation: AllocationPolicy::OldestFirst,
    }
}

/// Split `total` by `weights` (largest remainder; deterministic tie-break by position).
fn apportion(total: usize, weights: &[u32]) -> Vec<usize> {
    let sum: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if sum == 0 || weights.is_empty() {
        return vec![0; weights.len()];
    }
    let mut out: Vec<usize> = weights.iter().map(|w| (total as u64 * u64::from(*w) / sum) as usize).collect();
    let mut rema: Vec<(u64, usize)> =
        weights.iter().enumerate().map(|(i, w)| ((total as u64 * u64::from(*w)) % sum, i)).collect();
    rema.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut left = total - out.iter().sum::<usize>();
    for (_, i) in rema {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

struct UnitInfo {
    unit: Unit,
    kind: UnitKind,
    project_id: String,
}

fn main_client(spec: &SampleSpec, rng: &mut Rng) -> Portfolio {
    // Projects.
    let mut projects = Vec::new();
    let mut kinds = Vec::new();
    for i in 0..spec.projects {
        let kind = PROJECT_KINDS[i % 3];
        let (slug, name) = match kind {
            ProjectKind::Office => ("office", "示例滨江科技园"),
            ProjectKind::Apartments => ("apartments", "示例悦居长租公寓"),
            ProjectKind::Industrial => ("industrial", "示例东港停车及仓储园"),
        };
        let round = i / 3;
        let name = if round == 0 { name.to_string() } else { format!("{name}{}期", round + 1) };
        projects.push(Project { id: format!("p{}-{slug}", i + 1), name });
        kinds.push(kind);
    }
    // Buildings: office 4, apartments 4, industrial 2 by weight, at least one per project.
    let weights: Vec<u32> = kinds
        .iter()
        .map(|k| match k {
            ProjectKind::Office | ProjectKind::Apartments => 4,
            ProjectKind::Industrial => 2,
        })
        .collect();
    let mut per_project = apportion(spec.buildings - spec.projects, &weights);
    for n in per_project.iter_mut() {
        *n += 1;
    }
    let mut buildings: Vec<(Building, UnitKind)> = Vec::new();
    for (pi, p) in projects.iter().enumerate() {
        for j in 0..per_project[pi] {
            let (code, name, kind) = match kinds[pi] {
                ProjectKind::Office => {
                    let letter = char::from(b'A' + (j % 26) as u8);
                    (format!("{}", letter.to_ascii_lowercase()), format!("{letter}座"), UnitKind::Office)
                }
                ProjectKind::Apartments => (format!("t{}", j + 1), format!("{}号楼", j + 1), UnitKind::Apartment),
                ProjectKind::Industrial if j % 2 == 0 => {
                    (format!("p{}", j / 2 + 1), format!("P{} 停车楼", j / 2 + 1), UnitKind::ParkingBay)
                }
                ProjectKind::Industrial => {
                    (format!("w{}", j / 2 + 1), format!("W{} 仓库", j / 2 + 1), UnitKind::Warehouse)
                }
            };
            buildings.push((Building { id: format!("{}-{code}", p.id), project_id: p.id.clone(), name }, kind));
        }
    }
    // Units by building weight.
    let unit_weights: Vec<u32> = buildings
        .iter()
        .map(|(_, k)| match k {
            UnitKind::Office => 5,
            UnitKind::Apartment => 6,
            UnitKind::ParkingBay => 4,
            UnitKind::Warehouse => 1,
        })
        .collect();
    let per_building = apportion(spec.units, &unit_weights);
    let mut units: Vec<UnitInfo> = Vec::new();
    for (bi, (b, kind)) in buildings.iter().enumerate() {
        for k in 0..per_building[bi] {
            let (name, area) = match kind {
                UnitKind::Office => {
                    let floor = 2 + k / 8;
                    let area = Decimal::new(rng.range(80, 600) * 5, 1); // 40.0..300.0 m² in 0.5 steps
                    (format!("{} {}{:02}", b.name, floor, k % 8 + 1), Some(area))
                }
                UnitKind::Apartment => {
                    let floor = 2 + k / 6;
                    (format!("{} {}{:02}", b.name, floor, k % 6 + 1), Some(Decimal::from(rng.range(35, 95))))
                }
                UnitKind::ParkingBay => {
                    let level = 1 + k / 120;
                    (format!("{} B{level}-{:03}", b.name, k % 120 + 1), Some(Decimal::new(125, 1)))
                }
                UnitKind::Warehouse => {
                    (format!("{} {:02}号库", b.name, k + 1), Some(Decimal::from(rng.range(30, 150) * 10)))
                }
            };
            let unit = Unit { id: format!("{}-{:04}", b.id, k + 1), building_id: b.id.clone(), name, area_m2: area };
            units.push(UnitInfo { unit, kind: *kind, project_id: b.project_id.clone() });
        }
    }
    // Which units are let: a random subset, numbered in unit order.
    let mut idx: Vec<usize> = (0..units.len()).collect();
    rng.shuffle(&mut idx);
    let mut let_units: Vec<usize> = idx.into_iter().take(spec.leases).collect();
    let_units.sort_unstable();

    let mut tenants: Vec<Tenant> = Vec::new();
    let mut company_tenants_by_project: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    let mut company_names = std::collections::BTreeSet::new();
    let mut leases = Vec::new();
    for (n, &ui) in let_units.iter().enumerate() {
        let u = &units[ui];
        let company = match u.kind {
            UnitKind::Office => rng.percent(90),
            UnitKind::Apartment => rng.percent(5),
            UnitKind::ParkingBay => rng.percent(40),
            UnitKind::Warehouse => true,
        };
        let existing = company_tenants_by_project.get(&u.project_id).cloned().unwrap_or_default();
        let tenant_idx = if company && !existing.is_empty() && rng.percent(20) {
            existing[rng.index(existing.len())]
        } else {
            let t = new_tenant(rng, tenants.len() + 1, company, &mut company_names);
            tenants.push(t);
            if company {
                company_tenants_by_project.entry(u.project_id.clone()).or_default().push(tenants.len() - 1);
            }
            tenants.len() - 1
        };
        let number = LeaseNumber::from_sequence(n as u32 + 1).expect("lease sequence below 1,000,000");
        let rules = lease_rules(rng, u.kind, u.unit.area_m2);
        let mut lease = Lease::new(
            number,
            &u.unit.id,
            &u.unit.building_id,
            &u.project_id,
            &tenants[tenant_idx].id,
            rules,
            &Currency::cny(),
        )
        .unwrap_or_else(|e| panic!("sample generator produced an invalid lease: {e}"));
        if rng.percent(60) {
            lease.contract_ref = Some(format!("HT-{}-{:04}", lease.rules.start.year(), n + 1));
        }
        leases.push(lease);
    }
    Portfolio {
        client: client(MAIN_CLIENT, "示例物业 Acme Properties"),
        billing: billing(spec),
        bank_accounts: vec![crate::statements::ICBC_ACCOUNT.to_string(), crate::statements::CMB_ACCOUNT.to_string()],
        projects,
        buildings: buildings.into_iter().map(|(b, _)| b).collect(),
        units: units.into_iter().map(|u| u.unit).collect(),
        tenants,
        leases,
    }
}

fn new_tenant(
    rng: &mut Rng,
    seq: usize,
    company: bool,
    company_names: &mut std::collections::BTreeSet<String>,
) -> Tenant {
    let id = format!("t-{seq:04}");
    if company {
        let mut name = names::company(rng, 0);
        let mut k = 1;
        while company_names.contains(&name) {
            k += 1;
            name = names::company(rng, k);
        }
        company_names.insert(name.clone());
        let (account, bank) = names::corporate_account(rng);
        let mut t = Tenant::new(&id, &name, TenantKind::Company).expect("valid tenant");
        t.email = Some(format!("finance@tenant-{seq:04}.example.com"));
        t.phone = Some(format!("021-5000{}", rng.digits(4)));
        t.payer_accounts.push(PayerAccount { account, holder_name: Some(name), bank: Some(bank.into()) });
        t
    } else {
        let name = names::person(rng);
        let (account, bank) = names::card(rng);
        let mut t = Tenant::new(&id, &name, TenantKind::Person).expect("valid tenant");
        t.phone = Some(format!("138-0000-{}", rng.digits(4)));
        t.payer_accounts.push(PayerAccount { account, holder_name: Some(name.clone()), bank: Some(bank.into()) });
        if rng.percent(15) {
            let (account, bank) = names::card(rng);
            t.payer_accounts.push(PayerAccount { account, holder_name: Some(name), bank: Some(bank.into()) });
        }
        t
    }
}

fn round_to(d: Decimal, step: i64) -> Decimal {
    let s = Decimal::from(step);
    (d / s).round() * s
}

/// Months with 31 days between 2024-01 and 2026-10 (for leases starting on the 31st).
fn day31_starts() -> Vec<NaiveDate> {
    let mut out = Vec::new();
    for y in 2024..=2026 {
        for m in [1, 3, 5, 7, 8, 10, 12] {
            if let Some(d) = NaiveDate::from_ymd_opt(y, m, 31)
                && d <= NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or(d)
            {
                out.push(d);
            }
        }
    }
    out
}

fn lease_rules(rng: &mut Rng, kind: UnitKind, area: Option<Decimal>) -> BillingRules {
    let monthly = match kind {
        UnitKind::Office => {
            let a = area.unwrap_or(Decimal::from(100));
            round_to(a * Decimal::from(rng.range(80, 150)), 10).clamp(Decimal::from(1800), Decimal::from(45000))
        }
        UnitKind::Apartment => Decimal::from(50 * rng.range(36, 190)),
        UnitKind::ParkingBay => Decimal::from(50 * rng.range(12, 30)),
        UnitKind::Warehouse => Decimal::from(100 * rng.range(80, 450)),
    };
    let quarterly = match kind {
        UnitKind::Office => rng.percent(12),
        UnitKind::Warehouse => rng.percent(40),
        UnitKind::ParkingBay => rng.percent(15),
        UnitKind::Apartment => false,
    };
    let anchor =
        if kind == UnitKind::Apartment && rng.percent(20) { PeriodAnchor::Calendar } else { PeriodAnchor::LeaseStart };
    let mut due_day: u8 = match kind {
        UnitKind::ParkingBay => *rng.pick(&[1u8, 1, 5]).unwrap_or(&1),
        _ => *rng.pick(&[1u8, 1, 5, 5, 10, 15, 20, 25, 28, 31]).unwrap_or(&1),
    };
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    let last = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default();
    let mut start = first + chrono::Duration::days(rng.range(0, (last - first).num_days()));
    if !quarterly && anchor == PeriodAnchor::LeaseStart && rng.percent(4) {
        let choices = day31_starts();
        if let Some(d) = rng.pick(&choices) {
            start = *d;
            due_day = 31;
        }
    }
    if quarterly && rng.percent(75) {
        // Quarters starting in Mar/Jun/Sep/Dec bill in December.
        let m = start.month().div_ceil(3) * 3;
        let (y, m) = if start.year() == 2026 && m == 12 { (2026, 9) } else { (start.year(), m) };
        start = NaiveDate::from_ymd_opt(y, m, start.day().min(28)).unwrap_or(start);
    }
    let mut years = (2027 - start.year()) as u32 + rng.below(3) as u32;
    let end = loop {
        let end = start.checked_add_months(Months::new(12 * years)).and_then(|d| d.pred_opt()).unwrap_or(start);
        if end.year() >= 2027 {
            break end;
        }
        years += 1;
    };
    let deposit_months = match kind {
        UnitKind::Office => *rng.pick(&[2i64, 3, 3]).unwrap_or(&3),
        UnitKind::Warehouse => *rng.pick(&[2i64, 3]).unwrap_or(&3),
        UnitKind::Apartment => *rng.pick(&[1i64, 2]).unwrap_or(&1),
        UnitKind::ParkingBay => *rng.pick(&[0i64, 1]).unwrap_or(&0),
    };
    let escalation = match kind {
        UnitKind::Office if rng.percent(40) => Some(Decimal::from(*rng.pick(&[3i64, 3, 5]).unwrap_or(&3))),
        UnitKind::Warehouse if rng.percent(50) => Some(Decimal::from(3)),
        UnitKind::Apartment if rng.percent(10) => Some(Decimal::from(2)),
        _ => None,
    };
    let cycle = if quarterly { Cycle::Quarterly } else { Cycle::Monthly };
    BillingRules {
        rent: Money::cny(monthly * Decimal::from(cycle.months())),
        cycle,
        due_day,
        deposit: Money::cny(monthly * Decimal::from(deposit_months)),
        escalation: escalation.map(|p| Escalation { yearly_percent: p }),
        anchor,
        start,
        end,
    }
}

fn second_client(spec: &SampleSpec, rng: &mut Rng) -> Portfolio {
    let project = Project { id: "lp-plaza".into(), name: "荷花广场停车场（示例）".into() };
    let buildings = vec![
        Building { id: "lp-north".into(), project_id: project.id.clone(), name: "北区地面停车场".into() },
        Building { id: "lp-south".into(), project_id: project.id.clone(), name: "南区地下车库".into() },
    ];
    let mut units = Vec::new();
    for k in 0..SECOND_CLIENT_UNITS {
        let b = &buildings[k % 2];
        let name = if k % 2 == 0 { format!("N-{:03}", k / 2 + 1) } else { format!("B1-{:03}", k / 2 + 1) };
        units.push(Unit {
            id: format!("{}-{:03}", b.id, k / 2 + 1),
            building_id: b.id.clone(),
            name,
            area_m2: Some(Decimal::new(125, 1)),
        });
    }
    let mut tenants = Vec::new();
    let mut leases = Vec::new();
    let mut company_names = std::collections::BTreeSet::new();
    for n in 0..SECOND_CLIENT_LEASES {
        let u = &units[n];
        let company = rng.percent(15);
        let t = new_tenant(rng, n + 1, company, &mut company_names);
        let start = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default() + chrono::Duration::days(rng.range(0, 650));
        let years = (2027 - start.year()) as u32 + rng.below(2) as u32;
        let mut end = start.checked_add_months(Months::new(12 * years)).and_then(|d| d.pred_opt()).unwrap_or(start);
        if end.year() < 2027 {
            end = end.checked_add_months(Months::new(12)).unwrap_or(end);
        }
        let rent = Decimal::from(50 * rng.range(8, 24));
        let rules = BillingRules {
            rent: Money::cny(rent),
            cycle: Cycle::Monthly,
            due_day: *rng.pick(&[1u8, 5]).unwrap_or(&1),
            deposit: Money::cny(if rng.percent(50) { Decimal::from(500) } else { Decimal::ZERO }),
            escalation: None,
            anchor: PeriodAnchor::LeaseStart,
            start,
            end,
        };
        let number = LeaseNumber::from_sequence(n as u32 + 1).expect("lease sequence");
        let lease = Lease::new(number, &u.id, &u.building_id, &project.id, &t.id, rules, &Currency::cny())
            .unwrap_or_else(|e| panic!("sample generator produced an invalid lease: {e}"));
        tenants.push(t);
        leases.push(lease);
    }
    Portfolio {
        client: client(SECOND_CLIENT, "示例荷花停车 Lotus Parking"),
        billing: billing(spec),
        bank_accounts: vec!["6217000011112222333".to_string()],
        projects: vec![project],
        buildings,
        units,
        tenants,
        leases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_and_weights() {
        assert_eq!(apportion(10, &[4, 4, 2]), vec![4, 4, 2]);
        assert_eq!(apportion(7, &[4, 4, 2]), vec![3, 3, 1]);
        assert_eq!(apportion(500, &[5, 5, 6, 6, 4, 1]).iter().sum::<usize>(), 500);
        assert_eq!(apportion(3, &[]), Vec::<usize>::new());
    }
}
