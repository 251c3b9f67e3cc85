//! [`DynamoStore`]: the [`Store`] port on one DynamoDB table.
//!
//! Table layout (the SAM template in `infra/template.yaml` declares the real
//! table; [`DynamoStore::create_table_for_tests`] creates the same shape):
//!
//! | attribute | type | meaning |
//! |-----------|------|---------|
//! | `pk`, `sk` | S | table key (`pk` always `C#<client>#...` or `SYS#...`) |
//! | `gsi1pk`, `gsi1sk` | S | key of the sparse index `gsi1`; absent when the item is not indexed |
//! | `body` | S | the item's data as JSON text |
//! | `version` | N | 1 on first write, +1 on every overwrite |
//!
//! **Writes are `UpdateItem`s.** Every put (alone or inside a transaction) is
//! `SET body, gsi1… REMOVE <absent gsi1 attrs> ADD version 1` with the
//! condition mapped to a `ConditionExpression`. `ADD` on a missing attribute
//! starts from 0, so the stored version is exactly old+1 (or 1 for a new item)
//! for every [`Condition`], including [`Condition::None`], without a read and
//! without a race: DynamoDB applies the increment atomically with the write.
//! (The item has no other attributes, so updating these is a full replace.)
//! The only imprecision: if the SDK retries an unconditional put whose first
//! attempt had in fact succeeded, the version advances by 2. That can only
//! make a concurrent optimistic writer re-read; it never loses data.
//!
//! Conditions: `NotExists` → `attribute_not_exists(pk)`, `Exists` →
//! `attribute_exists(pk)`, `Version(n)` → `version = n`. A `Check` with
//! `Condition::None` becomes the always-true `attribute_exists(pk) OR
//! attribute_not_exists(pk)` so that cancellation reasons stay aligned with
//! the caller's op indexes.
//!
//! A cancelled transaction becomes `PortError::TransactionCancelled` with one
//! reason per op (`"ConditionalCheckFailed"`, ...; `None` for ops that were
//! fine), except when the only reasons are `TransactionConflict` / throttling:
//! nothing was wrong with the data, so it is `Transient` (retry).
//!
//! Transactions carry a fresh `ClientRequestToken`, so an SDK retry of a
//! transaction that already succeeded is idempotent instead of failing its
//! conditions.
//!
//! Query cursors are URL-safe base64 of a JSON object holding the
//! `ExclusiveStartKey` (all key attributes are strings). A page with a limit
//! asks DynamoDB for one item more than requested, so `Page::next` is `None`
//! exactly when there is nothing after this page.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ScalarAttributeType, TableStatus, TransactWriteItem, Update,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rentops_ports::keys::check_pk;
use rentops_ports::{
    Condition, Index, Item, MAX_TRANSACTION_WRITES, Page, PortError, PortResult, Query, SkRange, Store, WriteOp,
};

use crate::error::sdk_error;

pub const ATTR_PK: &str = "pk";
pub const ATTR_SK: &str = "sk";
pub const ATTR_GSI1PK: &str = "gsi1pk";
pub const ATTR_GSI1SK: &str = "gsi1sk";
pub const ATTR_BODY: &str = "body";
pub const ATTR_VERSION: &str = "version";
/// Name of the sparse global secondary index.
pub const GSI1: &str = "gsi1";
/// DynamoDB's item size limit (400 KB, counting attribute names and values).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// Cancellation reason codes that only mean "someone else was busy": a
/// transaction cancelled for these reasons alone is reported as `Transient`.
const RETRYABLE_CANCEL_CODES: &[&str] =
    &["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"];

/// The single-table [`Store`] on DynamoDB.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Create a table with the production shape (pk/sk, GSI `gsi1`,
    /// on-demand billing) and wait until it is active. For tests against moto
    /// or a scratch account; the real table comes from `infra/template.yaml`.
    pub async fn create_table_for_tests(client: &Client, name: &str) -> PortResult<()> {
        let key = |n: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(t)
                .build()
                .map_err(|e| PortError::Other(format!("key schema: {e}")))
        };
        let def = |n: &str| {
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| PortError::Other(format!("attribute definition: {e}")))
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key(ATTR_GSI1PK, KeyType::Hash)?)
            .key_schema(key(ATTR_GSI1SK, KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(|e| PortError::Other(format!("gsi definition: {e}")))?;
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(def(ATTR_PK)?)
            .attribute_definitions(def(ATTR_SK)?)
            .attribute_definitions(def(ATTR_GSI1PK)?)
            .attribute_definitions(def(ATTR_GSI1SK)?)
            .key_schema(key(ATTR_PK, KeyType::Hash)?)
            .key_schema(key(ATTR_SK, KeyType::Range)?)
            .global_secondary_indexes(gsi)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("DynamoDB CreateTable {name}"), e))?;
        for _ in 0..120 {
            let d = client
                .describe_table()
                .table_name(name)
                .send()
                .await
                .map_err(|e| sdk_error(&format!("DynamoDB DescribeTable {name}"), e))?;
            if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(PortError::Transient(format!("DynamoDB table {name} did not become ACTIVE within 60 s")))
    }

    fn what(&self, op: &str, pk: &str, sk: &str) -> String {
        format!("DynamoDB {op} {pk}/{sk} in table {}", self.table)
    }
}

// ---------------------------------------------------------------- expressions

/// Expression attribute names and values collected while building one request.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, placeholder: &str, attr: &str) -> String {
        self.names.insert(placeholder.to_string(), attr.to_string());
        placeholder.to_string()
    }
    fn value(&mut self, placeholder: &str, v: AttributeValue) -> String {
        self.values.insert(placeholder.to_string(), v);
        placeholder.to_string()
    }
    /// DynamoDB rejects empty maps, so they are sent only when used.
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// The condition expression for `c`; `always` makes `Condition::None` an
/// always-true expression (a ConditionCheck needs one).
fn condition_expr(c: Condition, ex: &mut Expr, always: bool) -> Option<String> {
    match c {
        Condition::None if always => {
            let pk = ex.name("#pk", ATTR_PK);
            Some(format!("attribute_exists({pk}) OR attribute_not_exists({pk})"))
        }
        Condition::None => None,
        Condition::NotExists => Some(format!("attribute_not_exists({})", ex.name("#pk", ATTR_PK))),
        Condition::Exists => Some(format!("attribute_exists({})", ex.name("#pk", ATTR_PK))),
        Condition::Version(n) => {
            let v = ex.name("#v", ATTR_VERSION);
            let expected = ex.value(":expected", AttributeValue::N(n.to_string()));
            Some(format!("{v} = {expected}"))
        }
    }
}

fn check_sk(pk: &str, sk: &str) -> PortResult<()> {
    if sk.is_empty() {
        return Err(PortError::Invalid(format!("item {pk}: sort key is empty")));
    }
    Ok(())
}

fn key_of(pk: &str, sk: &str) -> PortResult<HashMap<String, AttributeValue>> {
    check_pk(pk)?;
    check_sk(pk, sk)?;
    Ok(HashMap::from([
        (ATTR_PK.to_string(), AttributeValue::S(pk.to_string())),
        (ATTR_SK.to_string(), AttributeValue::S(sk.to_string())),
    ]))
}

/// Everything an `UpdateItem` needs to write `item` under `condition`.
struct PutPlan {
    key: HashMap<String, AttributeValue>,
    update: String,
    condition: Option<String>,
    ex: Expr,
}

fn plan_put(item: &Item, condition: Condition) -> PortResult<PutPlan> {
    let key = key_of(&item.pk, &item.sk)?;
    let body = serde_json::to_string(&item.body)
        .map_err(|e| PortError::Invalid(format!("item {}/{}: body is not serialisable: {e}", item.pk, item.sk)))?;
    let mut size = item.pk.len() + item.sk.len() + body.len() + 40;
    let mut ex = Expr::default();
    let mut set = vec![format!("{} = {}", ex.name("#b", ATTR_BODY), ex.value(":b", AttributeValue::S(body)))];
    let mut remove = Vec::new();
    for (attr, ph, val, value) in
        [(ATTR_GSI1PK, "#g1p", ":g1p", &item.gsi1pk), (ATTR_GSI1SK, "#g1s", ":g1s", &item.gsi1sk)]
    {
        match value {
            Some(v) => {
                if v.is_empty() {
                    return Err(PortError::Invalid(format!("item {}/{}: {attr} is empty", item.pk, item.sk)));
                }
                if attr == ATTR_GSI1PK {
                    check_pk(v)?;
                }
                size += attr.len() + v.len();
                set.push(format!("{} = {}", ex.name(ph, attr), ex.value(val, AttributeValue::S(v.clone()))));
            }
            None => remove.push(ex.name(ph, attr)),
        }
    }
    if size > MAX_ITEM_BYTES {
        return Err(PortError::Invalid(format!(
            "item {}/{} is about {size} bytes; DynamoDB items are limited to 400 KB",
            item.pk, item.sk
        )));
    }
    let mut update = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        update.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    let v = ex.name("#v", ATTR_VERSION);
    let one = ex.value(":one", AttributeValue::N("1".into()));
    update.push_str(&format!(" ADD {v} {one}"));
    let condition = condition_expr(condition, &mut ex, false);
    Ok(PutPlan { key, update, condition, ex })
}

// ---------------------------------------------------------------- item decoding

fn attr_s<'a>(attrs: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    attrs.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn decode_item(attrs: &HashMap<String, AttributeValue>) -> PortResult<Item> {
    let pk = attr_s(attrs, ATTR_PK).ok_or_else(|| PortError::Other("DynamoDB item without a string pk".into()))?;
    let sk =
        attr_s(attrs, ATTR_SK).ok_or_else(|| PortError::Other(format!("DynamoDB item {pk} without a string sk")))?;
    let body_text =
        attr_s(attrs, ATTR_BODY).ok_or_else(|| PortError::Other(format!("DynamoDB item {pk}/{sk} has no body")))?;
    let body = serde_json::from_str(body_text)
        .map_err(|e| PortError::Other(format!("DynamoDB item {pk}/{sk}: body is not JSON: {e}")))?;
    let version = match attrs.get(ATTR_VERSION) {
        Some(AttributeValue::N(n)) => n
            .parse::<u64>()
            .map_err(|e| PortError::Other(format!("DynamoDB item {pk}/{sk}: bad version {n:?}: {e}")))?,
        _ => return Err(PortError::Other(format!("DynamoDB item {pk}/{sk} has no numeric version"))),
    };
    Ok(Item {
        pk: pk.to_string(),
        sk: sk.to_string(),
        gsi1pk: attr_s(attrs, ATTR_GSI1PK).map(str::to_string),
        gsi1sk: attr_s(attrs, ATTR_GSI1SK).map(str::to_string),
        body,
        version,
    })
}

// ---------------------------------------------------------------- cursors

fn key_attrs(index: Index) -> &'static [&'static str] {
    match index {
        Index::Table => &[ATTR_PK, ATTR_SK],
        Index::Gsi1 => &[ATTR_PK, ATTR_SK, ATTR_GSI1PK, ATTR_GSI1SK],
    }
}

fn encode_cursor(key: &HashMap<String, AttributeValue>) -> PortResult<String> {
    let mut m = BTreeMap::new();
    for (k, v) in key {
        let s = v
            .as_s()
            .map_err(|_| PortError::Other(format!("DynamoDB returned a non-string key attribute {k} in a page key")))?;
        m.insert(k.clone(), s.clone());
    }
    let json = serde_json::to_vec(&m).map_err(|e| PortError::Other(format!("encoding cursor: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The start key of the page after `item` (the last item returned).
fn cursor_after(item: &HashMap<String, AttributeValue>, index: Index) -> PortResult<String> {
    let mut key = HashMap::new();
    for a in key_attrs(index) {
        let v = item.get(*a).ok_or_else(|| PortError::Other(format!("DynamoDB query result without key {a}")))?;
        key.insert(a.to_string(), v.clone());
    }
    encode_cursor(&key)
}

fn decode_cursor(cursor: &str, query: &Query) -> PortResult<HashMap<String, AttributeValue>> {
    let bad = |why: &str| PortError::Invalid(format!("query cursor {cursor:?} is not one this store issued: {why}"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad("not base64"))?;
    let m: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| bad("not a key object"))?;
    let wanted = key_attrs(query.index);
    if m.len() != wanted.len() || wanted.iter().any(|a| !m.contains_key(*a)) {
        return Err(bad("wrong key attributes for this index"));
    }
    let part = match query.index {
        Index::Table => ATTR_PK,
        Index::Gsi1 => ATTR_GSI1PK,
    };
    if m.get(part).map(String::as_str) != Some(query.pk.as_str()) {
        return Err(bad("it belongs to another partition"));
    }
    for (a, v) in &m {
        if *a == ATTR_PK || *a == ATTR_GSI1PK {
            check_pk(v)?;
        }
    }
    Ok(m.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

// ---------------------------------------------------------------- transactions

fn transact_item(op: &WriteOp, table: &str) -> PortResult<TransactWriteItem> {
    let build_err = |e: aws_sdk_dynamodb::error::BuildError| PortError::Other(format!("building transaction: {e}"));
    Ok(match op {
        WriteOp::Put { item, condition } => {
            let p = plan_put(item, *condition)?;
            let u = Update::builder()
                .table_name(table)
                .set_key(Some(p.key))
                .update_expression(p.update)
                .set_condition_expression(p.condition)
                .set_expression_attribute_names(p.ex.names())
                .set_expression_attribute_values(p.ex.values())
                .build()
                .map_err(build_err)?;
            TransactWriteItem::builder().update(u).build()
        }
        WriteOp::Delete { pk, sk, condition } => {
            let mut ex = Expr::default();
            let cond = condition_expr(*condition, &mut ex, false);
            let d = Delete::builder()
                .table_name(table)
                .set_key(Some(key_of(pk, sk)?))
                .set_condition_expression(cond)
                .set_expression_attribute_names(ex.names())
                .set_expression_attribute_values(ex.values())
                .build()
                .map_err(build_err)?;
            TransactWriteItem::builder().delete(d).build()
        }
        WriteOp::Check { pk, sk, condition } => {
            let mut ex = Expr::default();
            let cond = condition_expr(*condition, &mut ex, true);
            let c = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key_of(pk, sk)?))
                .set_condition_expression(cond)
                .set_expression_attribute_names(ex.names())
                .set_expression_attribute_values(ex.values())
                .build()
                .map_err(build_err)?;
            TransactWriteItem::builder().condition_check(c).build()
        }
    })
}

fn op_key(op: &WriteOp) -> (&str, &str) {
    match op {
        WriteOp::Put { item, .. } => (&item.pk, &item.sk),
        WriteOp::Delete { pk, sk, .. } | WriteOp::Check { pk, sk, .. } => (pk, sk),
    }
}

/// Reasons from DynamoDB's `CancellationReasons`, one per op; code `None`
/// (or no code) means that op was fine. Falls back to the bracketed list in
/// the message ("... [ConditionalCheckFailed, None]") when the structured
/// list is missing.
fn cancellation_reasons(codes: Vec<Option<String>>, message: Option<&str>, n: usize) -> Vec<Option<String>> {
    let mut reasons: Vec<Option<String>> =
        codes.into_iter().map(|c| c.filter(|c| !c.is_empty() && c != "None")).collect();
    if reasons.is_empty() {
        if let Some(list) = message.and_then(|m| m.rsplit_once('[')).and_then(|(_, r)| r.split_once(']')) {
            reasons = list
                .0
                .split(',')
                .map(|c| c.trim())
                .map(|c| (!c.is_empty() && c != "None").then(|| c.to_string()))
                .collect();
        }
    }
    reasons.resize(n, None);
    reasons
}

/// A cancelled transaction: `TransactionCancelled` with the per-op reasons,
/// except when every failing op failed only because of concurrent activity
/// or throttling (no condition failed): then retrying is right, so `Transient`.
fn cancellation_error(what: &str, reasons: Vec<Option<String>>, detail: &str) -> PortError {
    let failing: Vec<&str> = reasons.iter().flatten().map(String::as_str).collect();
    if !failing.is_empty() && failing.iter().all(|c| RETRYABLE_CANCEL_CODES.contains(c)) {
        return PortError::Transient(format!(
            "{what}: cancelled by concurrent activity or throttling ({}); safe to retry: {detail}",
            failing.join(", ")
        ));
    }
    PortError::TransactionCancelled { reasons }
}

// ---------------------------------------------------------------- the port

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, pk: &str, sk: &str) -> PortResult<Option<Item>> {
        let key = key_of(pk, sk)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&self.what("GetItem", pk, sk), e))?;
        out.item().map(decode_item).transpose()
    }

    async fn put(&self, item: Item, condition: Condition) -> PortResult<u64> {
        let p = plan_put(&item, condition)?;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(p.key))
            .update_expression(p.update)
            .set_condition_expression(p.condition)
            .set_expression_attribute_names(p.ex.names())
            .set_expression_attribute_values(p.ex.values())
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error(&self.what("UpdateItem (put)", &item.pk, &item.sk), e))?;
        match out.attributes().and_then(|a| a.get(ATTR_VERSION)) {
            Some(AttributeValue::N(n)) => n.parse().map_err(|e| {
                PortError::Other(format!("item {}/{}: DynamoDB returned bad version {n:?}: {e}", item.pk, item.sk))
            }),
            _ => Err(PortError::Other(format!(
                "item {}/{}: DynamoDB did not return the new version after a put",
                item.pk, item.sk
            ))),
        }
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> PortResult<()> {
        let key = key_of(pk, sk)?;
        let mut ex = Expr::default();
        let cond = condition_expr(condition, &mut ex, false);
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_condition_expression(cond)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await
            .map_err(|e| sdk_error(&self.what("DeleteItem", pk, sk), e))?;
        Ok(())
    }

    async fn query(&self, query: Query) -> PortResult<Page> {
        check_pk(&query.pk)?;
        let (pk_attr, sk_attr) = match query.index {
            Index::Table => (ATTR_PK, ATTR_SK),
            Index::Gsi1 => (ATTR_GSI1PK, ATTR_GSI1SK),
        };
        let mut ex = Expr::default();
        let mut kc =
            format!("{} = {}", ex.name("#qpk", pk_attr), ex.value(":qpk", AttributeValue::S(query.pk.clone())));
        match &query.sk {
            SkRange::All => {}
            SkRange::Prefix(p) if p.is_empty() => {}
            SkRange::Prefix(p) => {
                let sk = ex.name("#qsk", sk_attr);
                let v = ex.value(":qp", AttributeValue::S(p.clone()));
                kc.push_str(&format!(" AND begins_with({sk}, {v})"));
            }
            SkRange::Between(a, b) => {
                if a > b {
                    // DynamoDB rejects an inverted range; nothing lies in it.
                    return Ok(Page::default());
                }
                let sk = ex.name("#qsk", sk_attr);
                let va = ex.value(":qa", AttributeValue::S(a.clone()));
                let vb = ex.value(":qb", AttributeValue::S(b.clone()));
                kc.push_str(&format!(" AND {sk} BETWEEN {va} AND {vb}"));
            }
        }
        let limit = match query.limit {
            Some(0) => return Err(PortError::Invalid("query limit must be at least 1".into())),
            Some(l) => Some(l.min(i32::MAX as u32 - 1) as usize),
            None => None,
        };
        let start = query.start.as_deref().map(|c| decode_cursor(c, &query)).transpose()?;
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(kc)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .scan_index_forward(!query.descending)
            .set_exclusive_start_key(start)
            .set_limit(limit.map(|l| l as i32 + 1));
        match query.index {
            Index::Table => req = req.consistent_read(true),
            Index::Gsi1 => req = req.index_name(GSI1),
        }
        let out = req.send().await.map_err(|e| {
            sdk_error(&format!("DynamoDB Query {} ({:?}) in table {}", query.pk, query.index, self.table), e)
        })?;
        let raw = out.items();
        let (raw, next) = match limit {
            Some(l) if raw.len() > l => (&raw[..l], Some(cursor_after(&raw[l - 1], query.index)?)),
            _ => (raw, out.last_evaluated_key().map(encode_cursor).transpose()?),
        };
        let items = raw.iter().map(decode_item).collect::<PortResult<Vec<_>>>()?;
        Ok(Page { items, next })
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> PortResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        if ops.len() > MAX_TRANSACTION_WRITES {
            return Err(PortError::Invalid(format!(
                "transaction has {} writes; at most {MAX_TRANSACTION_WRITES} are allowed",
                ops.len()
            )));
        }
        let mut seen = HashSet::new();
        for op in &ops {
            let (pk, sk) = op_key(op);
            if !seen.insert((pk, sk)) {
                return Err(PortError::Invalid(format!("transaction writes {pk}/{sk} more than once")));
            }
        }
        let items = ops.iter().map(|op| transact_item(op, &self.table)).collect::<PortResult<Vec<_>>>()?;
        let first = op_key(&ops[0]);
        let what = format!(
            "DynamoDB TransactWriteItems ({} writes, first {}/{}) in table {}",
            ops.len(),
            first.0,
            first.1,
            self.table
        );
        let token = uuid::Uuid::new_v4().to_string();
        let res =
            self.client.transact_write_items().set_transact_items(Some(items)).client_request_token(token).send().await;
        let err = match res {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(tc)) = err.as_service_error() {
            let codes = tc.cancellation_reasons().iter().map(|r| r.code().map(str::to_string)).collect();
            let reasons = cancellation_reasons(codes, tc.message(), ops.len());
            tracing::debug!(table = %self.table, ?reasons, "transaction cancelled");
            return Err(cancellation_error(&what, reasons, &DisplayErrorContext(&err).to_string()));
        }
        if err.code() == Some("IdempotentParameterMismatchException") {
            return Err(PortError::Other(format!("{what}: {}", DisplayErrorContext(&err))));
        }
        Err(sdk_error(&what, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn put_plan_sets_body_removes_absent_index_keys_and_adds_version() {
        let p = plan_put(&Item::new("C#acme#LEASE#1", "META", json!({"a": 1})), Condition::Version(3)).unwrap();
        assert_eq!(p.update, "SET #b = :b REMOVE #g1p, #g1s ADD #v :one");
        assert_eq!(p.condition.as_deref(), Some("#v = :expected"));
        assert_eq!(p.ex.values.get(":expected"), Some(&AttributeValue::N("3".into())));
        assert_eq!(p.ex.values.get(":b"), Some(&AttributeValue::S("{\"a\":1}".into())));

        let indexed =
            Item::new("C#acme#LEASE#1", "INV#2025-01", json!({})).with_gsi1("C#acme#OPEN", "2025-01-05#INV-1");
        let p = plan_put(&indexed, Condition::NotExists).unwrap();
        assert_eq!(p.update, "SET #b = :b, #g1p = :g1p, #g1s = :g1s ADD #v :one");
        assert_eq!(p.condition.as_deref(), Some("attribute_not_exists(#pk)"));
        assert!(!p.ex.values.contains_key(":expected"));
    }

    #[test]
    fn put_plan_refuses_unscoped_and_oversized_items() {
        assert!(matches!(
            plan_put(&Item::new("LEASE#1", "META", json!({})), Condition::None),
            Err(PortError::Invalid(_))
        ));
        let foreign_index = Item::new("C#acme#LEASE#1", "META", json!({})).with_gsi1("OPEN", "x");
        assert!(matches!(plan_put(&foreign_index, Condition::None), Err(PortError::Invalid(_))));
        assert!(matches!(
            plan_put(&Item::new("C#acme#LEASE#1", "", json!({})), Condition::None),
            Err(PortError::Invalid(_))
        ));
        let big = Item::new("C#acme#LEASE#1", "META", json!({"x": "y".repeat(MAX_ITEM_BYTES)}));
        assert!(matches!(plan_put(&big, Condition::None), Err(PortError::Invalid(_))));
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_partition() {
        let q = Query::table("C#acme#LEASE#1", SkRange::All);
        let key = HashMap::from([
            (ATTR_PK.to_string(), AttributeValue::S("C#acme#LEASE#1".into())),
            (ATTR_SK.to_string(), AttributeValue::S("INV#2025-02".into())),
        ]);
        let c = encode_cursor(&key).unwrap();
        assert_eq!(decode_cursor(&c, &q).unwrap(), key);
        let other = Query::table("C#evil#LEASE#1", SkRange::All);
        assert!(matches!(decode_cursor(&c, &other), Err(PortError::Invalid(_))));
        assert!(matches!(decode_cursor("%%%", &q), Err(PortError::Invalid(_))));
        // A table cursor is not a gsi1 cursor.
        assert!(matches!(decode_cursor(&c, &Query::gsi1("C#acme#LEASE#1", SkRange::All)), Err(PortError::Invalid(_))));
    }

    #[test]
    fn cancellation_reasons_align_with_ops() {
        let r = cancellation_reasons(vec![Some("None".into()), Some("ConditionalCheckFailed".into()), None], None, 3);
        assert_eq!(r, vec![None, Some("ConditionalCheckFailed".to_string()), None]);
        let from_msg = cancellation_reasons(
            vec![],
            Some(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
            ),
            2,
        );
        assert_eq!(from_msg, vec![None, Some("ConditionalCheckFailed".to_string())]);
    }

    #[test]
    fn conflicts_alone_are_transient_condition_failures_are_not() {
        let r = |v: &[Option<&str>]| v.iter().map(|c| c.map(str::to_string)).collect::<Vec<_>>();
        let e = cancellation_error("tx", r(&[None, Some("TransactionConflict")]), "d");
        assert!(e.is_retryable(), "{e:?}");
        let e = cancellation_error("tx", r(&[Some("TransactionConflict"), Some("ConditionalCheckFailed")]), "d");
        assert!(matches!(&e, PortError::TransactionCancelled { reasons } if reasons.len() == 2), "{e:?}");
        assert!(e.is_condition_failure() && !e.is_retryable());
        let e = cancellation_error("tx", r(&[Some("ValidationError")]), "d");
        assert!(matches!(e, PortError::TransactionCancelled { .. }));
        let e = cancellation_error("tx", r(&[None, None]), "d");
        assert!(matches!(e, PortError::TransactionCancelled { .. }), "no reasons at all is not retryable");
    }

    #[test]
    fn check_with_no_condition_is_always_true() {
        let mut ex = Expr::default();
        assert_eq!(
            condition_expr(Condition::None, &mut ex, true).as_deref(),
            Some("attribute_exists(#pk) OR attribute_not_exists(#pk)")
        );
        let mut ex = Expr::default();
        assert_eq!(condition_expr(Condition::None, &mut ex, false), None);
        assert!(ex.names().is_none() && ex.values().is_none());
    }
}
