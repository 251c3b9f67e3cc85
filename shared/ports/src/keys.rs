//! Client-scoped keys. The only way application code builds a store key.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Condition, Item, Page, PortError, PortResult, Query, SkRange, Store, WriteOp};

/// A client (rental company) id: 2–32 chars of `[a-z0-9-]`, starting with a letter.
/// It is the first part of every key, so it must never contain `#`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn new(s: impl Into<String>) -> Result<Self, PortError> {
        let s = s.into();
        let ok = (2..=32).contains(&s.len())
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(ClientId(s))
        } else {
            Err(PortError::Invalid(format!(
                "client id {s:?}: expected 2-32 characters a-z, 0-9 or '-', starting with a letter"
            )))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `C#<client>#`: the prefix of every partition key of this client.
    pub fn prefix(&self) -> String {
        format!("C#{}#", self.0)
    }
}

impl std::fmt::Display for ClientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ClientId {
    type Error = PortError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ClientId::new(s)
    }
}

impl From<ClientId> for String {
    fn from(c: ClientId) -> String {
        c.0
    }
}

/// Partition keys of the global registries (not owned by one client).
pub const SYS_PREFIX: &str = "SYS#";

/// Adapters call this on every key they are given: a partition key must be
/// `C#<valid client>#<rest>` or `SYS#<rest>`.
pub fn check_pk(pk: &str) -> PortResult<()> {
    if let Some(rest) = pk.strip_prefix(SYS_PREFIX) {
        if !rest.is_empty() {
            return Ok(());
        }
    }
    if let Some(rest) = pk.strip_prefix("C#") {
        if let Some((client, tail)) = rest.split_once('#') {
            if ClientId::new(client).is_ok() && !tail.is_empty() {
                return Ok(());
            }
        }
    }
    Err(PortError::Invalid(format!("key {pk:?} is not client-scoped (C#<client>#...) or SYS#...")))
}

/// A store handle bound to one client. Keys passed in are relative
/// (`LEASE#L-001`); the handle adds `C#<client>#` and strips it from results,
/// so code holding a `ClientStore` cannot address another client's items.
#[derive(Clone)]
pub struct ClientStore {
    client: ClientId,
    prefix: String,
    inner: Arc<dyn Store>,
}

impl ClientStore {
    pub fn new(inner: Arc<dyn Store>, client: ClientId) -> Self {
        let prefix = client.prefix();
        ClientStore { client, prefix, inner }
    }
    pub fn client(&self) -> &ClientId {
        &self.client
    }
    fn full(&self, k: &str) -> PortResult<String> {
        if k.is_empty() || k.starts_with("C#") || k.starts_with(SYS_PREFIX) {
            return Err(PortError::Invalid(format!("relative key expected, got {k:?}")));
        }
        Ok(format!("{}{}", self.prefix, k))
    }
    fn strip(&self, mut item: Item) -> PortResult<Item> {
        item.pk = item
            .pk
            .strip_prefix(&self.prefix)
            .ok_or_else(|| PortError::Other(format!("adapter returned foreign item {}", item.pk)))?
            .to_string();
        if let Some(g) = item.gsi1pk.take() {
            item.gsi1pk = Some(g.strip_prefix(&self.prefix).map(str::to_string).unwrap_or(g));
        }
        Ok(item)
    }
    /// `item` with its keys made absolute for this client, for writes that go
    /// through another port (the atomic [`crate::Intake`]).
    pub fn scoped(&self, mut item: Item) -> PortResult<Item> {
        item.pk = self.full(&item.pk)?;
        if let Some(g) = item.gsi1pk.take() {
            item.gsi1pk = Some(self.full(&g)?);
        }
        Ok(item)
    }

    pub async fn get(&self, pk: &str, sk: &str) -> PortResult<Option<Item>> {
        match self.inner.get(&self.full(pk)?, sk).await? {
            Some(i) => Ok(Some(self.strip(i)?)),
            None => Ok(None),
        }
    }
    pub async fn put(&self, item: Item, condition: Condition) -> PortResult<u64> {
        self.inner.put(self.scoped(item)?, condition).await
    }
    pub async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> PortResult<()> {
        self.inner.delete(&self.full(pk)?, sk, condition).await
    }
    /// `query.pk` is relative (table or gsi1 partition).
    pub async fn query(&self, mut query: Query) -> PortResult<Page> {
        query.pk = self.full(&query.pk)?;
        let page = self.inner.query(query).await?;
        Ok(Page { items: page.items.into_iter().map(|i| self.strip(i)).collect::<PortResult<_>>()?, next: page.next })
    }
    /// Every page of a query, in order.
    pub async fn query_all(&self, mut query: Query) -> PortResult<Vec<Item>> {
        let mut out = Vec::new();
        loop {
            let page = self.query(query.clone()).await?;
            out.extend(page.items);
            match page.next {
                Some(n) => query.start = Some(n),
                None => return Ok(out),
            }
        }
    }
    pub async fn transact(&self, ops: Vec<WriteOp>) -> PortResult<()> {
        let ops = ops
            .into_iter()
            .map(|op| {
                Ok(match op {
                    WriteOp::Put { item, condition } => WriteOp::Put { item: self.scoped(item)?, condition },
                    WriteOp::Delete { pk, sk, condition } => WriteOp::Delete { pk: self.full(&pk)?, sk, condition },
                    WriteOp::Check { pk, sk, condition } => WriteOp::Check { pk: self.full(&pk)?, sk, condition },
                })
            })
            .collect::<PortResult<Vec<_>>>()?;
        self.inner.transact(ops).await
    }
}

/// Convenience for `SkRange::Prefix`.
pub fn prefix(p: impl Into<String>) -> SkRange {
    SkRange::Prefix(p.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_validated() {
        assert!(ClientId::new("acme-rentals").is_ok());
        assert!(ClientId::new("a").is_err());
        assert!(ClientId::new("Acme").is_err());
        assert!(ClientId::new("acme#x").is_err());
        assert!(ClientId::new("9lives").is_err());
    }

    #[test]
    fn partition_keys_must_be_scoped() {
        assert!(check_pk("C#acme#LEASE#1").is_ok());
        assert!(check_pk("SYS#CLIENTS").is_ok());
        assert!(check_pk("LEASE#1").is_err());
        assert!(check_pk("C#acme#").is_err());
        assert!(check_pk("C#ACME#LEASE#1").is_err());
        assert!(check_pk("SYS#").is_err());
    }
}
