//! Secrets conformance cases. Entry point: [`secrets_suite`].

use std::sync::Arc;

use crate::Secrets;

/// Run every secrets case. The caller pre-creates the secret `present` with
/// value `expected` (at least 4 bytes, so the redaction check means something).
pub async fn secrets_suite(secrets: Arc<dyn Secrets>, present: &str, expected: &[u8]) {
    assert!(expected.len() >= 4, "secrets_suite: use a secret value of at least 4 bytes");
    let case = "present secret";
    let got = match secrets.get(present).await {
        Ok(Some(s)) => s,
        other => panic!("{case}: expected Some for {present}, got {other:?}"),
    };
    assert_eq!(got.expose(), expected, "{case}: value differs");

    let case = "Debug redacts";
    let dbg = format!("{got:?}");
    let text = String::from_utf8_lossy(expected);
    assert!(!dbg.contains(&*text), "{case}: Debug output contains the secret: {dbg}");
    let hexed: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!dbg.contains(&hexed), "{case}: Debug output contains the secret in hex");
    assert!(!dbg.contains(&format!("{expected:?}")), "{case}: Debug output contains the secret bytes");

    let case = "absent secret";
    let absent = format!("{present}-absent-{}", expected.len());
    match secrets.get(&absent).await {
        Ok(None) => {}
        other => panic!("{case}: expected Ok(None) for {absent}, got {other:?}"),
    }
}
