//! [`FileSecrets`]: the [`Secrets`] port on a local JSON file.
//!
//! Format — one entry per secret name; a value is either a UTF-8 string (PEM
//! keys, API keys) or `{"base64": "..."}` for binary material:
//! ```json
//! { "rentops/acme/alipay": "-----BEGIN PRIVATE KEY-----\n...",
//!   "rentops/acme/wechatpay-apiv3": {"base64": "AAEC..."} }
//! ```
//! The file is read on every `get`, so edits apply without a restart.
//!
//! Permissions: on unix the file must not be readable or writable by group
//! or others (mode 0600 or 0400); otherwise `open` and `get` refuse with an
//! error saying how to fix it. For throwaway CI containers where that cannot
//! be arranged, set `RENTOPS_ALLOW_INSECURE_SECRETS=1`.
//!
//! Values never appear in errors or logs: parse errors name the entry, never
//! its content.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rentops_ports::{PortError, PortResult, Secret, Secrets};

/// Environment variable that lifts the file-permission check (CI only).
pub const ENV_ALLOW_INSECURE: &str = "RENTOPS_ALLOW_INSECURE_SECRETS";

/// Secrets from a local JSON file.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    path: PathBuf,
}

impl FileSecrets {
    /// Open the secrets file at `path`: it must exist, be private (see the
    /// module docs) and parse.
    pub fn open(path: impl AsRef<Path>) -> PortResult<FileSecrets> {
        let s = FileSecrets { path: path.as_ref().to_path_buf() };
        s.load()?;
        Ok(s)
    }

    /// Create an empty (`{}`), private secrets file at `path` if there is none.
    pub fn create_if_missing(path: impl AsRef<Path>) -> PortResult<()> {
        let path = path.as_ref();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        match opts.open(path) {
            Ok(mut f) => std::io::Write::write_all(&mut f, b"{}\n")
                .map_err(|e| PortError::Other(format!("cannot write secrets file {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(PortError::Other(format!("cannot create secrets file {}: {e}", path.display()))),
        }
    }

    fn check_permissions(&self) -> PortResult<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(&self.path).map_err(|e| self.io_error(e))?;
            let mode = meta.permissions().mode() & 0o777;
            let insecure_ok = std::env::var(ENV_ALLOW_INSECURE).is_ok_and(|v| v == "1");
            if mode & 0o077 != 0 && !insecure_ok {
                return Err(PortError::Invalid(format!(
                    "secrets file {} has mode {mode:04o}: other users could read provider keys; \
                     run `chmod 600 {}` (or set {ENV_ALLOW_INSECURE}=1 in a throwaway CI container)",
                    self.path.display(),
                    self.path.display()
                )));
            }
        }
        Ok(())
    }

    fn io_error(&self, e: std::io::Error) -> PortError {
        if e.kind() == std::io::ErrorKind::NotFound {
            PortError::NotFound(format!("secrets file {} does not exist", self.path.display()))
        } else {
            PortError::Other(format!("cannot read secrets file {}: {e}", self.path.display()))
        }
    }

    /// Read and parse the whole file.
    fn load(&self) -> PortResult<serde_json::Map<String, serde_json::Value>> {
        self.check_permissions()?;
        let text = std::fs::read(&self.path).map_err(|e| self.io_error(e))?;
        // serde_json syntax errors give a line and column, never content.
        let doc: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| PortError::Invalid(format!("secrets file {} is not valid JSON: {e}", self.path.display())))?;
        let serde_json::Value::Object(map) = doc else {
            return Err(PortError::Invalid(format!(
                "secrets file {} must be a JSON object of name -> value",
                self.path.display()
            )));
        };
        for (name, value) in &map {
            self.decode(name, value)?;
        }
        Ok(map)
    }

    fn decode(&self, name: &str, value: &serde_json::Value) -> PortResult<Vec<u8>> {
        let bad = |why: &str| PortError::Invalid(format!("secrets file {}: entry {name:?} {why}", self.path.display()));
        match value {
            serde_json::Value::String(s) => Ok(s.as_bytes().to_vec()),
            serde_json::Value::Object(o) if o.len() == 1 => match o.get("base64") {
                Some(serde_json::Value::String(b)) => {
                    STANDARD.decode(b.trim()).map_err(|_| bad("has a \"base64\" value that is not valid base64"))
                }
                _ => Err(bad("must be a string or {\"base64\": \"...\"}")),
            },
            _ => Err(bad("must be a string or {\"base64\": \"...\"}")),
        }
    }
}

#[async_trait::async_trait]
impl Secrets for FileSecrets {
    async fn get(&self, name: &str) -> PortResult<Option<Secret>> {
        let this = self.clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || {
            let map = this.load()?;
            map.get(&name).map(|v| this.decode(&name, v).map(Secret)).transpose()
        })
        .await
        .map_err(|e| PortError::Other(format!("secrets worker task failed: {e}")))?
    }
}
