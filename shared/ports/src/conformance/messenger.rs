//! Messenger conformance cases. Entry point: [`messenger_suite`].

use std::sync::Arc;

use crate::ClientId;
use crate::messenger::{MessageChannel, Messenger, OutboundMessage, SendError, SentMessage};

/// What the adapter promises about idempotency keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// A second send with the same key sends nothing and returns the first message id (embedded outbox).
    Exact,
    /// The provider has no idempotency key (SNS SMS, SES email): a second send is accepted.
    None,
}

fn message(client: &ClientId, channel: MessageChannel, to: &str, key: &str) -> OutboundMessage {
    OutboundMessage {
        client: client.clone(),
        channel,
        to: to.to_string(),
        subject: (channel == MessageChannel::Email).then(|| "租金提醒 / Rent reminder: INV-L-000001-2026-04".into()),
        body: "您的4月租金 CNY 4,500.00 将于2026-04-05到期。Your April rent CNY 4,500.00 is due on 2026-04-05.".into(),
        idempotency_key: key.to_string(),
    }
}

/// Run every messenger case; `ns` makes the idempotency keys unique to this run
/// (`[A-Za-z0-9-]`, at most 40 characters). `sms_to` / `email_to` are deliverable recipients.
/// Returns the messages the adapter accepted, first sends only, so the adapter's own test can check
/// that they arrived where they should (the outbox, moto's sent-message lists).
pub async fn messenger_suite(
    m: Arc<dyn Messenger>,
    client: &ClientId,
    ns: &str,
    sms_to: &str,
    email_to: &str,
    dedup: Dedup,
) -> Vec<(OutboundMessage, SentMessage)> {
    let mut accepted = Vec::new();

    let case = "SMS is sent";
    let sms = message(client, MessageChannel::Sms, sms_to, &format!("{ns}-sms"));
    let first = match m.send(&sms).await {
        Ok(s) => s,
        Err(e) => panic!("{case}: {e}"),
    };
    assert!(!first.message_id.is_empty(), "{case}: empty message id");
    assert!(!first.duplicate, "{case}: a first send is not a duplicate");
    accepted.push((sms.clone(), first.clone()));

    let case = "email is sent";
    let email = message(client, MessageChannel::Email, email_to, &format!("{ns}-email"));
    let sent = m.send(&email).await.unwrap_or_else(|e| panic!("{case}: {e}"));
    assert!(!sent.message_id.is_empty() && !sent.duplicate, "{case}: {sent:?}");
    assert_ne!(sent.message_id, first.message_id, "{case}: two messages, two ids");
    accepted.push((email, sent));

    let case = "same idempotency key again";
    let again = m.send(&sms).await.unwrap_or_else(|e| panic!("{case}: {e}"));
    match dedup {
        Dedup::Exact => {
            assert_eq!(again.message_id, first.message_id, "{case}: the first message id is returned");
            assert!(again.duplicate, "{case}: reported as a duplicate");
        }
        Dedup::None => assert!(!again.message_id.is_empty(), "{case}: accepted"),
    }

    if dedup == Dedup::Exact {
        let case = "concurrent sends with one key";
        let msg = message(client, MessageChannel::Sms, sms_to, &format!("{ns}-race"));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (m, msg) = (m.clone(), msg.clone());
            tasks.push(tokio::spawn(async move { m.send(&msg).await }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("task").unwrap_or_else(|e| panic!("{case}: {e}")));
        }
        assert_eq!(results.iter().filter(|r| !r.duplicate).count(), 1, "{case}: exactly one real send: {results:?}");
        assert!(results.iter().all(|r| r.message_id == results[0].message_id), "{case}: one message id");
        let original = results.iter().find(|r| !r.duplicate).expect("one original").clone();
        accepted.push((msg, original));
    }

    let permanent = |case: &'static str, r: Result<SentMessage, SendError>, needle: &'static str| match r {
        Err(SendError::Permanent(msg)) => assert!(msg.contains(needle), "{case}: message should say {needle:?}: {msg}"),
        other => panic!("{case}: expected a permanent error, got {other:?}"),
    };
    let mut bad = message(client, MessageChannel::Sms, "13800138000", &format!("{ns}-bad1"));
    permanent("phone without country code", m.send(&bad).await, "E.164");
    bad.to = "+86 138 0013 8000".into();
    permanent("phone with spaces", m.send(&bad).await, "E.164");
    let mut bad = message(client, MessageChannel::Email, "not-an-address", &format!("{ns}-bad2"));
    permanent("malformed address", m.send(&bad).await, "not an email address");
    bad.to = email_to.into();
    bad.subject = None;
    permanent("email without subject", m.send(&bad).await, "no subject");
    let mut bad = message(client, MessageChannel::Sms, sms_to, &format!("{ns}-bad3"));
    bad.body = "  \n".into();
    permanent("empty body", m.send(&bad).await, "empty body");
    bad.body = "x".into();
    bad.idempotency_key = "has spaces in it".into();
    permanent("bad idempotency key", m.send(&bad).await, "idempotency key");
    accepted
}
