//! `AwsMessenger` on the wire, against moto server (no SDK mocks).
//!
//! Runs `rentops_ports::conformance::messenger_suite(.., Dedup::None)` on SNS (SMS) and SES v2 (email),
//! then checks that what was accepted really arrived: moto keeps every SMS published to a phone number
//! (`sns` model `SMS`: message id, phone number, text) and every email sent (`ses` model `Message`:
//! id, source, destinations, subject, body) and shows them at `GET /moto-api/data.json`.
//! moto does not keep SMS message attributes nor SES email tags / configuration set, so those are
//! checked on the request bodies the SDK put on the wire (an interceptor records them).
//!
//! ```sh
//! eval "$(scripts/moto.sh start)"
//! cargo test -p rentops-aws --test moto_messenger
//! ```
//!
//! Without `AWS_ENDPOINT_URL` the moto tests print SKIPPED and pass; they refuse a non-local endpoint.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_sdk_sns::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_sns::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sns::error::BoxError;
use rentops_aws::{AwsMessenger, MessengerSettings, sesv2_client, sns_client};
use rentops_ports::conformance::{Dedup, messenger_suite};
use rentops_ports::{ClientId, MessageChannel, Messenger, OutboundMessage, SendError};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn moto(test: &str) -> Option<(SdkConfig, String)> {
    rentops_aws::moto_for_tests(test).await
}

/// A fresh 13-hex-digit tag for names, keys and addresses.
fn unique() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mix = (nanos as u64) ^ (u64::from(std::process::id()) << 40);
    format!("{:013x}", mix & 0x000f_ffff_ffff_ffff)
}

/// A fresh E.164 number: +86 139 and 8 digits from the clock.
fn unique_phone() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("+86139{:08}", (nanos as u64 ^ u64::from(std::process::id())) % 100_000_000)
}

/// Verify `address` as an SES identity on moto (CreateEmailIdentity; moto verifies at once).
async fn verify_identity(conf: &SdkConfig, address: &str) {
    sesv2_client(conf).create_email_identity().email_identity(address).send().await.expect("CreateEmailIdentity");
}

/// GET `<endpoint>/moto-api/data.json`: every tracked model instance of the server.
async fn moto_data(endpoint: &str) -> Value {
    let host = endpoint.strip_prefix("http://").expect("moto is http").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect to moto");
    let head = format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP header end") + 4;
    let status = String::from_utf8_lossy(&response[..split]);
    assert!(status.starts_with("HTTP/1.0 200") || status.starts_with("HTTP/1.1 200"), "data.json: {status}");
    serde_json::from_slice(&response[split..]).expect("data.json is JSON")
}

fn instances<'a>(data: &'a Value, service: &str, model: &str) -> &'a [Value] {
    data[service][model].as_array().map(Vec::as_slice).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messenger_conformance_on_sns_and_ses() {
    let Some((conf, endpoint)) = moto("messenger_conformance_on_sns_and_ses").await else { return };
    let tag = unique();
    let from = format!("billing-{tag}@acme-rentals.example.com");
    verify_identity(&conf, &from).await;
    let settings = MessengerSettings::new(&format!("阳光物业 <{from}>")).unwrap();
    let messenger = Arc::new(AwsMessenger::new(sns_client(&conf), sesv2_client(&conf), settings));
    let client = ClientId::new("acme").unwrap();
    let sms_to = unique_phone();
    let email_to = format!("tenant-{tag}@example.com");

    let accepted = messenger_suite(messenger, &client, &format!("m{tag}"), &sms_to, &email_to, Dedup::None).await;
    assert_eq!(accepted.len(), 2, "one SMS and one email accepted (first sends): {accepted:?}");

    let data = moto_data(&endpoint).await;
    let sms: Vec<&Value> =
        instances(&data, "sns", "SMS").iter().filter(|s| s["phone_number"] == sms_to.as_str()).collect();
    let emails: Vec<&Value> = instances(&data, "ses", "Message")
        .iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"].as_array().is_some_and(|to| to.iter().any(|a| a == email_to.as_str()))
        })
        .collect();
    // The suite sends the SMS twice with one key (SNS has no idempotency: both go out) and the email
    // once; every refused message (bad number, no subject, empty body, bad key) must not reach AWS.
    assert_eq!(sms.len(), 2, "SMS to {sms_to} on moto: {sms:?}");
    assert_eq!(emails.len(), 1, "emails to {email_to} on moto: {emails:?}");

    for (message, sent) in &accepted {
        match message.channel {
            MessageChannel::Sms => {
                let got = sms.iter().find(|s| s["message_id"] == sent.message_id.as_str()).expect("SMS by message id");
                assert_eq!(got["phone_number"], sms_to.as_str());
                assert_eq!(got["message"], message.body.as_str(), "SMS text arrives unchanged (UTF-8)");
            }
            MessageChannel::Email => {
                let got = emails[0];
                assert_eq!(got["id"], sent.message_id.as_str(), "SES message id");
                assert_eq!(got["source"], format!("=?UTF-8?B?6Ziz5YWJ54mp5Lia?= <{from}>").as_str());
                assert_eq!(got["destinations"]["ToAddresses"], serde_json::json!([email_to]));
                assert_eq!(got["subject"], message.subject.as_deref().unwrap());
                assert_eq!(got["body"], message.body.as_str(), "email text body arrives unchanged (UTF-8)");
            }
        }
    }
    assert!(sms.iter().all(|s| s["message"] == accepted[0].0.body.as_str()), "both SMS carry the same text");
}

/// Records the body of every request a client puts on the wire.
#[derive(Debug, Clone, Default)]
struct Bodies(Arc<Mutex<Vec<Vec<u8>>>>);

impl Intercept for Bodies {
    fn name(&self) -> &'static str {
        "Bodies"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = ctx.request().body().bytes().unwrap_or_default().to_vec();
        self.0.lock().unwrap().push(body);
        Ok(())
    }
}

/// `application/x-www-form-urlencoded` pairs (SNS is a query protocol).
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex escape"));
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).expect("UTF-8 form value")
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The SNS message attributes of a Publish form: name → string value.
fn sns_attributes(pairs: &[(String, String)]) -> Vec<(String, String)> {
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let mut out = Vec::new();
    for n in 1.. {
        let Some(name) = get(&format!("MessageAttributes.entry.{n}.Name")) else { break };
        let value = get(&format!("MessageAttributes.entry.{n}.Value.StringValue")).unwrap_or_default();
        assert_eq!(get(&format!("MessageAttributes.entry.{n}.Value.DataType")).as_deref(), Some("String"));
        out.push((name, value));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_attributes_and_email_tags_on_the_wire() {
    let Some((conf, endpoint)) = moto("sms_attributes_and_email_tags_on_the_wire").await else { return };
    let tag = unique();
    let from = format!("notices-{tag}@acme-rentals.example.com");
    verify_identity(&conf, &from).await;
    let config_set = format!("rentops-notices-{tag}");
    sesv2_client(&conf).create_configuration_set().configuration_set_name(&config_set).send().await.unwrap();

    let (sns_bodies, ses_bodies) = (Bodies::default(), Bodies::default());
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&conf).interceptor(sns_bodies.clone()).build(),
    );
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(&conf).interceptor(ses_bodies.clone()).build(),
    );
    let settings = MessengerSettings::new(&from)
        .unwrap()
        .with_configuration_set(&config_set)
        .unwrap()
        .with_sms_sender_id("ACMERENT")
        .unwrap();
    let messenger = AwsMessenger::new(sns, ses, settings);
    let client = ClientId::new("acme-hk").unwrap();
    let key = format!("N-{tag}-sms_1");
    let phone = unique_phone();
    let sms = OutboundMessage {
        client: client.clone(),
        channel: MessageChannel::Sms,
        to: phone.clone(),
        subject: None,
        body: "租金提醒 & rent due = CNY 4,500.00 + 50% fee?".into(),
        idempotency_key: key.clone(),
    };
    let sent = messenger.send(&sms).await.unwrap();

    let bodies = sns_bodies.0.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "one Publish request");
    let pairs = form_pairs(&bodies[0]);
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("Action"), Some("Publish"));
    assert_eq!(get("PhoneNumber"), Some(phone.as_str()));
    assert_eq!(get("Message"), Some(sms.body.as_str()));
    assert_eq!(get("TopicArn"), None, "straight to the phone number, no topic");
    assert_eq!(
        sns_attributes(&pairs),
        vec![
            ("AWS.SNS.SMS.SMSType".to_string(), "Transactional".to_string()),
            ("AWS.SNS.SMS.SenderID".to_string(), "ACMERENT".to_string()),
            ("rentops.client".to_string(), "acme-hk".to_string()),
            ("rentops.idempotency-key".to_string(), key.clone()),
        ]
    );
    let data = moto_data(&endpoint).await;
    let got: Vec<_> = instances(&data, "sns", "SMS").iter().filter(|s| s["phone_number"] == phone.as_str()).collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((&got[0]["message_id"], &got[0]["message"]), (&Value::from(sent.message_id), &Value::from(sms.body)));

    let email_key = format!("N-{tag}-email");
    let email = OutboundMessage {
        client: client.clone(),
        channel: MessageChannel::Email,
        to: format!("tenant-{tag}@example.com"),
        subject: Some("催款函 Demand letter: INV-L-000001-2026-04".into()),
        body: "您的租金已逾期 10 天。Your rent is 10 days late.".into(),
        idempotency_key: email_key.clone(),
    };
    messenger.send(&email).await.unwrap();
    let bodies = ses_bodies.0.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "one SendEmail request");
    let req: Value = serde_json::from_slice(&bodies[0]).expect("SES v2 request is JSON");
    assert_eq!(req["FromEmailAddress"], from.as_str());
    assert_eq!(req["Destination"]["ToAddresses"], serde_json::json!([email.to]));
    assert_eq!(req["ConfigurationSetName"], config_set.as_str());
    let simple = &req["Content"]["Simple"];
    assert_eq!(simple["Subject"], serde_json::json!({"Data": email.subject, "Charset": "UTF-8"}));
    assert_eq!(simple["Body"], serde_json::json!({"Text": {"Data": email.body, "Charset": "UTF-8"}}));
    let mut tags: Vec<(String, String)> = req["EmailTags"]
        .as_array()
        .expect("EmailTags")
        .iter()
        .map(|t| (t["Name"].as_str().unwrap().to_string(), t["Value"].as_str().unwrap().to_string()))
        .collect();
    tags.sort();
    assert_eq!(
        tags,
        vec![("rentops-client".to_string(), "acme-hk".to_string()), ("rentops-idempotency-key".to_string(), email_key)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_from_address_is_permanent() {
    let Some((conf, endpoint)) = moto("unverified_from_address_is_permanent").await else { return };
    let tag = unique();
    let from = format!("nobody-{tag}@unverified.example.com");
    let messenger = AwsMessenger::new(sns_client(&conf), sesv2_client(&conf), MessengerSettings::new(&from).unwrap());
    let to = format!("tenant-{tag}@example.com");
    let email = OutboundMessage {
        client: ClientId::new("acme").unwrap(),
        channel: MessageChannel::Email,
        to: to.clone(),
        subject: Some("Rent reminder".into()),
        body: "Your rent is due.".into(),
        idempotency_key: format!("N-{tag}"),
    };
    match messenger.send(&email).await {
        Err(SendError::Permanent(msg)) => {
            println!("unverified From: {msg}");
            for needle in ["MessageRejected", "HTTP 400", from.as_str(), to.as_str(), "SES SendEmail", "verify"] {
                assert!(msg.contains(needle), "message should say {needle:?}: {msg}");
            }
        }
        other => panic!("unverified From: expected a permanent error, got {other:?}"),
    }
    let data = moto_data(&endpoint).await;
    assert!(
        !instances(&data, "ses", "Message").iter().any(|m| m["source"] == from.as_str()),
        "nothing was sent from the unverified address"
    );
}

/// Nothing listens on the endpoint: a dispatch failure, reported as transient (no moto needed).
#[tokio::test]
async fn unreachable_endpoint_is_transient() {
    let conf = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_sns::config::SharedCredentialsProvider::new(
            aws_sdk_sns::config::Credentials::for_tests(),
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(aws_config::timeout::TimeoutConfig::builder().connect_timeout(Duration::from_secs(2)).build())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let messenger =
        AwsMessenger::from_vars(&conf, &[("EMAIL_FROM".into(), "billing@acme.example.com".into())]).unwrap();
    let mut m = OutboundMessage {
        client: ClientId::new("acme").unwrap(),
        channel: MessageChannel::Sms,
        to: "+8613800138000".into(),
        subject: None,
        body: "hello".into(),
        idempotency_key: "N-unreachable".into(),
    };
    for channel in [MessageChannel::Sms, MessageChannel::Email] {
        m.channel = channel;
        if channel == MessageChannel::Email {
            m.to = "t@example.com".into();
            m.subject = Some("s".into());
        }
        match messenger.send(&m).await {
            Err(SendError::Transient(msg)) => {
                println!("{channel:?} to a closed port: {msg}");
                assert!(msg.contains("not delivered") && msg.contains("N-unreachable"), "{msg}")
            }
            other => panic!("{channel:?} to a closed port: expected transient, got {other:?}"),
        }
    }
}
