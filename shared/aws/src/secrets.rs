//! [`SecretsManagerSecrets`]: the [`Secrets`] port on AWS Secrets Manager.
//!
//! A secret named `rentops/<client>/<provider>` holds a provider key or
//! certificate, as a string (PEM, JSON) or binary. A missing secret is
//! `Ok(None)`. Values found are cached in memory for a TTL (default 5
//! minutes) because the webhook reads them on every notification; absence is
//! not cached, so a newly created secret is seen on the next call. Rotation
//! therefore takes effect within one TTL. Values never appear in logs or
//! error messages (only names do).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use rentops_ports::{PortError, PortResult, Secret, Secrets};

use crate::error::sdk_error;

/// Default lifetime of a cached secret.
pub const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(300);

/// The [`Secrets`] port on Secrets Manager, with an in-memory cache.
#[derive(Debug)]
pub struct SecretsManagerSecrets {
    client: Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Secret)>>,
}

impl SecretsManagerSecrets {
    pub fn new(client: Client) -> Self {
        SecretsManagerSecrets { client, ttl: DEFAULT_SECRET_TTL, cache: Mutex::new(HashMap::new()) }
    }

    /// Cache found secrets for `ttl`; `Duration::ZERO` disables the cache.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Drop every cached value (for example after a known rotation).
    pub fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    fn cached(&self, name: &str) -> Option<Secret> {
        if self.ttl.is_zero() {
            return None;
        }
        let cache = self.cache.lock().ok()?;
        cache.get(name).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, s)| s.clone())
    }

    fn remember(&self, name: &str, secret: &Secret) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut c) = self.cache.lock() {
            c.insert(name.to_string(), (Instant::now(), secret.clone()));
        }
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, name: &str) -> PortResult<Option<Secret>> {
        if name.is_empty() {
            return Err(PortError::Invalid("secret name is empty".into()));
        }
        if let Some(s) = self.cached(name) {
            return Ok(Some(s));
        }
        let out = match self.client.get_secret_value().secret_id(name).send().await {
            Ok(o) => o,
            Err(e) if matches!(e.as_service_error(), Some(GetSecretValueError::ResourceNotFoundException(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(sdk_error(&format!("Secrets Manager GetSecretValue {name}"), e)),
        };
        let secret = if let Some(s) = out.secret_string() {
            Secret(s.as_bytes().to_vec())
        } else if let Some(b) = out.secret_binary() {
            Secret(b.as_ref().to_vec())
        } else {
            return Err(PortError::Other(format!("secret {name} has neither a string nor a binary value")));
        };
        self.remember(name, &secret);
        Ok(Some(secret))
    }
}
