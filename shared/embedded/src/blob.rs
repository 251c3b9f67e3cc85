//! [`DirBlob`]: the [`Blob`] port on a local directory, plus the presigned
//! upload URLs the local runner serves.
//!
//! ## Key → file mapping
//! A key is a `/`-separated path of segments. Rejected ([`PortError::Invalid`]):
//! empty keys, keys over 1024 bytes, a leading `/`, empty segments (`a//b`,
//! trailing `/`), `.` or `..` segments, backslashes and control characters.
//! Each segment is percent-encoded (everything but `A-Z a-z 0-9 . _ -`, so
//! `C#acme#` becomes `C%23acme%23`) and gets a suffix:
//! ```text
//! key  raw/C#acme#/n 1.txt
//! file <root>/objects/raw.d/C%23acme%23.d/n%201.txt.blob   (content)
//!      <root>/objects/raw.d/C%23acme%23.d/n%201.txt.meta   (JSON: content type, sha256, size)
//! ```
//! Directories end in `.d` and objects in `.blob`, so `a` and `a/b` can both
//! exist (as in S3) and no key can name a path outside `objects/`.
//! Note: on case-insensitive file systems (macOS default) keys differing only
//! in case collide; rentops keys are lower-case ids and dates.
//!
//! ## Atomicity
//! Content and sidecar are written to `<root>/tmp/` and fsynced first.
//! `Overwrite` renames the content into place (readers see old or new bytes,
//! never a mix); `CreateOnly` hard-links it into place, which fails atomically
//! if the key exists, so of two racing creators exactly one wins. The sidecar
//! is renamed after the content; [`Blob::head`] ignores a sidecar whose size
//! does not match the content (then `content_type`/`sha256` are `None`).
//!
//! ## Presigned uploads
//! [`Blob::presign_put`] returns
//! `<base_url>/blob/<percent-encoded key>?expires=<unix seconds>&ct=<percent-encoded content type>&sig=<hex>`
//! where `sig` is HMAC-SHA256 (key: the 32-byte signing key) over
//! `"PUT\n<key>\n<expires>\n<content type>"`. The runner checks a request with
//! [`DirBlob::verify_presigned`] before storing the body.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::{digest, hmac};
use chrono::{DateTime, Utc};
use rentops_ports::{Blob, BlobMeta, PortError, PortResult, PutMode};
use serde::{Deserialize, Serialize};

/// S3's key length limit.
pub const MAX_KEY_BYTES: usize = 1024;
/// S3's longest presigned URL lifetime (7 days).
pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);
const DIR_SUFFIX: &str = ".d";
const BLOB_SUFFIX: &str = ".blob";
const META_SUFFIX: &str = ".meta";
/// Most file systems limit a name to 255 bytes.
const MAX_NAME_BYTES: usize = 255;

/// The local-directory blob store. Cheap to clone.
#[derive(Clone)]
pub struct DirBlob {
    inner: Arc<Inner>,
}

struct Inner {
    objects: PathBuf,
    tmp: PathBuf,
    key: hmac::Key,
    base_url: String,
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    content_type: String,
    sha256: String,
    size: u64,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> PortError {
    PortError::Other(format!("{what} {}: {e}", path.display()))
}

/// Percent-encode every byte outside `A-Z a-z 0-9 . _ -` (URL- and file-name-safe).
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

fn decode_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn check_segment(key: &str, seg: &str) -> PortResult<()> {
    if seg.is_empty() || seg == "." || seg == ".." {
        return Err(PortError::Invalid(format!("blob key {key:?}: empty, '.' or '..' path segments are not allowed")));
    }
    if encode_component(seg).len() + BLOB_SUFFIX.len() > MAX_NAME_BYTES {
        return Err(PortError::Invalid(format!("blob key {key:?}: a path segment is too long for a file name")));
    }
    Ok(())
}

/// Validate `key` and split it into segments.
fn segments(key: &str) -> PortResult<Vec<&str>> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(PortError::Invalid(format!("blob key must be 1 to {MAX_KEY_BYTES} bytes, got {}", key.len())));
    }
    if key.starts_with('/') || key.contains('\\') || key.chars().any(char::is_control) {
        return Err(PortError::Invalid(format!(
            "blob key {key:?}: must not start with '/' or contain backslashes or control characters"
        )));
    }
    let segs: Vec<&str> = key.split('/').collect();
    for seg in &segs {
        check_segment(key, seg)?;
    }
    Ok(segs)
}

impl DirBlob {
    /// Open (creating if needed) a blob store under `root`. `signing_key`
    /// signs presigned URLs; `base_url` is where the local runner listens
    /// (e.g. `http://127.0.0.1:8080`).
    pub fn open(root: impl AsRef<Path>, signing_key: [u8; 32], base_url: impl Into<String>) -> PortResult<DirBlob> {
        let root = root.as_ref();
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        for d in [&objects, &tmp] {
            fs::create_dir_all(d).map_err(|e| io_err("cannot create blob directory", d, e))?;
        }
        let base_url = base_url.into().trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(PortError::Invalid(format!("blob base URL {base_url:?} must start with http:// or https://")));
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, &signing_key);
        Ok(DirBlob { inner: Arc::new(Inner { objects, tmp, key, base_url }) })
    }

    /// Paths of the content and sidecar files of `key`.
    fn paths(&self, key: &str) -> PortResult<(PathBuf, PathBuf)> {
        let segs = segments(key)?;
        let mut dir = self.inner.objects.clone();
        let (last, parents) = segs.split_last().ok_or_else(|| PortError::Invalid("empty blob key".into()))?;
        for seg in parents {
            dir.push(format!("{}{DIR_SUFFIX}", encode_component(seg)));
        }
        let name = encode_component(last);
        Ok((dir.join(format!("{name}{BLOB_SUFFIX}")), dir.join(format!("{name}{META_SUFFIX}"))))
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
        segments(key)?;
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

    fn put_blocking(&self, key: &str, bytes: &[u8], content_type: &str, mode: PutMode) -> PortResult<()> {
        let (data_path, meta_path) = self.paths(key)?;
        let sha = hex::encode(digest::digest(&digest::SHA256, bytes));
        let sidecar =
            serde_json::to_vec(&Sidecar { content_type: content_type.into(), sha256: sha, size: bytes.len() as u64 })
                .map_err(|e| PortError::Other(format!("blob {key}: {e}")))?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmp_data = self.inner.tmp.join(format!("{id}{BLOB_SUFFIX}"));
        let tmp_meta = self.inner.tmp.join(format!("{id}{META_SUFFIX}"));
        let result = (|| {
            write_synced(&tmp_data, bytes)?;
            write_synced(&tmp_meta, &sidecar)?;
            let parent = data_path.parent().unwrap_or(&self.inner.objects);
            fs::create_dir_all(parent).map_err(|e| io_err("cannot create blob directory", parent, e))?;
            match mode {
                PutMode::Overwrite => {
                    fs::rename(&tmp_data, &data_path).map_err(|e| io_err("cannot store blob", &data_path, e))?;
                }
                PutMode::CreateOnly => match fs::hard_link(&tmp_data, &data_path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                        return Err(PortError::ConditionFailed(format!("blob {key} already exists (create-only)")));
                    }
                    Err(e) => return Err(io_err("cannot store blob", &data_path, e)),
                },
            }
            fs::rename(&tmp_meta, &meta_path).map_err(|e| io_err("cannot store blob metadata", &meta_path, e))?;
            sync_dir(parent)
        })();
        // Best effort: the temp files are gone after a rename, or garbage now.
        let _ = fs::remove_file(&tmp_data);
        let _ = fs::remove_file(&tmp_meta);
        result
    }

    fn head_blocking(&self, key: &str) -> PortResult<Option<BlobMeta>> {
        let (data_path, meta_path) = self.paths(key)?;
        let size = match fs::metadata(&data_path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot read blob", &data_path, e)),
        };
        let sidecar = fs::read(&meta_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok())
            .filter(|s| s.size == size);
        Ok(Some(BlobMeta {
            key: key.to_string(),
            size,
            content_type: sidecar.as_ref().map(|s| s.content_type.clone()),
            sha256: sidecar.map(|s| s.sha256),
        }))
    }

    fn list_blocking(&self, prefix: &str, limit: u32) -> PortResult<Vec<String>> {
        // Descend through the complete segments of the prefix, then walk.
        let (dir_part, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let mut dir = self.inner.objects.clone();
        let mut key_prefix = String::new();
        if !dir_part.is_empty() {
            for seg in dir_part.split('/') {
                if check_segment(prefix, seg).is_err() {
                    return Ok(Vec::new()); // no stored key can have such a segment
                }
                dir.push(format!("{}{DIR_SUFFIX}", encode_component(seg)));
                key_prefix.push_str(seg);
                key_prefix.push('/');
            }
        }
        let mut keys = Vec::new();
        walk(&dir, &key_prefix, &mut keys)?;
        let mut keys: Vec<String> = keys.into_iter().filter(|k| k.starts_with(prefix)).collect();
        keys.sort();
        keys.truncate(limit as usize);
        Ok(keys)
    }
}

fn walk(dir: &Path, key_prefix: &str, out: &mut Vec<String>) -> PortResult<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("cannot list blob directory", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_err("cannot list blob directory", dir, e))?;
        let kind = entry.file_type().map_err(|e| io_err("cannot stat", &entry.path(), e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if kind.is_dir() {
            if let Some(seg) = name.strip_suffix(DIR_SUFFIX).and_then(decode_component) {
                walk(&entry.path(), &format!("{key_prefix}{seg}/"), out)?;
            }
        } else if kind.is_file() {
            if let Some(seg) = name.strip_suffix(BLOB_SUFFIX).and_then(decode_component) {
                out.push(format!("{key_prefix}{seg}"));
            }
        }
        // Symlinks and anything else are ignored: never followed.
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> PortResult<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_err("cannot create temporary file", path, e))?;
    f.write_all(bytes).map_err(|e| io_err("cannot write temporary file", path, e))?;
    f.sync_all().map_err(|e| io_err("cannot sync temporary file", path, e))
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

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> PortResult<T> + Send + 'static) -> PortResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| PortError::Other(format!("blob worker task failed: {e}")))?
}

#[async_trait::async_trait]
impl Blob for DirBlob {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str, mode: PutMode) -> PortResult<()> {
        let (this, key, ct) = (self.clone(), key.to_string(), content_type.to_string());
        blocking(move || this.put_blocking(&key, &bytes, &ct, mode)).await
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let (data_path, _) = self.paths(key)?;
        blocking(move || match fs::read(&data_path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("cannot read blob", &data_path, e)),
        })
        .await
    }

    async fn head(&self, key: &str) -> PortResult<Option<BlobMeta>> {
        let (this, key) = (self.clone(), key.to_string());
        blocking(move || this.head_blocking(&key)).await
    }

    async fn list(&self, prefix: &str, limit: u32) -> PortResult<Vec<String>> {
        let (this, prefix) = (self.clone(), prefix.to_string());
        blocking(move || this.list_blocking(&prefix, limit)).await
    }

    async fn presign_put(&self, key: &str, content_type: &str, expires: Duration) -> PortResult<String> {
        segments(key)?;
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

impl std::fmt::Debug for DirBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirBlob")
            .field("objects", &self.inner.objects)
            .field("base_url", &self.inner.base_url)
            .field("signing_key", &"<redacted>")
            .finish()
    }
}
