//! [`S3Blob`]: the [`Blob`] port on one S3 bucket.
//!
//! - `put` stores the content's hex SHA-256 in the object metadata
//!   (`x-amz-meta-sha256`); `head` reports it. Objects uploaded through a
//!   presigned URL have no such metadata, so their `sha256` is `None`.
//! - `PutMode::CreateOnly` sends `If-None-Match: *`; S3 answers 412
//!   PreconditionFailed when the key exists, reported as
//!   `PortError::ConditionFailed`. (moto 5.2 implements the header too; see
//!   the conformance test.)
//! - `list` pages through ListObjectsV2; S3 returns keys in UTF-8 binary
//!   order, which is the sorted order the port promises.
//! - `presign_put` signs the `Content-Type`: the uploader must send exactly
//!   that header, otherwise S3 rejects the signature.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use rentops_ports::{Blob, BlobMeta, PortError, PortResult, PutMode};

use crate::error::sdk_error;

/// Metadata key (without `x-amz-meta-`) holding the content's hex SHA-256.
pub const SHA256_METADATA: &str = "sha256";
/// S3's limit on a presigned URL's lifetime.
pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The [`Blob`] port on S3.
#[derive(Debug, Clone)]
pub struct S3Blob {
    client: Client,
    bucket: String,
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

fn check_key(key: &str) -> PortResult<()> {
    if key.is_empty() || key.len() > 1024 {
        return Err(PortError::Invalid(format!("blob key {key:?}: must be 1 to 1024 bytes")));
    }
    Ok(())
}

impl S3Blob {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3Blob { client, bucket: bucket.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Create the bucket (for tests against moto or a scratch account; the
    /// real bucket comes from `infra/template.yaml`).
    pub async fn create_bucket_for_tests(client: &Client, bucket: &str) -> PortResult<()> {
        client
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("S3 CreateBucket {bucket}"), e))?;
        Ok(())
    }

    fn what(&self, op: &str, key: &str) -> String {
        format!("S3 {op} s3://{}/{key}", self.bucket)
    }
}

#[async_trait]
impl Blob for S3Blob {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, mode: PutMode) -> PortResult<()> {
        check_key(key)?;
        let sha = sha256_hex(&bytes);
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .metadata(SHA256_METADATA, sha)
            .body(ByteStream::from(bytes));
        if mode == PutMode::CreateOnly {
            req = req.if_none_match("*");
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => match sdk_error(&self.what("PutObject", key), e) {
                PortError::ConditionFailed(m) => {
                    Err(PortError::ConditionFailed(format!("blob {key} already exists (create-only put): {m}")))
                }
                other => Err(other),
            },
        }
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        check_key(key)?;
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(o) => o,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => return Ok(None),
            Err(e) => return Err(sdk_error(&self.what("GetObject", key), e)),
        };
        let data = out.body.collect().await.map_err(|e| {
            PortError::Transient(format!("{}: reading the body failed: {e}", self.what("GetObject", key)))
        })?;
        Ok(Some(data.into_bytes().to_vec()))
    }

    async fn head(&self, key: &str) -> PortResult<Option<BlobMeta>> {
        check_key(key)?;
        let out = match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(o) => o,
            Err(e) if matches!(e.as_service_error(), Some(HeadObjectError::NotFound(_))) => return Ok(None),
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => return Ok(None),
            Err(e) => return Err(sdk_error(&self.what("HeadObject", key), e)),
        };
        Ok(Some(BlobMeta {
            key: key.to_string(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            content_type: out.content_type().map(str::to_string),
            sha256: out.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned(),
        }))
    }

    async fn list(&self, prefix: &str, limit: u32) -> PortResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        while (keys.len() as u64) < u64::from(limit) {
            let want = (u64::from(limit) - keys.len() as u64).min(1000) as i32;
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(want)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error(&format!("S3 ListObjectsV2 s3://{}/{prefix}*", self.bucket), e))?;
            keys.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_string)));
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        keys.truncate(limit as usize);
        keys.sort();
        Ok(keys)
    }

    async fn presign_put(&self, key: &str, content_type: &str, expires: Duration) -> PortResult<String> {
        check_key(key)?;
        if expires.is_zero() || expires > MAX_PRESIGN {
            return Err(PortError::Invalid(format!(
                "presigned URL lifetime {expires:?}: must be more than 0 and at most 7 days"
            )));
        }
        let config = PresigningConfig::expires_in(expires)
            .map_err(|e| PortError::Invalid(format!("presigned URL lifetime {expires:?}: {e}")))?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .presigned(config)
            .await
            .map_err(|e| sdk_error(&self.what("presign PutObject", key), e))?;
        Ok(req.uri().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_hex_of_the_content() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("raw/acme/alipay/2025-01-01/x").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(1025)).is_err());
    }
}
