//! The notifier on the embedded backend (issue 4): each dunning notice delivered once on its channel —
//! SMS and e-mail to the local outbox, in-app messages to the tenant's inbox, phone tasks for collectors
//! (outcome recorded once, audited), demand letters in the blob store with their SHA-256 — undeliverable
//! notices recorded as failed with the reason, client templates validated and used.
//!
//! Portfolio: `tests/common` (acme; April 2026 invoices due 2026-04-05 on L-000001..3 for tenants T1..T3).
//! Contacts set here: T1 a mobile and an e-mail, T2 only a Shanghai landline, T3 only an e-mail.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate};
use common::*;
use rentops_app::auth::{Principal, Role};
use rentops_app::ctx::queues;
use rentops_app::dunning::{Dunning, DunningSettings, NoticeRef};
use rentops_app::keys;
use rentops_app::notifier::{self, Delivery, Notifier};
use rentops_domain::dunning::{Notice, NoticeStatus};
use rentops_domain::notices::{MessageTemplate, TemplateSet};
use rentops_domain::org::Tenant;
use rentops_ports::messenger::MessageChannel;
use rentops_ports::{
    ClientId, Condition, Item, Messenger, OutboundMessage, PortError, Query, Queue, SendError, SentMessage, SkRange,
};

fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

async fn set_contacts(h: &Harness) {
    let store = h.store(ACME);
    for (id, phone, email) in [
        ("T1", Some("138-0013-8000"), Some("zhangsan@example.com")),
        ("T2", Some("021-50001234"), None),
        ("T3", None, Some("finance@bj-tech.example.cn")),
    ] {
        let sk = format!("TENANT#{id}");
        let it = store.get(keys::PORTFOLIO, &sk).await.unwrap().expect("tenant");
        let mut t: Tenant = it.decode().unwrap();
        t.phone = phone.map(str::to_string);
        t.email = email.map(str::to_string);
        store
            .put(Item::new(keys::PORTFOLIO, sk, serde_json::to_value(&t).unwrap()), Condition::Version(it.version))
            .await
            .unwrap();
    }
}

/// Dunning every day from the bill date to `to` (each day twice: the schedule fires at least once).
async fn dun_until(h: &Harness, to: NaiveDate) {
    let w = Dunning::with_default_runtime(h.ports.clone(), DunningSettings::default()).unwrap();
    for day in days(date(2026, 3, 21), to) {
        // 09:00 in Shanghai, when the schedule fires.
        h.clock.set(utc(day.year(), day.month(), day.day(), 1, 0, 0));
        for _ in 0..2 {
            w.run_client(&ClientId::new(ACME).unwrap(), day).await.unwrap();
        }
    }
}

async fn all_notices(h: &Harness) -> Vec<Notice> {
    notifier::notices(&h.store(ACME)).await.unwrap()
}

fn outbox(h: &Harness) -> Arc<dyn Messenger> {
    h.backend.outbox.clone()
}

#[tokio::test]
async fn every_notice_is_delivered_once_on_its_channel_and_failures_are_kept_for_a_person() {
    let h = Harness::billed().await;
    set_contacts(&h).await;
    dun_until(&h, date(2026, 4, 21)).await;
    let n = Notifier::new(h.ports.clone(), outbox(&h));
    let first = n.drain(10_000).await.unwrap();
    // 33 notices (the day's second runs re-enqueued theirs; the queue's dedup id absorbed them).
    assert_eq!((first.handled, first.sent + first.failed, first.duplicates), (33, 33, 0), "{first:?}");
    assert_eq!(first.errors, 0);
    assert_eq!(h.backend.queue.depth(queues::NOTICES).await.unwrap(), 0);

    // SMS: 3 reminder stages; only T1 has a mobile. E-mail: overdue-gentle + legal-warning; T1 and T3.
    let sent = rentops_embedded::outbox::list(&h.store(ACME)).await.unwrap();
    let count = |ch: MessageChannel, to: &str| sent.iter().filter(|m| m.channel == ch && m.to == to).count();
    assert_eq!(count(MessageChannel::Sms, "+8613800138000"), 3);
    assert_eq!(count(MessageChannel::Email, "zhangsan@example.com"), 2);
    assert_eq!(count(MessageChannel::Email, "finance@bj-tech.example.cn"), 2);
    assert_eq!(sent.len(), 7, "{sent:#?}");
    let sms = sent.iter().find(|m| m.channel == MessageChannel::Sms && m.body.contains("到期")).unwrap();
    assert!(sms.body.contains("CNY 4,500.00") && sms.body.contains("RO000001202604A001"), "{}", sms.body);
    let legal = sent
        .iter()
        .find(|m| m.to == "finance@bj-tech.example.cn" && m.subject.as_deref().unwrap().starts_with("催款函"))
        .unwrap();
    assert!(legal.body.contains("16 天") && legal.body.contains("北京某某科技有限公司"), "{}", legal.body);

    // Undeliverable: T2's SMS (landline) ×3 and e-mail ×2, T3's SMS ×3 — failed with the reason, audited.
    let failed: Vec<Notice> =
        all_notices(&h).await.into_iter().filter(|x| matches!(x.status, NoticeStatus::Failed { .. })).collect();
    assert_eq!(failed.len(), 8);
    let reason = |t: &str, ch: &str| {
        failed.iter().find(|x| x.tenant_id == t && x.channel.as_str() == ch).map(|x| match &x.status {
            NoticeStatus::Failed { reason, .. } => reason.clone(),
            _ => unreachable!(),
        })
    };
    assert_eq!(reason("T2", "sms").unwrap(), "tenant T2 has no mobile number for SMS (phone on file: 021-50001234)");
    assert_eq!(reason("T2", "email").unwrap(), "tenant T2 has no e-mail address");
    let audit = rentops_app::audit::events(&h.ports, &h.acme).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "notice.failed").count(), 8);

    // In-app: 3 reminders + overdue-gentle per tenant, newest first.
    for t in ["T1", "T2", "T3"] {
        let inbox = notifier::inbox_messages(&h.store(ACME), t).await.unwrap();
        let stages: Vec<&str> = inbox.iter().map(|m| m.stage.as_str()).collect();
        assert_eq!(
            stages,
            ["overdue-gentle", "reminder-before-due-1d", "reminder-before-due-7d", "reminder-after-issue-3d"],
            "{t}"
        );
    }

    // Phone tasks: one per invoice at 8 days overdue, with what to say.
    let tasks = notifier::tasks(&h.store(ACME), true).await.unwrap();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[0].due, date(2026, 4, 13));
    let t2 = tasks.iter().find(|t| t.tenant_id == "T2").unwrap();
    assert_eq!(t2.phone.as_deref(), Some("021-50001234"));
    assert!(t2.brief.contains("CNY 3,200.00") && t2.brief.contains("8 days overdue"), "{}", t2.brief);

    // Letters: one per invoice, stored with its SHA-256, quoting lease, tenant, amounts, late fee, history.
    let letters = notifier::letters(&h.store(ACME)).await.unwrap();
    assert_eq!(letters.len(), 3);
    for l in &letters {
        let doc = h.ports.blob.get(&l.blob_key).await.unwrap().expect("letter stored");
        let digest = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &doc));
        assert_eq!(l.sha256, digest);
        assert_eq!(l.as_of, date(2026, 4, 21));
    }
    let l1 = letters.iter().find(|l| l.lease == "L-000001").unwrap();
    let doc = String::from_utf8(h.ports.blob.get(&l1.blob_key).await.unwrap().unwrap()).unwrap();
    assert!(doc.starts_with("催款函 Demand for Payment — L-000001"), "{doc}");
    for needle in [
        "张三",
        "A-1201",
        "A栋",
        "CNY 4,500.00",
        "16 天",
        "CNY 29.25",
        "CNY 4,529.25",
        "RO000001202604A001",
        "INV-L-000001-2026-04",
        "unpaid CNY 4,500.00",
        "2026-04-09..2026-04-21 滞纳金 late fees accrued CNY 29.25 (13 daily accruals)",
    ] {
        assert!(doc.contains(needle), "letter lacks {needle:?}:\n{doc}");
    }
    assert!(audit.iter().any(|e| e.action == "demand-letter.issued" && e.details["sha256"] == l1.sha256));

    // Everything again (a redelivery storm): nothing new anywhere.
    for x in all_notices(&h).await {
        let r = NoticeRef { client: ACME.into(), invoice: x.invoice.as_str().into(), sk: x.sk() };
        assert_eq!(n.deliver(&r).await.unwrap(), Delivery::AlreadyDone);
    }
    assert_eq!(rentops_embedded::outbox::list(&h.store(ACME)).await.unwrap().len(), 7);
    assert_eq!(notifier::letters(&h.store(ACME)).await.unwrap().len(), 3);
    assert_eq!(notifier::tasks(&h.store(ACME), false).await.unwrap().len(), 3);
}

/// A messenger that hands the message on and then "crashes" (reports a transient error) the first time.
struct CrashAfterSend {
    inner: Arc<dyn Messenger>,
    crashed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Messenger for CrashAfterSend {
    async fn send(&self, m: &OutboundMessage) -> Result<SentMessage, SendError> {
        let r = self.inner.send(m).await?;
        if !self.crashed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(SendError::Transient("connection reset after the provider accepted".into()));
        }
        Ok(r)
    }
}

#[tokio::test]
async fn a_crash_after_the_provider_accepted_does_not_send_twice_on_the_embedded_outbox() {
    let h = Harness::billed().await;
    set_contacts(&h).await;
    dun_until(&h, date(2026, 3, 24)).await;
    let sms = all_notices(&h).await.into_iter().find(|x| x.tenant_id == "T1" && x.channel.as_str() == "sms").unwrap();
    let r = NoticeRef { client: ACME.into(), invoice: sms.invoice.as_str().into(), sk: sms.sk() };
    let crashy =
        Notifier::new(h.ports.clone(), Arc::new(CrashAfterSend { inner: outbox(&h), crashed: Default::default() }));
    let e = crashy.deliver(&r).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    // Still pending: the queue will redeliver.
    let again = notifier::notices(&h.store(ACME))
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.sk() == sms.sk() && x.invoice == sms.invoice)
        .unwrap();
    assert_eq!(again.status, NoticeStatus::Pending);
    let d = crashy.deliver(&r).await.unwrap();
    let sent = rentops_embedded::outbox::list(&h.store(ACME)).await.unwrap();
    assert_eq!(sent.len(), 1, "the outbox deduplicated on the notice id");
    assert_eq!(d, Delivery::Sent { reference: sent[0].message_id.clone() });
    assert_eq!(sent[0].idempotency_key, sms.id());
}

#[tokio::test]
async fn poison_messages_are_invalid_not_retried() {
    let h = Harness::billed().await;
    let n = Notifier::new(h.ports.clone(), outbox(&h));
    let e = n.process("{\"hello\":1}").await.unwrap_err();
    assert!(matches!(&e, PortError::Invalid(m) if m.starts_with("not a notice reference")), "{e}");
    let e = n.process(r#"{"client":"acme","invoice":"INV-L-000001-2026-04","sk":"nope"}"#).await.unwrap_err();
    assert!(matches!(&e, PortError::Invalid(m) if m.contains("no notice NOTICE#INV-L-000001-2026-04 / nope")), "{e}");
    let e = n.process(r#"{"client":"../etc","invoice":"x","sk":"y"}"#).await.unwrap_err();
    assert!(!e.is_retryable(), "{e}");
}

fn who(role: Role) -> Principal {
    Principal { client: ClientId::new(ACME).unwrap(), user: format!("{}-1", role.as_str()), role }
}

#[tokio::test]
async fn client_templates_are_validated_then_used() {
    let h = Harness::billed().await;
    set_contacts(&h).await;
    let mut set = TemplateSet { version: "acme-2".into(), messages: BTreeMap::new(), letter: None };
    set.messages.insert(
        "overdue-gentle".into(),
        MessageTemplate { subject: "Acme: {{invoice}} late".into(), short: "pay {{amount}}".into(), body: "x".into() },
    );
    let e = notifier::store_templates(&h.ports, &who(Role::Legal), &set).await.unwrap_err();
    assert!(
        matches!(&e, PortError::Invalid(m) if m.contains("messages.overdue-gentle.short: unknown placeholder {{amount}}")),
        "{e}"
    );
    set.messages.get_mut("overdue-gentle").unwrap().short = "Acme: pay {{outstanding}} for {{invoice}}".into();
    set.messages.get_mut("overdue-gentle").unwrap().body = "Dear {{tenant_name}}, {{total_owed}} please.".into();
    let e = notifier::store_templates(&h.ports, &who(Role::Tenant), &set).await.unwrap_err();
    assert!(e.to_string().contains("change notice templates"), "{e}");
    notifier::store_templates(&h.ports, &who(Role::Legal), &set).await.unwrap();

    dun_until(&h, date(2026, 4, 5)).await;
    Notifier::new(h.ports.clone(), outbox(&h)).drain(1000).await.unwrap();
    let sent = rentops_embedded::outbox::list(&h.store(ACME)).await.unwrap();
    let mail = sent.iter().find(|m| m.to == "zhangsan@example.com").unwrap();
    assert_eq!(mail.subject.as_deref(), Some("Acme: INV-L-000001-2026-04 late"));
    assert_eq!(mail.body, "Dear 张三, CNY 4,500.00 please.");
    // Templates the client did not override keep the built-in text.
    assert!(sent.iter().any(|m| m.channel == MessageChannel::Sms && m.body.starts_with("【")), "{sent:#?}");
    let inbox = notifier::inbox_messages(&h.store(ACME), "T2").await.unwrap();
    assert_eq!(inbox[0].text, "Acme: pay CNY 3,200.00 for INV-L-000002-2026-04");
}

#[tokio::test]
async fn a_call_outcome_is_recorded_once_by_a_collector_and_audited() {
    let h = Harness::billed().await;
    set_contacts(&h).await;
    dun_until(&h, date(2026, 4, 13)).await;
    Notifier::new(h.ports.clone(), outbox(&h)).drain(1000).await.unwrap();
    let task = notifier::tasks(&h.store(ACME), true).await.unwrap().remove(0);
    let e = notifier::record_task_outcome(&h.ports, &who(Role::Technician), &task.id, "reached", "", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("record a call outcome"), "{e}");
    let e = notifier::record_task_outcome(&h.ports, &who(Role::Collector), &task.id, "promised", "will pay", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("promised payment date"), "{e}");
    let e =
        notifier::record_task_outcome(&h.ports, &who(Role::Collector), &task.id, "maybe", "", None).await.unwrap_err();
    assert!(e.to_string().contains("expected one of reached, promised"), "{e}");
    let done = notifier::record_task_outcome(
        &h.ports,
        &who(Role::Collector),
        &task.id,
        "promised",
        "will pay on Friday",
        Some(date(2026, 4, 17)),
    )
    .await
    .unwrap();
    assert_eq!(done.outcome.as_ref().unwrap().by, "collector-1");
    assert_eq!(notifier::tasks(&h.store(ACME), true).await.unwrap().len(), 2);
    let e = notifier::record_task_outcome(&h.ports, &who(Role::Supervisor), &task.id, "reached", "", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already has an outcome (promised, by collector-1"), "{e}");
    let audit = rentops_app::audit::events(&h.ports, &h.acme).await.unwrap();
    let ev = audit.iter().find(|e| e.action == "collector-task.outcome").unwrap();
    assert_eq!((ev.user.as_str(), ev.details["promised_date"].as_str()), ("collector-1", Some("2026-04-17")));
    // The archive keeps the stored task with its outcome.
    let stored = h.store(ACME).query_all(Query::table(notifier::TASKS, SkRange::All)).await.unwrap();
    assert_eq!(stored.len(), 3);
}
