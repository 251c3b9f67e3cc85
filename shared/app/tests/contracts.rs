//! Contract templates and contracts on the embedded backend (issue 6): only legal publishes; versions are
//! immutable and supersede each other for new contracts, notifying the roles that use them; contracts link to
//! the lease, unit, tenant and billing rules and record their template version; approvals in chain order,
//! signing only when approved; renewals, amendments and terminations are new linked records (a chain is a
//! line: concurrent amendments of one record, one wins); concurrent drafts get distinct numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rentops_app::Ports;
use rentops_app::auth::{AuthError, Principal, Role};
use rentops_app::contracts::{self, ContractsError};
use rentops_app::{audit, portfolio};
use rentops_domain::contracts::{
    ContractError, ContractId, NewContract, RecordKind, Signatory, TemplateDraft, TemplateId,
};
use rentops_domain::org::LeaseNumber;
use rentops_embedded::EmbeddedBackend;
use rentops_ports::{ClientId, ManualClock};
use rentops_sample::{MAIN_CLIENT, SECOND_CLIENT, SampleSpec};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn at(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap()
}

struct Env {
    _dir: tempfile::TempDir,
    _backend: EmbeddedBackend,
    ports: Ports,
    clock: Arc<ManualClock>,
}

fn env() -> Env {
    env_with(10)
}

fn env_with(leases: usize) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let backend = EmbeddedBackend::open(dir.path().join("data")).unwrap();
    let clock = Arc::new(ManualClock::at(at(2, 9)));
    let mut ports =
        Ports::new(backend.store.clone(), backend.queue.clone(), backend.blob.clone(), backend.secrets.clone());
    ports.clock = clock.clone();
    let spec = SampleSpec { seed: 7, year: 2026, month: 12, projects: 1, buildings: 2, units: leases + 2, leases };
    rt().block_on(async {
        for p in &rentops_sample::portfolio(&spec).clients {
            portfolio::load(&ports, p).await.unwrap();
        }
    });
    Env { _dir: dir, _backend: backend, ports, clock }
}

fn acme() -> ClientId {
    ClientId::new(MAIN_CLIENT).unwrap()
}

fn who(user: &str, role: Role) -> Principal {
    Principal { client: acme(), user: user.into(), role }
}

const OFFICE_V1: &str = "# Office lease {{contract_id}}\n\nLease {{lease}}, unit {{unit}}, tenant {{tenant}}.\nRent {{rent}} ({{cycle}}), due day {{due_day}}, deposit {{deposit}}, from {{start}} to {{end}}.\nPermitted use: {{use}}.\n";
const OFFICE_V2: &str = "# Office lease {{contract_id}} (2026 edition)\n\nLease {{lease}}, unit {{unit}}, tenant {{tenant}}.\nRent {{rent}} ({{cycle}}), due day {{due_day}}, deposit {{deposit}}, from {{start}} to {{end}}.\nPermitted use: {{use}}. Data protection: clause 14 applies.\n";

fn office(body: &str, note: &str) -> TemplateDraft {
    TemplateDraft {
        template: TemplateId::new("office-lease").unwrap(),
        title: "Office lease".into(),
        kind: RecordKind::Original,
        body: body.into(),
        used_by: vec!["front_desk".into(), "finance".into(), "supervisor".into()],
        approval_chain: vec![],
        required_attachments: vec!["id-copy".into()],
        change_note: note.into(),
    }
}

fn simple(template: &str, kind: RecordKind) -> TemplateDraft {
    TemplateDraft {
        template: TemplateId::new(template).unwrap(),
        title: template.replace('-', " "),
        kind,
        body: format!("{template} {{{{contract_id}}}} of lease {{{{lease}}}} from {{{{start}}}}: {{{{reason}}}}\n"),
        used_by: vec![],
        approval_chain: vec![],
        required_attachments: vec![],
        change_note: String::new(),
    }
}

async fn lease(ports: &Ports, i: usize) -> LeaseNumber {
    let idx = portfolio::lease_index(&ports.client_store(&acme())).await.unwrap();
    LeaseNumber::new(&idx[i].number).unwrap()
}

async fn original(env: &Env, lease_no: &LeaseNumber) -> NewContract {
    let id_copy = contracts::store_attachment(
        &env.ports,
        &acme(),
        "id-copy",
        format!("ID card scan, lease {lease_no}").into_bytes(),
        "image/png",
    )
    .await
    .unwrap();
    NewContract {
        kind: RecordKind::Original,
        template: TemplateId::new("office-lease").unwrap(),
        parent: None,
        lease: lease_no.clone(),
        billing: None,
        effective_from: None,
        terms: BTreeMap::from([("use".to_string(), "software development office".to_string())]),
        attachments: vec![id_copy],
        note: String::new(),
    }
}

fn linked(kind: RecordKind, template: &str, parent: &ContractId, lease: &LeaseNumber, from: NaiveDate) -> NewContract {
    NewContract {
        kind,
        template: TemplateId::new(template).unwrap(),
        parent: Some(parent.clone()),
        lease: lease.clone(),
        billing: None,
        effective_from: Some(from),
        terms: BTreeMap::from([("reason".to_string(), format!("{} agreed", kind.as_str()))]),
        attachments: vec![],
        note: String::new(),
    }
}

fn signatories(h: u32) -> Vec<Signatory> {
    ["tenant", "landlord"]
        .iter()
        .map(|p| Signatory {
            party: p.to_string(),
            name: format!("{p} signatory"),
            identity_check: "id-card+face".into(),
            intent_confirmed: true,
            signed_at: at(20, h),
        })
        .collect()
}

/// Approve every step of `id` (finance → legal → supervisor or the record's chain) and sign it.
async fn approve_and_sign(env: &Env, id: &ContractId) {
    let store = env.ports.client_store(&acme());
    let chain = contracts::contract(&store, id).await.unwrap().unwrap().contract.approval_chain;
    for role in chain {
        let r = Role::parse(&role).unwrap();
        contracts::approve(&env.ports, &who(&format!("{role}-approver"), r), &acme(), id, "checked").await.unwrap();
    }
    env.clock.advance(chrono::Duration::minutes(1));
    let doc = format!("%PDF-1.7 signed {id}\n").into_bytes();
    contracts::sign(&env.ports, &who("desk", Role::FrontDesk), &acme(), id, doc, signatories(10)).await.unwrap();
}

#[test]
fn only_legal_publishes_versions_supersede_and_users_are_notified() {
    let env = env();
    let ports = &env.ports;
    rt().block_on(async {
        let store = ports.client_store(&acme());
        for role in [Role::Supervisor, Role::Finance, Role::FrontDesk, Role::Operator] {
            let err = contracts::publish_template(ports, &who("x", role), &acme(), office(OFFICE_V1, "")).await.unwrap_err();
            assert!(matches!(err, ContractsError::Auth(AuthError::Forbidden { .. })), "{role:?}: {err}");
        }
        // Legal of another client.
        let beta = Principal { client: ClientId::new(SECOND_CLIENT).unwrap(), user: "lee".into(), role: Role::Legal };
        let err = contracts::publish_template(ports, &beta, &acme(), office(OFFICE_V1, "")).await.unwrap_err();
        assert!(matches!(err, ContractsError::Auth(AuthError::WrongClient { .. })), "{err}");
        assert!(contracts::templates(&store).await.unwrap().is_empty());

        let legal = who("lee", Role::Legal);
        let p1 = contracts::publish_template(ports, &legal, &acme(), office(OFFICE_V1, "first edition")).await.unwrap();
        assert!(p1.new);
        assert_eq!((p1.version.version, p1.version.supersedes), (1, None));
        assert_eq!(p1.version.approval_chain, vec!["finance", "legal", "supervisor"], "the kind's default chain");
        assert_eq!(p1.version.fields, vec!["contract_id", "cycle", "deposit", "due_day", "end", "lease", "rent", "start", "tenant", "unit", "use"]);
        // Publishing the same again (a retried command) changes nothing.
        env.clock.advance(chrono::Duration::hours(1));
        let again = contracts::publish_template(ports, &legal, &acme(), office(OFFICE_V1, "first edition")).await.unwrap();
        assert!(!again.new);
        assert_eq!(again.version, p1.version);

        env.clock.set(at(3, 9));
        let p2 = contracts::publish_template(ports, &legal, &acme(), office(OFFICE_V2, "clause 14 (data protection) added"))
            .await
            .unwrap();
        assert_eq!((p2.version.version, p2.version.supersedes), (2, Some(1)));
        assert_eq!(p2.notified, vec![Role::FrontDesk, Role::Finance, Role::Supervisor]);
        let heads = contracts::templates(&store).await.unwrap();
        assert_eq!(heads.len(), 1);
        assert_eq!((heads[0].version, heads[0].published_at), (2, at(3, 9)));
        // v1 is still there, unchanged, with its own text.
        let versions = contracts::template_versions(&store, &p1.version.template).await.unwrap();
        assert_eq!(versions, vec![p1.version.clone(), p2.version.clone()]);
        assert_eq!(contracts::template_body(ports, &versions[0]).await.unwrap(), OFFICE_V1);
        assert_eq!(contracts::template_body(ports, &versions[1]).await.unwrap(), OFFICE_V2);
        // A template keeps its kind.
        let mut wrong = office(OFFICE_V2, "");
        wrong.kind = RecordKind::Amendment;
        let err = contracts::publish_template(ports, &legal, &acme(), wrong).await.unwrap_err();
        assert!(err.to_string().contains("a new template is needed for amendment"), "{err}");
        // Role names are checked; tenants do not approve.
        let mut bad = office(OFFICE_V2, "");
        bad.approval_chain = vec!["tenant".into()];
        assert!(matches!(
            contracts::publish_template(ports, &legal, &acme(), bad).await.unwrap_err(),
            ContractsError::Rule(ContractError::Invalid { field: "approval_chain", .. })
        ));

        // Each role that uses the template was notified of each version; legal (not a user) was not.
        for role in [Role::FrontDesk, Role::Finance, Role::Supervisor] {
            let inbox = contracts::role_inbox(&store, role).await.unwrap();
            assert_eq!(inbox.iter().map(|n| n.version).collect::<Vec<_>>(), vec![1, 2], "{role:?}");
            assert_eq!(
                inbox[1].message,
                "Office lease (office-lease) v2 published by lee; it replaces v1 for new contracts. clause 14 (data protection) added"
            );
        }
        assert!(contracts::role_inbox(&store, Role::Legal).await.unwrap().is_empty());
        let events = audit::events(ports, &acme()).await.unwrap();
        let published: Vec<_> = events.iter().filter(|e| e.action == "contract_template.published").collect();
        assert_eq!(published.len(), 2);
        assert_eq!(published[1].details["notified"], serde_json::json!(["front_desk", "finance", "supervisor"]));
        assert_eq!(published[1].user, "lee");
    });
}

#[test]
fn contracts_link_to_the_lease_record_their_version_and_are_approved_then_signed() {
    let env = env();
    let ports = &env.ports;
    rt().block_on(async {
        let store = ports.client_store(&acme());
        let legal = who("lee", Role::Legal);
        contracts::publish_template(ports, &legal, &acme(), office(OFFICE_V1, "")).await.unwrap();
        env.clock.set(at(4, 9));
        let l0 = lease(ports, 0).await;
        let req = original(&env, &l0).await;
        // Front desk may not draft; nor may a tenant.
        for role in [Role::FrontDesk, Role::Tenant] {
            let err = contracts::create_contract(ports, &who("desk", role), &acme(), req.clone()).await.unwrap_err();
            assert!(matches!(err, ContractsError::Auth(AuthError::Forbidden { .. })), "{err}");
        }
        // The required attachment must be there.
        let mut no_attachment = req.clone();
        no_attachment.attachments.clear();
        let err =
            contracts::create_contract(ports, &who("sam", Role::Supervisor), &acme(), no_attachment).await.unwrap_err();
        assert_eq!(err.to_string(), "attachments: template office-lease v1 requires id-copy");

        let c1 = contracts::create_contract(ports, &who("sam", Role::Supervisor), &acme(), req.clone()).await.unwrap();
        assert_eq!(c1.id.as_str(), "CT-000001");
        assert_eq!((c1.template.template.as_str(), c1.template.version), ("office-lease", 1));
        let link = contracts::lease_link(&store, &l0).await.unwrap().unwrap();
        assert_eq!((&c1.unit_id, &c1.tenant_id, &c1.building_id), (&link.unit_id, &link.tenant_id, &link.building_id));
        assert_eq!(c1.billing, link.billing, "the lease's billing rules");
        assert_eq!(c1.document_key, format!("contracts/{MAIN_CLIENT}/CT-000001/signed.pdf"));
        // The draft is the template with the lease's data.
        let draft = String::from_utf8(ports.blob.get(&c1.draft_key).await.unwrap().unwrap()).unwrap();
        assert!(draft.starts_with("# Office lease CT-000001\n\nLease L-"), "{draft}");
        let cycle = format!("{:?}", link.billing.cycle).to_lowercase();
        assert!(
            draft.contains(&format!(
                "Rent {} ({cycle}), due day {},",
                link.billing.rent.grouped(),
                link.billing.due_day
            )),
            "{draft}"
        );
        assert!(draft.contains("Permitted use: software development office."));
        assert_eq!(c1.draft_sha256, rentops_merkle::sha256(draft.as_bytes()).to_hex());

        // Legal publishes v2: new contracts use it; CT-000001 keeps v1.
        env.clock.set(at(5, 9));
        contracts::publish_template(ports, &legal, &acme(), office(OFFICE_V2, "")).await.unwrap();
        let l1 = lease(ports, 1).await;
        let c2 = contracts::create_contract(ports, &who("fay", Role::Finance), &acme(), original(&env, &l1).await)
            .await
            .unwrap();
        assert_eq!((c2.id.as_str(), c2.template.version), ("CT-000002", 2));
        let v1 = contracts::contract(&store, &c1.id).await.unwrap().unwrap();
        assert_eq!(v1.contract.template.version, 1);
        assert_eq!(v1.status(), "drafted");

        // Approvals: in chain order, never by the drafter or one person twice.
        let e = contracts::approve(ports, &who("lee", Role::Legal), &acme(), &c1.id, "").await.unwrap_err();
        assert_eq!(e.to_string(), "CT-000001 waits for approval step 1 by finance, not legal");
        // Signing before the approvals: refused.
        let e =
            contracts::sign(ports, &who("desk", Role::FrontDesk), &acme(), &c1.id, b"%PDF".to_vec(), signatories(10))
                .await
                .unwrap_err();
        assert!(e.to_string().starts_with("CT-000001 cannot be signed: approvals 0 of 3"), "{e}");
        contracts::approve(ports, &who("fay", Role::Finance), &acme(), &c1.id, "rent matches").await.unwrap();
        contracts::approve(ports, &who("lee", Role::Legal), &acme(), &c1.id, "").await.unwrap();
        let e = contracts::approve(ports, &who("sam", Role::Supervisor), &acme(), &c1.id, "").await.unwrap_err();
        assert!(e.to_string().contains("sam drafted CT-000001"), "{e}");
        let a3 = contracts::approve(ports, &who("max", Role::Supervisor), &acme(), &c1.id, "").await.unwrap();
        assert_eq!((a3.step, a3.role.as_str()), (2, "supervisor"));
        assert_eq!(
            contracts::contract(&store, &c1.id).await.unwrap().unwrap().status(),
            "approved, awaiting signature"
        );

        // Signing: a tenant signatory without identity check is refused; then signed.
        let mut sigs = signatories(10);
        sigs[0].identity_check.clear();
        let e = contracts::sign(ports, &who("desk", Role::FrontDesk), &acme(), &c1.id, b"%PDF".to_vec(), sigs)
            .await
            .unwrap_err();
        assert!(e.to_string().ends_with("tenant signatory (tenant): identity not checked"), "{e}");
        let doc = b"%PDF-1.7 signed CT-000001".to_vec();
        let s = contracts::sign(ports, &who("desk", Role::FrontDesk), &acme(), &c1.id, doc.clone(), signatories(10))
            .await
            .unwrap();
        assert_eq!(s.sha256, rentops_merkle::sha256(&doc).to_hex());
        assert_eq!(ports.blob.get(&c1.document_key).await.unwrap().unwrap(), doc);
        // Signing again with the same document is a no-op; with another, a conflict.
        assert_eq!(
            contracts::sign(ports, &who("desk", Role::FrontDesk), &acme(), &c1.id, doc, signatories(10)).await.unwrap(),
            s
        );
        let e =
            contracts::sign(ports, &who("desk", Role::FrontDesk), &acme(), &c1.id, b"other".to_vec(), signatories(10))
                .await
                .unwrap_err();
        assert!(matches!(e, ContractsError::Conflict(_)), "{e}");
        let e = contracts::approve(ports, &who("zoe", Role::Finance), &acme(), &c1.id, "").await.unwrap_err();
        assert!(e.to_string().contains("already signed"), "{e}");

        let actions: Vec<String> = audit::events(ports, &acme()).await.unwrap().into_iter().map(|e| e.action).collect();
        let count = |a: &str| actions.iter().filter(|x| *x == a).count();
        assert_eq!((count("contract.created"), count("contract.approved"), count("contract.signed")), (2, 3, 1));
        assert_eq!(contracts::lease_contracts(&store, &l0).await.unwrap(), vec![c1.id.clone()]);
        let q = rentops_domain::contracts::Quarter::parse("2026Q4").unwrap();
        assert_eq!(contracts::quarter_contracts(&store, q).await.unwrap(), vec![c1.id, c2.id]);
    });
}

#[test]
fn renewals_amendments_and_terminations_are_new_linked_records() {
    let env = env();
    let ports = &env.ports;
    rt().block_on(async {
        let store = ports.client_store(&acme());
        let legal = who("lee", Role::Legal);
        contracts::publish_template(ports, &legal, &acme(), office(OFFICE_V1, "")).await.unwrap();
        for (t, k) in [
            ("rent-adjustment", RecordKind::Amendment),
            ("lease-renewal", RecordKind::Renewal),
            ("early-termination", RecordKind::Termination),
        ] {
            contracts::publish_template(ports, &legal, &acme(), simple(t, k)).await.unwrap();
        }
        env.clock.set(at(6, 9));
        let l0 = lease(ports, 0).await;
        let c1 = contracts::create_contract(ports, &who("sam", Role::Supervisor), &acme(), original(&env, &l0).await)
            .await
            .unwrap();
        let billing = c1.billing.clone();
        let mid = billing.start + chrono::Duration::days(30);
        let drafter = who("sam", Role::Supervisor);
        // Unsigned: nothing may follow it yet.
        let e = contracts::create_contract(
            ports,
            &drafter,
            &acme(),
            linked(RecordKind::Amendment, "rent-adjustment", &c1.id, &l0, mid),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("CT-000001 is not signed yet"), "{e}");
        // The wrong template for the kind.
        let e = contracts::create_contract(
            ports,
            &drafter,
            &acme(),
            linked(RecordKind::Amendment, "lease-renewal", &c1.id, &l0, mid),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("drafts renewal records, not amendment"), "{e}");
        approve_and_sign(&env, &c1.id).await;

        // Two people amend CT-000001 at the same time: exactly one amendment follows it.
        let results: Vec<Result<_, ContractsError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|i| {
                    let ports = ports.clone();
                    let (c, l) = (c1.id.clone(), l0.clone());
                    s.spawn(move || {
                        rt().block_on(contracts::create_contract(
                            &ports,
                            &who(&format!("sup{i}"), Role::Supervisor),
                            &acme(),
                            linked(RecordKind::Amendment, "rent-adjustment", &c, &l, mid),
                        ))
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "{results:?}");
        let a1 = won[0].clone();
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(r.to_string().contains(&format!("CT-000001 was already followed by {}", a1.id)), "{r}");
        }
        assert_eq!((a1.parent.as_ref(), &a1.root, a1.kind), (Some(&c1.id), &c1.id, RecordKind::Amendment));
        // The original is unchanged, and says what followed it.
        let v = contracts::contract(&store, &c1.id).await.unwrap().unwrap();
        assert_eq!(v.contract, c1);
        assert_eq!(v.status(), format!("signed, followed by {}", a1.id));

        // Renew the amendment (after signing it): new term; then terminate the renewal.
        approve_and_sign(&env, &a1.id).await;
        let mut renewal = linked(RecordKind::Renewal, "lease-renewal", &a1.id, &l0, billing.end.succ_opt().unwrap());
        let mut rules = billing.clone();
        rules.start = billing.end.succ_opt().unwrap();
        rules.end = rules.start + chrono::Duration::days(364);
        renewal.billing = Some(rules.clone());
        let r1 = contracts::create_contract(ports, &drafter, &acme(), renewal).await.unwrap();
        assert_eq!((r1.root.clone(), r1.effective_to), (c1.id.clone(), Some(rules.end)));
        approve_and_sign(&env, &r1.id).await;
        let t1 = contracts::create_contract(
            ports,
            &drafter,
            &acme(),
            linked(RecordKind::Termination, "early-termination", &r1.id, &l0, rules.start + chrono::Duration::days(90)),
        )
        .await
        .unwrap();
        assert_eq!(t1.approval_chain, vec!["finance", "supervisor"]);
        approve_and_sign(&env, &t1.id).await;
        // Nothing follows a termination.
        let e = contracts::create_contract(
            ports,
            &drafter,
            &acme(),
            linked(RecordKind::Amendment, "rent-adjustment", &t1.id, &l0, rules.start + chrono::Duration::days(100)),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("is terminated"), "{e}");

        let chain: Vec<(String, RecordKind, String)> = contracts::lease_history(&store, &l0)
            .await
            .unwrap()
            .iter()
            .map(|v| (v.contract.id.to_string(), v.contract.kind, v.status()))
            .collect();
        let ids: Vec<&str> = chain.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(ids, vec![c1.id.as_str(), a1.id.as_str(), r1.id.as_str(), t1.id.as_str()]);
        assert_eq!(chain[3].1, RecordKind::Termination);
        assert_eq!(chain[3].2, "signed");
        assert_eq!(chain[2].2, format!("signed, followed by {}", t1.id));
    });
}

#[test]
fn concurrent_drafts_get_distinct_numbers() {
    let env = env();
    let ports = &env.ports;
    rt().block_on(contracts::publish_template(ports, &who("lee", Role::Legal), &acme(), office(OFFICE_V1, "")))
        .unwrap();
    let reqs: Vec<NewContract> = rt().block_on(drafts(&env));
    let ids: Vec<ContractId> = std::thread::scope(|s| {
        let hs: Vec<_> = reqs
            .into_iter()
            .enumerate()
            .map(|(i, req)| {
                let ports = ports.clone();
                s.spawn(move || {
                    rt().block_on(contracts::create_contract(
                        &ports,
                        &who(&format!("u{i}"), Role::Supervisor),
                        &acme(),
                        req,
                    ))
                    .unwrap()
                    .id
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let set: BTreeSet<&str> = ids.iter().map(ContractId::as_str).collect();
    assert_eq!(
        set,
        (1..=8).map(|n| format!("CT-{n:06}")).collect::<BTreeSet<_>>().iter().map(String::as_str).collect()
    );
    let store = ports.client_store(&acme());
    let q = rentops_domain::contracts::Quarter::parse("2026Q4").unwrap();
    assert_eq!(rt().block_on(contracts::quarter_contracts(&store, q)).unwrap().len(), 8);
}

async fn drafts(env: &Env) -> Vec<NewContract> {
    let mut out = Vec::new();
    for i in 0..8 {
        let l = lease(&env.ports, i).await;
        out.push(original(env, &l).await);
    }
    out
}

// ---------------------------------------------------------------- notarization of stored documents

use rentops_app::contracts::notarize::{self, CheckpointRouting, KeyOutcome};
use rentops_app::notary::{KeySource, Notary, NotaryConfig};
use rentops_ports::{Blob, PutMode};

/// The notary over `env`'s ports, publishing checkpoints to a separate blob store (the Object Lock bucket on AWS).
fn notary_with_checkpoint_store(env: &Env, checkpoints: Arc<dyn Blob>) -> (Ports, Notary) {
    let mut ports = env.ports.clone();
    ports.blob = Arc::new(CheckpointRouting::new(env.ports.blob.clone(), checkpoints));
    let notary = Notary::new(ports.clone(), NotaryConfig::new(KeySource::Dir(env._dir.path().join("keys"))));
    (ports, notary)
}

#[test]
fn signed_documents_and_demand_letters_are_notarized_once_with_their_kind() {
    let env = env();
    let cp_dir = tempfile::tempdir().unwrap();
    let cp_backend = EmbeddedBackend::open(cp_dir.path()).unwrap();
    let (ports, notary) = notary_with_checkpoint_store(&env, cp_backend.blob.clone());
    rt().block_on(async {
        let legal = who("lee", Role::Legal);
        contracts::publish_template(&ports, &legal, &acme(), office(OFFICE_V1, "")).await.unwrap();
        contracts::publish_template(&ports, &legal, &acme(), simple("rent-adjustment", RecordKind::Amendment)).await.unwrap();
        env.clock.set(at(6, 9));
        let l0 = lease(&ports, 0).await;
        let c1 = contracts::create_contract(&ports, &who("sam", Role::Supervisor), &acme(), original(&env, &l0).await)
            .await
            .unwrap();
        approve_and_sign(&env, &c1.id).await;
        let from = c1.billing.start + chrono::Duration::days(30);
        let a1 = contracts::create_contract(
            &ports,
            &who("sam", Role::Supervisor),
            &acme(),
            linked(RecordKind::Amendment, "rent-adjustment", &c1.id, &l0, from),
        )
        .await
        .unwrap();
        approve_and_sign(&env, &a1.id).await;
        // Drafted, not signed: no document yet.
        let l1 = lease(&ports, 1).await;
        contracts::create_contract(&ports, &who("sam", Role::Supervisor), &acme(), original(&env, &l1).await).await.unwrap();
        let put = |key: String, body: &'static str| {
            let ports = ports.clone();
            async move { ports.blob.put(&key, body.as_bytes().to_vec(), "text/plain", PutMode::CreateOnly).await.unwrap() }
        };
        let letter1 = format!("letters/{MAIN_CLIENT}/{l0}/INV-{l0}-2026-10/n1.txt");
        let letter2 = format!("letters/{MAIN_CLIENT}/{l1}/INV-{l1}-2026-10/n2.txt");
        let scan = format!("contracts/{MAIN_CLIENT}/files/abc/scan.pdf");
        put(letter1.clone(), "催款函 / Demand letter 1").await;
        put(letter2.clone(), "催款函 / Demand letter 2").await;
        put(scan.clone(), "%PDF scanned paper original").await;
        put("contracts/ghost-co/x.pdf".into(), "not a client").await;
        put(format!("contracts/{SECOND_CLIENT}/files/y.pdf"), "lotus contract").await;

        let r = notarize::notarize_pending(&ports, &notary, &acme()).await.unwrap();
        assert_eq!((r.documents, r.appended.len(), r.already), (5, 5, 0), "{r:?}");
        assert!(r.failed.is_empty() && r.skipped.is_empty(), "{r:?}");
        let kinds: BTreeMap<&str, &str> = r.appended.iter().map(|(k, _, kind)| (k.as_str(), kind.as_str())).collect();
        assert_eq!(kinds[c1.document_key.as_str()], "contract");
        assert_eq!(kinds[a1.document_key.as_str()], "amendment");
        assert_eq!((kinds[letter1.as_str()], kinds[letter2.as_str()]), ("demand-letter", "demand-letter"));
        assert_eq!(kinds[scan.as_str()], "contract");
        let indexes: BTreeSet<u64> = r.appended.iter().map(|a| a.1).collect();
        assert_eq!(indexes, (0..5).collect());

        // Again (a sweep after the events): nothing appended.
        let r = notarize::notarize_pending(&ports, &notary, &acme()).await.unwrap();
        assert_eq!((r.appended.len(), r.already), (0, 5));
        let c1_index = notary.document(&acme(), &c1.document_key).await.unwrap().unwrap().index;
        assert_eq!(
            notarize::notarize_key(&ports, &notary, &c1.document_key).await.unwrap(),
            KeyOutcome::Already { index: c1_index }
        );
        for (key, why) in [
            ("contracts/ghost-co/x.pdf", "client ghost-co is not registered"),
            ("raw/acme-properties/alipay/x.json", "not in a notarized area"),
            ("contracts/acme-properties/", "not a document"),
            ("contracts/Bad Client/x.pdf", "client id"),
        ] {
            match notarize::notarize_key(&ports, &notary, key).await.unwrap() {
                KeyOutcome::Skipped(w) => assert!(w.contains(why), "{key}: {w}"),
                other => panic!("{key}: {other:?}"),
            }
        }
        // The other client's document goes to its own log.
        let lotus = ClientId::new(SECOND_CLIENT).unwrap();
        let r = notarize::notarize_pending(&ports, &notary, &lotus).await.unwrap();
        assert_eq!(r.appended.len(), 1);
        assert_eq!(r.appended[0].1, 0, "entry 0 of lotus-parking's own log");

        // The receipt of the signed contract verifies against the stored document, with the published key.
        let doc = ports.blob.get(&c1.document_key).await.unwrap().unwrap();
        let rec = notary.document(&acme(), &c1.document_key).await.unwrap().unwrap();
        let key = notary.log_key(&acme()).await.unwrap();
        let v = rentops_merkle::Receipt::from_json(rec.receipt.as_bytes())
            .unwrap()
            .verify(&rentops_merkle::sha256(&doc), Some(&key))
            .unwrap();
        assert_eq!((v.entry.kind.as_str(), v.checkpoint.origin.as_str()), ("contract", "rentops.local/notary/acme-properties"));
        assert_eq!(notary.check_log(&acme()).await.unwrap().size, 5);

        // Checkpoints were published to the checkpoint store only.
        assert!(env.ports.blob.list("notary/", 100).await.unwrap().is_empty());
        let published = cp_backend.blob.list("notary/", 100).await.unwrap();
        assert_eq!(published.len(), 6, "{published:?}");
        assert_eq!(published.iter().filter(|k| k.starts_with(&format!("notary/{MAIN_CLIENT}/"))).count(), 5);
    });
}

#[test]
fn concurrent_sweeps_and_events_log_each_document_once() {
    let env = env();
    let notary =
        Arc::new(Notary::new(env.ports.clone(), NotaryConfig::new(KeySource::Dir(env._dir.path().join("keys")))));
    let keys: Vec<String> = (0..24).map(|i| format!("contracts/{MAIN_CLIENT}/files/{i:02}/doc.pdf")).collect();
    rt().block_on(async {
        for (i, k) in keys.iter().enumerate() {
            env.ports
                .blob
                .put(k, format!("document {i}").into_bytes(), "application/pdf", PutMode::CreateOnly)
                .await
                .unwrap();
        }
    });
    // Two sweeps and two "event" workers (each key, in opposite orders) at the same time.
    let appended: usize = std::thread::scope(|s| {
        let mut hs = Vec::new();
        for t in 0..4 {
            let (ports, notary, keys) = (env.ports.clone(), notary.clone(), keys.clone());
            hs.push(s.spawn(move || {
                rt().block_on(async {
                    if t < 2 {
                        let r = notarize::notarize_pending(&ports, &notary, &acme()).await.unwrap();
                        assert!(r.failed.is_empty(), "{r:?}");
                        r.appended.len()
                    } else {
                        let mut n = 0;
                        let order: Vec<&String> =
                            if t == 2 { keys.iter().collect() } else { keys.iter().rev().collect() };
                        for k in order {
                            if let KeyOutcome::Appended { .. } =
                                notarize::notarize_key(&ports, &notary, k).await.unwrap()
                            {
                                n += 1;
                            }
                        }
                        n
                    }
                })
            }));
        }
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(appended, 24, "each document appended by exactly one worker");
    rt().block_on(async {
        let leaves = notary.leaves(&acme()).await.unwrap();
        let logged: BTreeSet<&str> = leaves.iter().map(|l| l.document_key.as_str()).collect();
        assert_eq!((leaves.len(), logged.len()), (24, 24));
        assert_eq!(notary.check_log(&acme()).await.unwrap().documents, 24);
    });
}

// ---------------------------------------------------------------- quarterly audit

use rentops_app::contracts::audit::{self as contract_audit, AuditRequest};
use rentops_domain::contracts::{AuditCheck, NotaryCheck, Quarter};

#[test]
fn quarterly_audit_samples_reproducibly_and_flags_missing_signatures_and_receipts() {
    let env = env_with(36);
    let ports = &env.ports;
    let notary = Notary::new(ports.clone(), NotaryConfig::new(KeySource::Dir(env._dir.path().join("keys"))));
    let q4 = Quarter::parse("2026Q4").unwrap();
    let (bad_unsigned, bad_unnotarized, bad_tampered, bad_attachment, good) = rt().block_on(async {
        env.clock.set(Utc.with_ymd_and_hms(2026, 9, 1, 9, 0, 0).unwrap());
        contracts::publish_template(ports, &who("lee", Role::Legal), &acme(), office(OFFICE_V1, "")).await.unwrap();
        let sup = who("sam", Role::Supervisor);
        // Two records in Q3 and one in 2027Q1: not in the population.
        env.clock.set(Utc.with_ymd_and_hms(2026, 9, 20, 9, 0, 0).unwrap());
        for i in 0..2 {
            let l = lease(ports, i).await;
            contracts::create_contract(ports, &sup, &acme(), original(&env, &l).await).await.unwrap();
        }
        // 30 records in Q4 (2-19 November); all approved; all but one signed; notarized.
        let mut ids = Vec::new();
        for i in 2..32 {
            env.clock.set(at(2 + (i as u32 % 17), 9));
            let l = lease(ports, i).await;
            let c = contracts::create_contract(ports, &sup, &acme(), original(&env, &l).await).await.unwrap();
            ids.push(c.id);
        }
        env.clock.set(Utc.with_ymd_and_hms(2027, 1, 10, 9, 0, 0).unwrap());
        let l = lease(ports, 32).await;
        contracts::create_contract(ports, &sup, &acme(), original(&env, &l).await).await.unwrap();
        env.clock.set(at(19, 12));
        let (bad_unsigned, bad_unnotarized, bad_tampered, bad_attachment) =
            (ids[3].clone(), ids[11].clone(), ids[17].clone(), ids[24].clone());
        for id in &ids {
            if id == &bad_unsigned {
                for role in ["finance", "legal", "supervisor"] {
                    let p = who(&format!("{role}-approver"), Role::parse(role).unwrap());
                    contracts::approve(ports, &p, &acme(), id, "").await.unwrap();
                }
            } else if id != &bad_unnotarized {
                approve_and_sign(&env, id).await;
            }
        }
        let r = notarize::notarize_pending(ports, &notary, &acme()).await.unwrap();
        assert_eq!(r.appended.len(), 28);
        approve_and_sign(&env, &bad_unnotarized).await; // signed after the notary ran
        // Someone replaces a signed document, and an attachment, in storage.
        let store = ports.client_store(&acme());
        let tampered = contracts::contract(&store, &bad_tampered).await.unwrap().unwrap().contract;
        ports
            .blob
            .put(
                &tampered.document_key,
                b"%PDF-1.7 a different contract".to_vec(),
                "application/pdf",
                PutMode::Overwrite,
            )
            .await
            .unwrap();
        let att = contracts::contract(&store, &bad_attachment).await.unwrap().unwrap().contract.attachments[0].clone();
        ports.blob.put(&att.key, b"another scan".to_vec(), "image/png", PutMode::Overwrite).await.unwrap();
        (bad_unsigned, bad_unnotarized, bad_tampered, bad_attachment, ids[0].clone())
    });

    let auditor = who("ada", Role::Legal);
    let run = |seed: u64, percent: u32| {
        rt().block_on(contract_audit::audit_quarter(
            ports,
            &notary,
            &auditor,
            &acme(),
            &AuditRequest { quarter: q4, seed, percent, pinned_key: None },
        ))
        .unwrap()
    };
    // Everything (100 %): exactly the four bad records are flagged, each for what is wrong with it.
    let all = run(1, 100);
    assert_eq!((all.population, all.sample.len()), (30, 30));
    assert!(all.log.is_ok(), "{:?}", all.log);
    let flagged: BTreeMap<String, Vec<AuditCheck>> =
        all.flagged().iter().map(|c| (c.id.to_string(), c.findings.iter().map(|f| f.check).collect())).collect();
    assert_eq!(
        flagged,
        BTreeMap::from([
            (bad_unsigned.to_string(), vec![AuditCheck::Signature, AuditCheck::Notarization]),
            (bad_unnotarized.to_string(), vec![AuditCheck::Notarization]),
            (bad_tampered.to_string(), vec![AuditCheck::Signature, AuditCheck::Notarization]),
            (bad_attachment.to_string(), vec![AuditCheck::Attachments]),
        ])
    );
    let find = |id: &ContractId| all.sample.iter().find(|c| &c.id == id).unwrap();
    assert_eq!(find(&bad_unsigned).findings[0].problem, "no signed document is recorded");
    assert!(find(&bad_unsigned).findings[1].problem.ends_with("is not in the client's notary log (no receipt)"));
    assert!(find(&bad_tampered).findings[0].problem.contains("was changed"), "{:?}", find(&bad_tampered).findings);
    assert!(
        matches!(&find(&bad_tampered).notary, NotaryCheck::ReceiptInvalid { why } if why.starts_with("the document's SHA-256 is"))
    );
    assert!(matches!(find(&good).notary, NotaryCheck::Verified { .. }));

    // 5 % of 30 = 2 records, 10 % = 3; the same seed draws the same sample, another seed another one.
    let a = run(42, 5);
    let ids = |r: &contract_audit::AuditReport| r.sample.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(a.sample.len(), 2);
    assert_eq!(ids(&a), ids(&run(42, 5)));
    assert_eq!(run(42, 10).sample.len(), 3);
    let population = rt().block_on(contracts::quarter_contracts(&ports.client_store(&acme()), q4)).unwrap();
    assert_eq!(ids(&a), rentops_domain::contracts::sample(&population, MAIN_CLIENT, q4, 42, 5));
    assert!((0..20).any(|s| ids(&run(s, 5)) != ids(&a)));

    // A seeded 5 % sample that draws the unsigned record flags it; the report says why.
    let seed = (0..10_000u64)
        .find(|s| rentops_domain::contracts::sample(&population, MAIN_CLIENT, q4, *s, 5).contains(&bad_unsigned))
        .unwrap();
    let r = run(seed, 5);
    assert!(!r.clean());
    assert!(r.flagged().iter().any(|c| c.id == bad_unsigned));
    let md = contract_audit::render_markdown(&r);
    assert!(md.starts_with("# Contract compliance audit — acme-properties, 2026Q4\n"), "{md}");
    assert!(md.contains("- Population: 30 contract records created 2026-10-01 to 2026-12-31"), "{md}");
    assert!(md.contains(&format!("seed {seed}")), "{md}");
    assert!(md.contains(&format!("### {bad_unsigned} (original, lease ")), "{md}");
    assert!(md.contains("- **signature**: no signed document is recorded"), "{md}");
    let row = md.lines().find(|l| l.starts_with(&format!("| {bad_unsigned} |"))).unwrap();
    assert!(row.ends_with("| ok | ok | **FAIL** | **FAIL** | ok | ok |"), "{row}");
    let summary = contract_audit::render_summary(&r);
    assert!(
        summary.starts_with(&format!(
            "contract audit acme-properties 2026Q4: sampled 2 of 30 records (5 %, seed {seed}): "
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("FLAGGED {bad_unsigned}: signature: no signed document is recorded")),
        "{summary}"
    );

    // Pinned to a key that is not the log's: the log and every receipt fail.
    let other = rentops_merkle::NoteSigner::from_seed("rentops.local/notary/acme-properties", [7; 32]).unwrap();
    let r = rt()
        .block_on(contract_audit::audit_quarter(
            ports,
            &notary,
            &auditor,
            &acme(),
            &AuditRequest { quarter: q4, seed: 1, percent: 100, pinned_key: Some(other.verifier().clone()) },
        ))
        .unwrap();
    assert!(r.log.as_ref().unwrap_err().contains("not the pinned key"), "{:?}", r.log);
    assert_eq!(r.sample.iter().filter(|c| c.failed(AuditCheck::Notarization)).count(), 30);

    // Who may audit; each run is an audit event.
    let err = rt()
        .block_on(contract_audit::audit_quarter(
            ports,
            &notary,
            &who("desk", Role::FrontDesk),
            &acme(),
            &AuditRequest { quarter: q4, seed: 1, percent: 5, pinned_key: None },
        ))
        .unwrap_err();
    assert!(matches!(err, ContractsError::Auth(AuthError::Forbidden { .. })), "{err}");
    let audited = || {
        rt().block_on(audit::events(ports, &acme()))
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "contracts.audited")
            .collect::<Vec<_>>()
    };
    let before = audited().len();
    let r = run(seed, 5);
    let events = audited();
    assert_eq!(events.len(), before + 1);
    let last = events.last().unwrap();
    assert_eq!((last.user.as_str(), last.role.as_str()), ("ada", "legal"));
    assert_eq!(last.details["seed"], seed);
    assert_eq!(last.details["sample"], serde_json::json!(ids(&r).iter().map(|i| i.as_str()).collect::<Vec<_>>()));
}

/// The product brief's example operator: legal publishes the twelve standard contract types, each as its v1,
/// with its kind; a contract drafted from one records that version, and after v2 new drafts use v2 while the
/// earlier contract keeps v1.
#[test]
fn the_twelve_standard_contract_types_are_published_and_drafted_from() {
    use rentops_domain::contracts::STANDARD_TEMPLATES;
    let env = env();
    let ports = &env.ports;
    rt().block_on(async {
        let store = ports.client_store(&acme());
        let legal = who("lee", Role::Legal);
        for (id, kind) in STANDARD_TEMPLATES {
            let p = contracts::publish_template(ports, &legal, &acme(), simple(id, kind)).await.unwrap();
            assert!(p.new && p.version.version == 1 && p.version.kind == kind, "{id}: {:?}", p.version);
        }
        let heads = contracts::templates(&store).await.unwrap();
        assert_eq!(heads.len(), 12);
        let ids: BTreeSet<String> = heads.iter().map(|h| h.template.to_string()).collect();
        assert_eq!(ids, STANDARD_TEMPLATES.iter().map(|t| t.0.to_string()).collect());
        assert!(heads.iter().all(|h| h.version == 1));
        for (id, kind) in STANDARD_TEMPLATES {
            let h = heads.iter().find(|h| h.template.to_string() == id).unwrap();
            assert_eq!(h.kind, kind, "{id}");
        }

        let lease_no = lease(ports, 0).await;
        let mut draft = original(&env, &lease_no).await;
        draft.template = TemplateId::new("apartment-lease").unwrap();
        draft.terms = BTreeMap::from([("reason".to_string(), "first lease".to_string())]);
        let first =
            contracts::create_contract(ports, &who("sam", Role::Supervisor), &acme(), draft.clone()).await.unwrap();
        assert_eq!((first.template.template.to_string(), first.template.version), ("apartment-lease".into(), 1));

        env.clock.advance(chrono::Duration::hours(2));
        let mut v2 = simple("apartment-lease", RecordKind::Original);
        v2.body.push_str("Clause 9: pets need the landlord's consent.\n");
        v2.change_note = "clause 9".into();
        let p = contracts::publish_template(ports, &legal, &acme(), v2).await.unwrap();
        assert_eq!((p.version.version, p.version.supersedes), (2, Some(1)));
        draft.lease = lease(ports, 1).await;
        let second = contracts::create_contract(ports, &who("sam", Role::Supervisor), &acme(), draft).await.unwrap();
        assert_eq!(second.template.version, 2);
        let again = contracts::contract(&store, &first.id).await.unwrap().unwrap();
        assert_eq!(again.contract.template.version, 1, "an existing contract keeps the version it came from");
    });
}
