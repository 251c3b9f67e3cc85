//! [`LocalBlob`]: the [`Blob`] port on the embedded database plus a local
//! directory, and the presigned upload URLs the local runner serves.
//!
//! ## Storage
//! Each object is a row of the `blobs` table (key, size, content type,
//! SHA-256). Content up to [`INLINE_MAX`] bytes (raw notifications, statements,
//! most documents) lives in the row itself, so a blob write is part of the
//! writer thread's group commit and can share one transaction with a store
//! write and a queue message (see [`crate::SqliteIntake`]). Larger content
//! (photos, video, scanned contracts) is written to `<root>/large/<aa>/<sha256>`
//! first (temporary file, fsync, rename, directory fsync) and the row points
//! at it; files are content-addressed, so the same bytes are stored once. An
//! overwritten large object leaves its old file behind (never read again;
//! reclaimable offline).
//!
//! ## Keys
//! A key is a `/`-separated path of segments, as in S3. Rejected
//! ([`PortError::Invalid`]): empty keys, keys over 1024 bytes, a leading `/`,
//! empty segments (`a//b`, trailing `/`), `.` or `..` segments, backslashes and
//! control characters (so the same keys are valid on S3 and here). `CreateOnly`
//! of an existing key is [`PortError::ConditionFailed`] (S3 `If-None-Match: *`).
//!
//! ## Presigned uploads
//! [`Blob::presign_put`] returns
//! `<base_url>/blob/<percent-encoded key>?expires=<unix seconds>&ct=<percent-encoded content type>&sig=<hex>`
//! where `sig` is HMAC-SHA256 (key: the 32-byte signing key) over
//! `"PUT\n<key>\n<expires>\n<content type>"`. The runner checks a request with
//! [`LocalBlob::verify_presigned`] before storing the body.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::{digest, hmac};
use chrono::{DateTime, Utc};
use rentops_ports::{Blob, BlobMeta, PortError, PortResult, PutMode};
use rusqlite::{Connection, OptionalExtension, params};

use crate::sqlite::{Db, map_err};

/// S3's key length limit.
pub const MAX_KEY_BYTES: usize = 1024;
/// S3's longest presigned URL lifetime (7 days).
pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);
/// Content up to this size is kept in the database row; larger content in a file.
pub const INLINE_MAX: usize = 256 * 1024;
/// Largest object accepted (S3 allows 5 GiB in one PUT; the local runner does not need more).
pub const MAX_OBJECT_BYTES: usize = 1024 * 1024 * 1024;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS blobs (
    key          TEXT NOT NULL PRIMARY KEY,
    content      BLOB,               -- inline content; NULL when in a file
    file         TEXT,               -- sha256 of the content file under large/
    size         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    stored_at    INTEGER NOT NULL    -- unix milliseconds
);
";

/// The embedded blob store. Cheap to clone.
#[derive(Clone)]
pub struct LocalBlob {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    large: PathBuf,
    tmp: PathBuf,
    key: hmac::Key,
    base_url: String,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> PortError {
    PortError::Other(format!("{what} {}: {e}", path.display()))
}

/// Percent-encode every byte outside `A-Z a-z 0-9 . _ -` (URL-safe).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Validate `key` (the rules in the module documentation).
pub(crate) fn check_key(key: &str) -> PortResult<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(PortError::Invalid(format!("blob key must be 1 to {MAX_KEY_BYTES} bytes, got {}", key.len())));
    }
    if key.starts_with('/') || key.contains('\\') || key.chars().any(char::is_control) {
        return Err(PortError::Invalid(format!(
            "blob key {key:?}: must not start with '/' or contain backslashes or control characters"
        )));
    }
    if key.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
        return Err(PortError::Invalid(format!("blob key {key:?}: empty, '.' or '..' path segments are not allowed")));
    }
    Ok(())
}

/// A checked blob write, ready for [`put_in`].
pub(crate) struct PreparedPut {
    key: String,
    /// `Some` when inline.
    content: Option<Vec<u8>>,
    /// `Some(sha256)` when the content is in `large/`.
    file: Option<String>,
    size: u64,
    content_type: String,
    sha256: String,
    mode: PutMode,
}

impl PreparedPut {
    /// An inline write (content up to [`INLINE_MAX`]; checked by the caller).
    pub(crate) fn inline(key: &str, bytes: Vec<u8>, content_type: &str, mode: PutMode) -> PortResult<PreparedPut> {
        check_key(key)?;
        if bytes.len() > INLINE_MAX {
            return Err(PortError::Invalid(format!(
                "blob {key}: {} bytes is over the {INLINE_MAX}-byte inline limit",
                bytes.len()
            )));
        }
        let sha256 = hex::encode(digest::digest(&digest::SHA256, &bytes));
        Ok(PreparedPut {
            key: key.to_string(),
            size: bytes.len() as u64,
            content: Some(bytes),
            file: None,
            content_type: content_type.to_string(),
            sha256,
            mode,
        })
    }
}

/// Write the blob row (inside a writer job).
pub(crate) fn put_in(conn: &Connection, p: &PreparedPut) -> PortResult<()> {
    let ctx = || format!("storing blob {}", p.key);
    let now = chrono::Utc::now().timestamp_millis();
    let sql = match p.mode {
        PutMode::CreateOnly => {
            "INSERT INTO blobs (key, content, file, size, content_type, sha256, stored_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (key) DO NOTHING"
        }
        PutMode::Overwrite => {
            "INSERT INTO blobs (key, content, file, size, content_type, sha256, stored_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (key) DO UPDATE SET
                 content = excluded.content, file = excluded.file, size = excluded.size,
                 content_type = excluded.content_type, sha256 = excluded.sha256, stored_at = excluded.stored_at"
        }
    };
    let n = conn
        .prepare_cached(sql)
        .and_then(|mut st| st.execute(params![p.key, p.content, p.file, p.size as i64, p.content_type, p.sha256, now]))
        .map_err(|e| map_err(&ctx(), e))?;
    if n == 0 {
        return Err(PortError::ConditionFailed(format!("blob {} already exists (create-only)", p.key)));
    }
    Ok(())
}

impl LocalBlob {
    /// Open (creating if needed) a blob store under `root` with its own
    /// database `<root>/blobs.sqlite`. `signing_key` signs presigned URLs;
    /// `base_url` is where the local runner listens (e.g. `http://127.0.0.1:8080`).
    pub fn open(root: impl AsRef<Path>, signing_key: [u8; 32], base_url: impl Into<String>) -> PortResult<LocalBlob> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|e| io_err("cannot create blob directory", root, e))?;
        let db = Db::open(&root.join("blobs.sqlite"), SCHEMA)?;
        Self::with_db(db, root, signing_key, base_url)
    }

    /// The blob store on a database shared with the other embedded adapters.
    pub(crate) fn with_db(
        db: Db,
        root: &Path,
        signing_key: [u8; 32],
        base_url: impl Into<String>,
    ) -> PortResult<LocalBlob> {
        db.apply_schema_blocking(SCHEMA)?;
        let large = root.join("large");
        let tmp = root.join("tmp");
        for d in [&large, &tmp] {
            fs::create_dir_all(d).map_err(|e| io_err("cannot create blob directory", d, e))?;
        }
        let base_url = base_url.into().trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(PortError::Invalid(format!("blob base URL {base_url:?} must start with http:// or https://")));
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, &signing_key);
        Ok(LocalBlob { inner: Arc::new(Inner { db, large, tmp, key, base_url }) })
    }

    fn large_path(&self, sha256: &str) -> PathBuf {
        self.inner.large.join(&sha256[..2]).join(sha256)
    }

    /// Write large content to its content-addressed file, durably.
    fn write_large(&self, sha256: &str, bytes: &[u8]) -> PortResult<()> {
        let path = self.large_path(sha256);
        if path.exists() {
            return Ok(()); // same name, same bytes
        }
        let parent = path.parent().unwrap_or(&self.inner.large);
        fs::create_dir_all(parent).map_err(|e| io_err("cannot create blob directory", parent, e))?;
        let tmp = self.inner.tmp.join(uuid::Uuid::new_v4().simple().to_string());
        let result = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| io_err("cannot create temporary file", &tmp, e))?;
            f.write_all(bytes).map_err(|e| io_err("cannot write temporary file", &tmp, e))?;
            f.sync_all().map_err(|e| io_err("cannot sync temporary file", &tmp, e))?;
            fs::rename(&tmp, &path).map_err(|e| io_err("cannot store blob", &path, e))?;
            sync_dir(parent)
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    fn message(key: &str, expires: i64, content_type: &str) -> String {
        format!("PUT\n{key}\n{expires}\n{content_type}")
    }

    /// Check a presigned upload request (the `expires`, `ct` and `sig` query
    /// parameters of a URL from [`Blob::presign_put`], and the decoded key
    /// from its path) at time `now`. [`PortError::Invalid`] says whether the
    /// link expired or the signature does not match.
    pub fn verify_presigned(
        &self,
        key: &str,
        expires: i64,
        content_type: &str,
        sig: &str,
        now: DateTime<Utc>,
    ) -> PortResult<()> {
        check_key(key)?;
        let tag = hex::decode(sig).map_err(|_| PortError::Invalid("upload link signature is not hex".into()))?;
        hmac::verify(&self.inner.key, Self::message(key, expires, content_type).as_bytes(), &tag).map_err(|_| {
            PortError::Invalid(format!("upload link for {key:?} has a bad signature (tampered or for another key)"))
        })?;
        if now.timestamp() > expires {
            let at = DateTime::<Utc>::from_timestamp(expires, 0).map_or(expires.to_string(), |t| t.to_rfc3339());
            return Err(PortError::Invalid(format!("upload link for {key:?} expired at {at}")));
        }
        Ok(())
    }
}

/// Make a rename durable (unix: fsync the directory).
fn sync_dir(dir: &Path) -> PortResult<()> {
    #[cfg(unix)]
    {
        let d = fs::File::open(dir).map_err(|e| io_err("cannot open directory", dir, e))?;
        d.sync_all().map_err(|e| io_err("cannot sync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// (inline content, content file, size, content type, sha256) of a stored blob.
type Row = (Option<Vec<u8>>, Option<String>, i64, String, String);

fn read_row(conn: &Connection, key: &str, with_content: bool) -> PortResult<Option<Row>> {
    let sql = if with_content {
        "SELECT content, file, size, content_type, sha256 FROM blobs WHERE key = ?1"
    } else {
        "SELECT NULL, file, size, content_type, sha256 FROM blobs WHERE key = ?1"
    };
    conn.prepare_cached(sql)
        .and_then(|mut st| {
            st.query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional()
        })
        .map_err(|e| map_err(&format!("reading blob {key}"), e))
}

#[async_trait::async_trait]
impl Blob for LocalBlob {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, mode: PutMode) -> PortResult<()> {
        check_key(key)?;
        if bytes.len() > MAX_OBJECT_BYTES {
            return Err(PortError::Invalid(format!("blob {key}: {} bytes is over the 1 GiB limit", bytes.len())));
        }
        let prepared = if bytes.len() <= INLINE_MAX {
            PreparedPut::inline(key, bytes, content_type, mode)?
        } else {
            // Large content goes to its file first (durably, off the writer
            // thread); the row that makes it visible is committed after.
            let this = self.clone();
            let sha256 = hex::encode(digest::digest(&digest::SHA256, &bytes));
            let (sha, size) = (sha256.clone(), bytes.len() as u64);
            tokio::task::spawn_blocking(move || this.write_large(&sha, &bytes))
                .await
                .map_err(|e| PortError::Other(format!("blob {key}: writer task failed: {e}")))??;
            PreparedPut {
                key: key.to_string(),
                content: None,
                file: Some(sha256.clone()),
                size,
                content_type: content_type.to_string(),
                sha256,
                mode,
            }
        };
        self.inner.db.run(move |conn| put_in(conn, &prepared)).await
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        check_key(key)?;
        let k = key.to_string();
        let row = self.inner.db.run(move |conn| read_row(conn, &k, true)).await?;
        match row {
            None => Ok(None),
            Some((Some(content), _, _, _, _)) => Ok(Some(content)),
            Some((None, Some(file), size, _, _)) => {
                let path = self.large_path(&file);
                let key = key.to_string();
                tokio::task::spawn_blocking(move || match fs::read(&path) {
                    Ok(b) if b.len() as i64 == size => Ok(Some(b)),
                    Ok(b) => Err(PortError::Other(format!(
                        "blob {key}: content file {} has {} bytes, expected {size}",
                        path.display(),
                        b.len()
                    ))),
                    Err(e) if e.kind() == ErrorKind::NotFound => Err(PortError::Other(format!(
                        "blob {key}: content file {} is missing (restore it from backup)",
                        path.display()
                    ))),
                    Err(e) => Err(io_err("cannot read blob", &path, e)),
                })
                .await
                .map_err(|e| PortError::Other(format!("blob reader task failed: {e}")))?
            }
            Some((None, None, _, _, _)) => {
                Err(PortError::Other(format!("blob {key}: row has neither content nor file")))
            }
        }
    }

    async fn head(&self, key: &str) -> PortResult<Option<BlobMeta>> {
        check_key(key)?;
        let k = key.to_string();
        let row = self.inner.db.run(move |conn| read_row(conn, &k, false)).await?;
        Ok(row.map(|(_, _, size, content_type, sha256)| BlobMeta {
            key: key.to_string(),
            size: size as u64,
            content_type: Some(content_type),
            sha256: Some(sha256),
        }))
    }

    async fn list(&self, prefix: &str, limit: u32) -> PortResult<Vec<String>> {
        let prefix = prefix.to_string();
        self.inner
            .db
            .run(move |conn| {
                let ctx = || format!("listing blobs under {prefix:?}");
                // `>=` seeks in the primary key; substr/length make the prefix match exact.
                let mut st = conn
                    .prepare_cached(
                        "SELECT key FROM blobs WHERE key >= ?1 AND substr(key, 1, length(?1)) = ?1
                         ORDER BY key LIMIT ?2",
                    )
                    .map_err(|e| map_err(&ctx(), e))?;
                st.query_map(params![prefix, i64::from(limit)], |r| r.get::<_, String>(0))
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| map_err(&ctx(), e))
            })
            .await
    }

    async fn presign_put(&self, key: &str, content_type: &str, expires: Duration) -> PortResult<String> {
        check_key(key)?;
        if expires.is_zero() || expires > MAX_PRESIGN {
            return Err(PortError::Invalid(format!("presigned URL lifetime must be 1 s to 7 days, got {expires:?}")));
        }
        let expires_at = Utc::now().timestamp() + expires.as_secs().max(1) as i64;
        let tag = hmac::sign(&self.inner.key, Self::message(key, expires_at, content_type).as_bytes());
        Ok(format!(
            "{}/blob/{}?expires={expires_at}&ct={}&sig={}",
            self.inner.base_url,
            encode_component(key),
            encode_component(content_type),
            hex::encode(tag.as_ref())
        ))
    }
}

impl std::fmt::Debug for LocalBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBlob")
            .field("db", &self.inner.db.label())
            .field("large", &self.inner.large)
            .field("base_url", &self.inner.base_url)
            .field("signing_key", &"<redacted>")
            .finish()
    }
}
