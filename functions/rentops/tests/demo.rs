//! The main job end to end (`rentops demo`, embedded backend): the sample month's bill run, 535 provider
//! notifications over HTTP, bank statements, and dunning at 09:00 every day with its notices delivered.
//! Every booked figure must match sample/expected.json; the dunning month must be consistent with what is
//! stored (each notice delivered or failed exactly once, the outbox holding exactly the sent SMS / e-mails,
//! every repeated daily run changing nothing — the demo itself fails otherwise).

use rentops::demo;
use rentops_domain::dunning::NoticeStatus;
use rentops_ports::{ClientId, MessageChannel, SystemClock};
use rentops_rules::Channel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_month_books_the_expected_figures_and_duns_every_day() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let r = demo::run(&data, &demo::default_sample_dir(), true).await.expect("demo runs");
    assert!(r.mismatches.is_empty(), "{:#?}", r.mismatches);
    assert!(r.unexpected_replies.is_empty(), "{:#?}", r.unexpected_replies);

    let (_backend, ports) = rentops::open_local(&data, "http://127.0.0.1:0", std::sync::Arc::new(SystemClock)).unwrap();
    let mut total_notices = 0;
    for client in ["acme-properties", "lotus-parking"] {
        let month = r.dunning.get(client).unwrap_or_else(|| panic!("{client} was dunned"));
        let store = ports.client_store(&ClientId::new(client).unwrap());
        let notices = rentops_app::notifier::notices(&store).await.unwrap();
        assert_eq!(month.notices, notices.len() as u64, "{client}: every notice the runs reported is stored");
        assert!(month.notices > 0 && month.accruals > 0, "{client}: {month:?}");
        assert!(month.skipped.is_empty(), "{client}: {:?}", month.skipped);
        assert!(
            notices.iter().all(|n| !matches!(n.status, NoticeStatus::Pending)),
            "{client}: every notice delivered or failed"
        );
        // The outbox holds exactly the SMS and e-mails recorded as sent.
        let outbox = rentops_embedded::outbox::list(&store).await.unwrap();
        let sent = |ch: Channel| {
            notices.iter().filter(|n| n.channel == ch && matches!(n.status, NoticeStatus::Sent { .. })).count()
        };
        assert_eq!(outbox.iter().filter(|m| m.channel == MessageChannel::Sms).count(), sent(Channel::Sms), "{client}");
        assert_eq!(
            outbox.iter().filter(|m| m.channel == MessageChannel::Email).count(),
            sent(Channel::Email),
            "{client}"
        );
        let letters = rentops_app::notifier::letters(&store).await.unwrap();
        assert_eq!(letters.len(), sent(Channel::Letter), "{client}");
        let tasks = rentops_app::notifier::tasks(&store, false).await.unwrap();
        assert_eq!(tasks.len(), sent(Channel::PhoneTask), "{client}");
        // The late fees the runs accrued are the late-fee invoices the summary shows.
        let summary = rentops_app::reports::collection_summary(
            &ports,
            &ClientId::new(client).unwrap(),
            "2027-01-05T00:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
        let accrued: rust_decimal::Decimal = month.late_fees.get("CNY").unwrap().parse().unwrap();
        assert_eq!(summary.total.late_fees.amount, accrued, "{client}");
        total_notices += notices.len();
    }
    assert_eq!(r.delivered.sent + r.delivered.failed, total_notices, "{:?}", r.delivered);
    assert_eq!(r.delivered.errors, 0);
}
