//! rentops-aws: the AWS adapters of the ports in `rentops-ports`.
//!
//! | port | adapter | module |
//! |------|---------|--------|
//! | `Store` | [`DynamoStore`] (one table, sparse GSI `gsi1`) | [`dynamo`] |
//! | `Queue` | [`SqsQueue`] (queues with DLQs, name → URL table) | [`sqs`] |
//! | `Blob` | [`S3Blob`] (one bucket) | [`s3`] |
//! | `Secrets` | [`SecretsManagerSecrets`] (with TTL cache) | [`secrets`] |
//! | `Messenger` | [`AwsMessenger`] (SMS via SNS Publish, email via SES v2 SendEmail; built on its own with [`AwsMessenger::from_env`], not part of [`AwsBackend`]) | [`messenger`] |
//!
//! SDK errors are mapped onto `PortError` in [`error`] (throttling, 5xx and
//! timeouts become `Transient`). [`AwsBackend::from_env`] wires all four from
//! the environment the SAM template (`infra/template.yaml`) gives each Lambda.
//!
//! Endpoint: the SDK honours `AWS_ENDPOINT_URL` (moto in tests). When an
//! endpoint override is set, S3 uses path-style addressing.

pub mod dynamo;
mod error;
pub mod messenger;
pub mod s3;
pub mod secrets;
pub mod sqs;

use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use rentops_ports::{PortError, PortResult};

pub use dynamo::DynamoStore;
pub use messenger::{AwsMessenger, MessengerSettings};
pub use s3::S3Blob;
pub use secrets::SecretsManagerSecrets;
pub use sqs::SqsQueue;

/// Environment variable naming the DynamoDB table.
pub const ENV_TABLE_NAME: &str = "TABLE_NAME";
/// Environment variable naming the S3 bucket for raw notifications and other blobs.
pub const ENV_BLOB_BUCKET: &str = "BLOB_BUCKET";

/// Load the SDK configuration from the environment (region, credentials,
/// `AWS_ENDPOINT_URL`), with the latest behaviour version and bounded
/// timeouts: 3 s to connect, 25 s per attempt (above SQS's longest 20 s long
/// poll), so a hung connection fails as `Transient` instead of hanging the
/// function until Lambda kills it. The SDK's standard retry (3 attempts,
/// backoff) stays on.
pub async fn load_sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(25))
        .build();
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

/// Tests against moto server: the SDK config and endpoint when `AWS_ENDPOINT_URL` is set (`eval "$(scripts/moto.sh
/// start)"`), else `None` after printing a `SKIPPED <test>` line (the test then passes without running).
/// Panics on an endpoint that is not local: the tests create resources and leave them.
pub async fn moto_for_tests(test: &str) -> Option<(SdkConfig, String)> {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") else {
        println!(
            "SKIPPED {test}: set RENTOPS_MOTO=1 / AWS_ENDPOINT_URL (run `eval \"$(scripts/moto.sh start)\"` first)"
        );
        return None;
    };
    let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    assert!(
        local.iter().any(|p| endpoint.starts_with(p)),
        "{test}: AWS_ENDPOINT_URL={endpoint} is not a local moto server; the tests create resources and leave them"
    );
    Some((load_sdk_config().await, endpoint))
}

/// A fresh name for test resources (table, bucket, queue, client id): `<prefix><tag>-<13 hex>`, lowercase; a valid
/// client id while `prefix` + `tag` stay within 15 characters.
pub fn unique_name_for_tests(prefix: &str, tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mix = (nanos as u64)
        ^ (u64::from(std::process::id()) << 40)
        ^ SEQ.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!("{prefix}{tag}-{:013x}", mix & 0x000f_ffff_ffff_ffff)
}

/// A DynamoDB client for `conf`.
pub fn dynamodb_client(conf: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(conf)
}

/// An SQS client for `conf`.
pub fn sqs_client(conf: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(conf)
}

/// An S3 client for `conf`; path-style addressing when an endpoint override
/// (moto, MinIO) is configured, since those do not serve virtual-host buckets.
pub fn s3_client(conf: &SdkConfig) -> aws_sdk_s3::Client {
    let builder = aws_sdk_s3::config::Builder::from(conf).force_path_style(conf.endpoint_url().is_some());
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// A Secrets Manager client for `conf`.
pub fn secretsmanager_client(conf: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(conf)
}

/// An SNS client for `conf` (SMS).
pub fn sns_client(conf: &SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(conf)
}

/// An SES v2 client for `conf` (email).
pub fn sesv2_client(conf: &SdkConfig) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(conf)
}

/// All four AWS adapters, built from one SDK configuration.
///
/// Fields are concrete types; coerce with `backend.store.clone() as Arc<dyn Store>`.
#[derive(Debug, Clone)]
pub struct AwsBackend {
    pub store: Arc<DynamoStore>,
    pub queue: Arc<SqsQueue>,
    pub blob: Arc<S3Blob>,
    pub secrets: Arc<SecretsManagerSecrets>,
    /// The SDK configuration the adapters were built from (for adapters built on their own, such as
    /// [`AwsMessenger::from_env`]).
    pub sdk_config: SdkConfig,
}

fn required(vars: &[(String, String)], name: &str, what: &str) -> PortResult<String> {
    match vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        Some(_) => Err(PortError::Invalid(format!("environment variable {name} ({what}) is set but empty"))),
        None => Err(PortError::Invalid(format!("environment variable {name} ({what}) is not set"))),
    }
}

impl AwsBackend {
    /// Build from the process environment: `TABLE_NAME`, `BLOB_BUCKET`,
    /// `QUEUE_URL_<NAME>` for each queue and its `<NAME>_DLQ` (see [`sqs`]),
    /// plus the usual AWS variables (`AWS_REGION`, credentials,
    /// `AWS_ENDPOINT_URL`).
    pub async fn from_env() -> PortResult<Self> {
        let conf = load_sdk_config().await;
        AwsBackend::from_vars(&conf, std::env::vars().collect())
    }

    /// Build from `conf` and an explicit list of variables (testable without
    /// touching the process environment).
    pub fn from_vars(conf: &SdkConfig, vars: Vec<(String, String)>) -> PortResult<Self> {
        let table = required(&vars, ENV_TABLE_NAME, "DynamoDB table name")?;
        let bucket = required(&vars, ENV_BLOB_BUCKET, "S3 bucket for raw notifications")?;
        if conf.region().is_none() {
            return Err(PortError::Invalid("no AWS region configured: set AWS_REGION".into()));
        }
        let queue = SqsQueue::from_vars(sqs_client(conf), vars)?;
        Ok(AwsBackend {
            store: Arc::new(DynamoStore::new(dynamodb_client(conf), table)),
            queue: Arc::new(queue),
            blob: Arc::new(S3Blob::new(s3_client(conf), bucket)),
            secrets: Arc::new(SecretsManagerSecrets::new(secretsmanager_client(conf))),
            sdk_config: conf.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::Region;

    fn conf() -> SdkConfig {
        SdkConfig::builder().region(Region::new("us-east-1")).behavior_version(BehaviorVersion::latest()).build()
    }

    fn v(k: &str, val: &str) -> (String, String) {
        (k.to_string(), val.to_string())
    }

    #[test]
    fn missing_variables_are_named() {
        let err = AwsBackend::from_vars(&conf(), vec![v("BLOB_BUCKET", "b")]).unwrap_err();
        assert!(err.to_string().contains("TABLE_NAME"), "{err}");
        let err = AwsBackend::from_vars(&conf(), vec![v("TABLE_NAME", "t"), v("BLOB_BUCKET", " ")]).unwrap_err();
        assert!(err.to_string().contains("BLOB_BUCKET"), "{err}");
        let err =
            AwsBackend::from_vars(&conf(), vec![v("TABLE_NAME", "t"), v("BLOB_BUCKET", "b"), v("QUEUE_URL_X", "")])
                .unwrap_err();
        assert!(err.to_string().contains("QUEUE_URL_X"), "{err}");
    }

    #[test]
    fn builds_from_variables() {
        let b = AwsBackend::from_vars(
            &conf(),
            vec![
                v("TABLE_NAME", "rentops-prod"),
                v("BLOB_BUCKET", "raw"),
                v("QUEUE_URL_PAYMENT_EVENTS", "https://sqs.us-east-1.amazonaws.com/1/pe"),
                v("QUEUE_URL_PAYMENT_EVENTS_DLQ", "https://sqs.us-east-1.amazonaws.com/1/pe-dlq"),
            ],
        )
        .unwrap();
        assert_eq!(b.store.table(), "rentops-prod");
        assert_eq!(b.blob.bucket(), "raw");
        assert_eq!(
            b.queue.urls().get("payment-events-dlq").map(String::as_str),
            Some("https://sqs.us-east-1.amazonaws.com/1/pe-dlq")
        );
        assert_eq!(b.queue.urls().len(), 2);
    }
}
