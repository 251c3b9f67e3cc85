//! [`SqliteStore`]: the [`Store`] port on one SQLite table that mirrors the
//! DynamoDB single table.
//!
//! Schema: `items(pk, sk, gsi1pk, gsi1sk, body TEXT JSON, version)`, primary
//! key `(pk, sk)`, and a partial index on `(gsi1pk, gsi1sk, pk, sk)` over
//! items that carry a `gsi1pk` (the sparse index).
//!
//! DynamoDB parity (the shared conformance suite checks these on both):
//! * every partition key (table and gsi1) passes [`check_pk`]; empty sort keys,
//!   a `gsi1pk` without `gsi1sk` (or vice versa) and items over 400 KB are
//!   [`PortError::Invalid`];
//! * sort keys compare as UTF-8 bytes (SQLite's BINARY collation), as in DynamoDB;
//! * transactions: 1..=100 ops, no two on one key, all-or-nothing (one
//!   savepoint of the writer's batch, see `sqlite.rs`); a failed condition cancels the whole
//!   transaction with a per-op reason `ConditionalCheckFailed: ...`;
//! * query pages hold at most [`MAX_PAGE`] items; the cursor is opaque
//!   (base64url JSON of the last key) and bound to the query's index and
//!   partition, so it cannot be replayed against another partition. A page has
//!   a cursor only if more items follow.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rentops_ports::keys::check_pk;
use rentops_ports::{
    Condition, Index, Item, MAX_TRANSACTION_WRITES, Page, PortError, PortResult, Query, SkRange, Store, WriteOp,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::sqlite::{Db, map_err};

/// DynamoDB's item size limit; the embedded store enforces it too so that
/// nothing works locally that would fail on AWS.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Most items returned in one query page.
pub const MAX_PAGE: u32 = 1000;
/// DynamoDB limits: partition key 2048 bytes, sort key 1024 bytes.
const MAX_PK_BYTES: usize = 2048;
const MAX_SK_BYTES: usize = 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk      TEXT NOT NULL,
    sk      TEXT NOT NULL,
    gsi1pk  TEXT,
    gsi1sk  TEXT,
    body    TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
";

/// The embedded single-table store. Cheap to clone; safe to share between tasks.
#[derive(Clone)]
pub struct SqliteStore {
    db: Db,
}

impl SqliteStore {
    /// Open (creating if needed) the store in the SQLite file at `path`.
    pub fn open(path: impl AsRef<Path>) -> PortResult<SqliteStore> {
        Ok(SqliteStore { db: Db::open(path.as_ref(), SCHEMA)? })
    }

    /// The store on a database shared with the other embedded adapters.
    pub(crate) fn with_db(db: Db) -> PortResult<SqliteStore> {
        db.apply_schema_blocking(SCHEMA)?;
        Ok(SqliteStore { db })
    }

    /// A store in private memory, gone when dropped (unit tests of other crates).
    pub fn open_in_memory() -> PortResult<SqliteStore> {
        Ok(SqliteStore { db: Db::open_in_memory(SCHEMA)? })
    }
}

// ------------------------------------------------------------------ validation

fn check_sk(what: &str, sk: &str) -> PortResult<()> {
    if sk.is_empty() {
        return Err(PortError::Invalid(format!("{what} must not be empty")));
    }
    if sk.len() > MAX_SK_BYTES {
        return Err(PortError::Invalid(format!("{what} is {} bytes, the limit is {MAX_SK_BYTES}", sk.len())));
    }
    Ok(())
}

fn check_key(pk: &str, sk: &str) -> PortResult<()> {
    check_pk(pk)?;
    if pk.len() > MAX_PK_BYTES {
        return Err(PortError::Invalid(format!("partition key is {} bytes, the limit is {MAX_PK_BYTES}", pk.len())));
    }
    check_sk(&format!("sort key of {pk}"), sk)
}

/// Validate an item and serialise its body.
pub(crate) fn prepare(item: &Item) -> PortResult<String> {
    check_key(&item.pk, &item.sk)?;
    match (&item.gsi1pk, &item.gsi1sk) {
        (None, None) => {}
        (Some(gpk), Some(gsk)) => {
            check_pk(gpk)?;
            check_sk(&format!("gsi1sk of {}/{}", item.pk, item.sk), gsk)?;
        }
        _ => {
            return Err(PortError::Invalid(format!(
                "item {}/{}: gsi1pk and gsi1sk must be set together (or both left out)",
                item.pk, item.sk
            )));
        }
    }
    let body = serde_json::to_string(&item.body)
        .map_err(|e| PortError::Invalid(format!("item {}/{}: body is not serialisable: {e}", item.pk, item.sk)))?;
    let size = item.pk.len()
        + item.sk.len()
        + item.gsi1pk.as_ref().map_or(0, String::len)
        + item.gsi1sk.as_ref().map_or(0, String::len)
        + body.len();
    if size > MAX_ITEM_BYTES {
        return Err(PortError::Invalid(format!(
            "item {}/{} is {size} bytes, over the {MAX_ITEM_BYTES}-byte item limit",
            item.pk, item.sk
        )));
    }
    Ok(body)
}

// ------------------------------------------------------------------ conditions

fn current_version(tx: &Connection, pk: &str, sk: &str) -> PortResult<Option<u64>> {
    tx.prepare_cached("SELECT version FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut st| st.query_row(params![pk, sk], |r| r.get::<_, i64>(0)).optional())
        .map(|v| v.map(|v| v as u64))
        .map_err(|e| map_err(&format!("reading {pk}/{sk}"), e))
}

/// `Err(explanation)` when `condition` does not hold for an item at `current`.
fn evaluate(condition: Condition, current: Option<u64>) -> Result<(), String> {
    match (condition, current) {
        (Condition::None, _) => Ok(()),
        (Condition::NotExists, None) => Ok(()),
        (Condition::NotExists, Some(v)) => Err(format!("item already exists (version {v})")),
        (Condition::Exists, Some(_)) => Ok(()),
        (Condition::Exists, None) => Err("item does not exist".into()),
        (Condition::Version(want), Some(v)) if v == want => Ok(()),
        (Condition::Version(want), Some(v)) => Err(format!("expected version {want}, found version {v}")),
        (Condition::Version(want), None) => Err(format!("expected version {want}, but the item does not exist")),
    }
}

fn write_item(tx: &Connection, item: &Item, body: &str, version: u64) -> PortResult<()> {
    tx.prepare_cached(
        "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, body, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (pk, sk) DO UPDATE SET
             gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk, body = excluded.body, version = excluded.version",
    )
    .and_then(|mut st| st.execute(params![item.pk, item.sk, item.gsi1pk, item.gsi1sk, body, version as i64]))
    .map_err(|e| map_err(&format!("writing {}/{}", item.pk, item.sk), e))?;
    Ok(())
}

fn delete_item(tx: &Connection, pk: &str, sk: &str) -> PortResult<()> {
    tx.execute("DELETE FROM items WHERE pk = ?1 AND sk = ?2", params![pk, sk])
        .map_err(|e| map_err(&format!("deleting {pk}/{sk}"), e))?;
    Ok(())
}

fn row_to_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Item, String)> {
    let body: String = r.get(4)?;
    let item = Item {
        pk: r.get(0)?,
        sk: r.get(1)?,
        gsi1pk: r.get(2)?,
        gsi1sk: r.get(3)?,
        body: serde_json::Value::Null,
        version: r.get::<_, i64>(5)? as u64,
    };
    Ok((item, body))
}

fn finish_item((mut item, body): (Item, String)) -> PortResult<Item> {
    item.body = serde_json::from_str(&body)
        .map_err(|e| PortError::Other(format!("stored item {}/{} has a corrupt JSON body: {e}", item.pk, item.sk)))?;
    Ok(item)
}

// ------------------------------------------------------------------ cursor

/// The opaque pagination cursor: where the previous page ended.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// "t" (table) or "g" (gsi1).
    i: String,
    /// The partition queried; a cursor is only valid for the same partition.
    p: String,
    /// Table: `[sk]`. Gsi1: `[gsi1sk, pk, sk]`.
    k: Vec<String>,
}

fn index_tag(index: Index) -> &'static str {
    match index {
        Index::Table => "t",
        Index::Gsi1 => "g",
    }
}

fn encode_cursor(q: &Query, last: &Item) -> String {
    let k = match q.index {
        Index::Table => vec![last.sk.clone()],
        Index::Gsi1 => vec![last.gsi1sk.clone().unwrap_or_default(), last.pk.clone(), last.sk.clone()],
    };
    let c = Cursor { i: index_tag(q.index).into(), p: q.pk.clone(), k };
    // Serialising three strings cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default())
}

fn decode_cursor(q: &Query, s: &str) -> PortResult<Vec<String>> {
    let bad = || PortError::Invalid("pagination cursor is malformed or belongs to another query".to_string());
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let want = match q.index {
        Index::Table => 1,
        Index::Gsi1 => 3,
    };
    if c.i != index_tag(q.index) || c.p != q.pk || c.k.len() != want {
        return Err(bad());
    }
    Ok(c.k)
}

// ------------------------------------------------------------------ query

fn run_query(conn: &Connection, q: &Query) -> PortResult<Page> {
    check_pk(&q.pk)?;
    let limit = match q.limit {
        Some(0) => return Err(PortError::Invalid("query limit must be at least 1".into())),
        Some(n) => n.min(MAX_PAGE),
        None => MAX_PAGE,
    };
    let (pk_col, sk_col, order_cols) = match q.index {
        Index::Table => ("pk", "sk", vec!["sk"]),
        Index::Gsi1 => ("gsi1pk", "gsi1sk", vec!["gsi1sk", "pk", "sk"]),
    };
    let mut sql = format!("SELECT pk, sk, gsi1pk, gsi1sk, body, version FROM items WHERE {pk_col} = ?");
    let mut args: Vec<String> = vec![q.pk.clone()];
    match &q.sk {
        SkRange::All => {}
        SkRange::Prefix(p) => {
            // `>=` lets SQLite seek in the index; substr/length (characters
            // on both sides) make the match exact.
            sql.push_str(&format!(" AND {sk_col} >= ? AND substr({sk_col}, 1, length(?)) = ?"));
            args.extend([p.clone(), p.clone(), p.clone()]);
        }
        SkRange::Between(a, b) => {
            if a > b {
                return Err(PortError::Invalid(format!("query range Between({a:?}, {b:?}): start is after end")));
            }
            sql.push_str(&format!(" AND {sk_col} BETWEEN ? AND ?"));
            args.extend([a.clone(), b.clone()]);
        }
    }
    if let Some(start) = &q.start {
        let k = decode_cursor(q, start)?;
        let op = if q.descending { "<" } else { ">" };
        sql.push_str(&format!(" AND ({}) {op} ({})", order_cols.join(", "), vec!["?"; k.len()].join(", ")));
        args.extend(k);
    }
    let dir = if q.descending { "DESC" } else { "ASC" };
    let order: Vec<String> = order_cols.iter().map(|c| format!("{c} {dir}")).collect();
    sql.push_str(&format!(" ORDER BY {} LIMIT {}", order.join(", "), limit as u64 + 1));

    let ctx = format!("querying {}", q.pk);
    let mut stmt = conn.prepare_cached(&sql).map_err(|e| map_err(&ctx, e))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), row_to_item)
        .map_err(|e| map_err(&ctx, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| map_err(&ctx, e))?;
    let mut items = rows.into_iter().map(finish_item).collect::<PortResult<Vec<_>>>()?;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|last| encode_cursor(q, last))
    } else {
        None
    };
    Ok(Page { items, next })
}

// ------------------------------------------------------------------ transact

enum Prepared {
    Put { item: Item, body: String, condition: Condition },
    Delete { pk: String, sk: String, condition: Condition },
    Check { pk: String, sk: String, condition: Condition },
}

impl Prepared {
    fn key(&self) -> (&str, &str) {
        match self {
            Prepared::Put { item, .. } => (&item.pk, &item.sk),
            Prepared::Delete { pk, sk, .. } | Prepared::Check { pk, sk, .. } => (pk, sk),
        }
    }
    fn condition(&self) -> Condition {
        match self {
            Prepared::Put { condition, .. }
            | Prepared::Delete { condition, .. }
            | Prepared::Check { condition, .. } => *condition,
        }
    }
}

fn prepare_ops(ops: Vec<WriteOp>) -> PortResult<Vec<Prepared>> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_WRITES {
        return Err(PortError::Invalid(format!(
            "a transaction needs 1 to {MAX_TRANSACTION_WRITES} writes, got {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let p = match op {
            WriteOp::Put { item, condition } => {
                let body = prepare(&item)?;
                Prepared::Put { item, body, condition }
            }
            WriteOp::Delete { pk, sk, condition } => {
                check_key(&pk, &sk)?;
                Prepared::Delete { pk, sk, condition }
            }
            WriteOp::Check { pk, sk, condition } => {
                check_key(&pk, &sk)?;
                Prepared::Check { pk, sk, condition }
            }
        };
        let (pk, sk) = p.key();
        if !seen.insert((pk.to_string(), sk.to_string())) {
            return Err(PortError::Invalid(format!("a transaction may touch {pk}/{sk} only once")));
        }
        out.push(p);
    }
    Ok(out)
}

fn run_transact(tx: &Connection, ops: Vec<Prepared>) -> PortResult<()> {
    let mut versions = Vec::with_capacity(ops.len());
    let mut reasons = Vec::with_capacity(ops.len());
    for op in &ops {
        let (pk, sk) = op.key();
        let current = current_version(tx, pk, sk)?;
        reasons.push(
            evaluate(op.condition(), current).err().map(|why| format!("ConditionalCheckFailed: {pk}/{sk}: {why}")),
        );
        versions.push(current);
    }
    if reasons.iter().any(Option::is_some) {
        // Nothing was written (the job's savepoint is rolled back anyway).
        return Err(PortError::TransactionCancelled { reasons });
    }
    for (op, current) in ops.iter().zip(versions) {
        match op {
            Prepared::Put { item, body, .. } => write_item(tx, item, body, current.map_or(1, |v| v + 1))?,
            Prepared::Delete { pk, sk, .. } => delete_item(tx, pk, sk)?,
            Prepared::Check { .. } => {}
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ single items

/// Read one item (inside a writer job).
pub(crate) fn get_in(conn: &Connection, pk: &str, sk: &str) -> PortResult<Option<Item>> {
    let ctx = || format!("reading {pk}/{sk}");
    let mut stmt = conn
        .prepare_cached("SELECT pk, sk, gsi1pk, gsi1sk, body, version FROM items WHERE pk = ?1 AND sk = ?2")
        .map_err(|e| map_err(&ctx(), e))?;
    let row = stmt.query_row(params![pk, sk], row_to_item).optional().map_err(|e| map_err(&ctx(), e))?;
    row.map(finish_item).transpose()
}

/// Conditionally put one item whose `body` was checked by [`prepare`] (inside
/// a writer job). Returns the new version.
pub(crate) fn put_in(conn: &Connection, item: &Item, body: &str, condition: Condition) -> PortResult<u64> {
    let current = current_version(conn, &item.pk, &item.sk)?;
    if let Err(why) = evaluate(condition, current) {
        return Err(PortError::ConditionFailed(format!("{}/{}: {why}", item.pk, item.sk)));
    }
    let version = current.map_or(1, |v| v + 1);
    write_item(conn, item, body, version)?;
    Ok(version)
}

// ------------------------------------------------------------------ the port

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn get(&self, pk: &str, sk: &str) -> PortResult<Option<Item>> {
        check_key(pk, sk)?;
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.db.run(move |conn| get_in(conn, &pk, &sk)).await
    }

    async fn put(&self, item: Item, condition: Condition) -> PortResult<u64> {
        let body = prepare(&item)?;
        self.db.run(move |conn| put_in(conn, &item, &body, condition)).await
    }

    async fn delete(&self, pk: &str, sk: &str, condition: Condition) -> PortResult<()> {
        check_key(pk, sk)?;
        let (pk, sk) = (pk.to_string(), sk.to_string());
        self.db
            .run(move |tx| {
                let current = current_version(tx, &pk, &sk)?;
                if let Err(why) = evaluate(condition, current) {
                    return Err(PortError::ConditionFailed(format!("{pk}/{sk}: {why}")));
                }
                delete_item(tx, &pk, &sk)
            })
            .await
    }

    async fn query(&self, query: Query) -> PortResult<Page> {
        check_pk(&query.pk)?;
        self.db.run(move |conn| run_query(conn, &query)).await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> PortResult<()> {
        let ops = prepare_ops(ops)?;
        self.db.run(move |conn| run_transact(conn, ops)).await
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("db", &self.db.label()).finish()
    }
}
