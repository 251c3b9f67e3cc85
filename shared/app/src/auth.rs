//! Who is calling: every HTTP API except the provider webhooks is
//! authenticated, knows its client, user and role, and checks the role.
//!
//! - On AWS the HTTP API's JWT authorizer (Cognito user pool of the client's
//!   identity provider) verifies the token; the Lambda adapter passes the
//!   verified claims in [`crate::http::HttpRequest::claims`].
//! - On the embedded default, [`LocalIssuer`] issues and verifies HS256
//!   tokens with a per-installation secret (`rentops token issue`).
//!
//! Either way the claims become a [`Principal`] through one function,
//! [`principal_from_claims`]: client from `custom:client_id` (or
//! `client_id`), role from `custom:role` (or `role`), user from `sub`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Utc};
use rentops_ports::ClientId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Tenant,
    FrontDesk,
    Finance,
    Collector,
    Legal,
    Technician,
    Supervisor,
    Operator,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        serde_json::from_value(Value::String(s.trim().to_ascii_lowercase().replace(['-', ' '], "_"))).ok()
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Tenant => "tenant",
            Role::FrontDesk => "front_desk",
            Role::Finance => "finance",
            Role::Collector => "collector",
            Role::Legal => "legal",
            Role::Technician => "technician",
            Role::Supervisor => "supervisor",
            Role::Operator => "operator",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub client: ClientId,
    pub user: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("token issuer {0:?} is not trusted")]
    WrongIssuer(String),
    #[error("token is for client {token}, not {path}")]
    WrongClient { token: String, path: String },
    #[error("role {role} may not {action}")]
    Forbidden { role: &'static str, action: &'static str },
}

impl AuthError {
    /// 401 when we do not know who is calling, 403 when we do and the answer is no.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::WrongClient { .. } | AuthError::Forbidden { .. } => 403,
            _ => 401,
        }
    }
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing_token",
            AuthError::Malformed(_) => "malformed_token",
            AuthError::BadSignature => "bad_token_signature",
            AuthError::Expired(_) => "token_expired",
            AuthError::WrongIssuer(_) => "untrusted_issuer",
            AuthError::WrongClient { .. } => "wrong_client",
            AuthError::Forbidden { .. } => "forbidden",
        }
    }
}

/// Claims (already verified) → principal.
pub fn principal_from_claims(claims: &Value) -> Result<Principal, AuthError> {
    let get = |names: &[&str]| names.iter().find_map(|n| claims.get(*n).and_then(Value::as_str));
    let client =
        get(&["custom:client_id", "client_id"]).ok_or_else(|| AuthError::Malformed("no client_id claim".into()))?;
    let client = ClientId::new(client).map_err(|e| AuthError::Malformed(e.to_string()))?;
    let role = get(&["custom:role", "role"]).ok_or_else(|| AuthError::Malformed("no role claim".into()))?;
    let role = Role::parse(role).ok_or_else(|| AuthError::Malformed(format!("unknown role {role:?}")))?;
    let user = get(&["sub", "cognito:username"]).ok_or_else(|| AuthError::Malformed("no sub claim".into()))?;
    Ok(Principal { client, user: user.to_string(), role })
}

/// The caller must belong to `client` and hold one of `allowed`.
pub fn authorize(p: &Principal, client: &ClientId, allowed: &[Role], action: &'static str) -> Result<(), AuthError> {
    if &p.client != client {
        return Err(AuthError::WrongClient { token: p.client.to_string(), path: client.to_string() });
    }
    if !allowed.contains(&p.role) {
        return Err(AuthError::Forbidden { role: p.role.as_str(), action });
    }
    Ok(())
}

/// HS256 tokens for the embedded default (one machine, one secret).
pub struct LocalIssuer {
    key: aws_lc_rs::hmac::Key,
    issuer: String,
}

pub const LOCAL_ISSUER: &str = "rentops-local";

impl LocalIssuer {
    pub fn new(secret: &[u8]) -> Self {
        LocalIssuer {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
            issuer: LOCAL_ISSUER.into(),
        }
    }

    pub fn issue(&self, p: &Principal, now: DateTime<Utc>, ttl: chrono::Duration) -> String {
        let header = B64URL.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
        let claims = json!({
            "iss": self.issuer, "sub": p.user, "custom:client_id": p.client.as_str(), "custom:role": p.role.as_str(),
            "iat": now.timestamp(), "exp": (now + ttl).timestamp(),
        });
        let payload = B64URL.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let sig = aws_lc_rs::hmac::sign(&self.key, signing_input.as_bytes());
        format!("{signing_input}.{}", B64URL.encode(sig.as_ref()))
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, AuthError> {
        let mut parts = token.trim().split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(AuthError::Malformed("expected header.payload.signature".into()));
        };
        let header: Value = decode_part(h)?;
        if header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(AuthError::Malformed("only HS256 tokens are issued locally".into()));
        }
        let sig = B64URL.decode(s).map_err(|e| AuthError::Malformed(e.to_string()))?;
        aws_lc_rs::hmac::verify(&self.key, format!("{h}.{p}").as_bytes(), &sig).map_err(|_| AuthError::BadSignature)?;
        let claims: Value = decode_part(p)?;
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        if iss != self.issuer {
            return Err(AuthError::WrongIssuer(iss.to_string()));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(|| AuthError::Malformed("no exp".into()))?;
        let exp = DateTime::from_timestamp(exp, 0).ok_or_else(|| AuthError::Malformed("bad exp".into()))?;
        if now >= exp {
            return Err(AuthError::Expired(exp));
        }
        principal_from_claims(&claims)
    }
}

fn decode_part(part: &str) -> Result<Value, AuthError> {
    let bytes = B64URL.decode(part).map_err(|e| AuthError::Malformed(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| AuthError::Malformed(e.to_string()))
}

/// How the HTTP API learns who is calling.
pub enum Authenticator {
    /// API Gateway's JWT authorizer verified the token; trust only the claims it passed.
    Gateway,
    /// The embedded default verifies `Authorization: Bearer` itself.
    Local(LocalIssuer),
}

impl Authenticator {
    pub fn authenticate(
        &self,
        claims: Option<&Value>,
        authorization: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        match self {
            Authenticator::Gateway => principal_from_claims(claims.ok_or(AuthError::Missing)?),
            Authenticator::Local(issuer) => {
                let h = authorization.ok_or(AuthError::Missing)?;
                let token = h
                    .strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
                    .ok_or_else(|| AuthError::Malformed("expected `Authorization: Bearer <token>`".into()))?;
                issuer.verify(token, now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 8, 0, 0).unwrap()
    }
    fn finance() -> Principal {
        Principal { client: ClientId::new("acme").unwrap(), user: "u-1".into(), role: Role::Finance }
    }

    #[test]
    fn local_tokens_round_trip_and_expire() {
        let iss = LocalIssuer::new(b"0123456789abcdef0123456789abcdef");
        let t = iss.issue(&finance(), now(), chrono::Duration::hours(1));
        assert_eq!(iss.verify(&t, now()).unwrap(), finance());
        assert!(matches!(iss.verify(&t, now() + chrono::Duration::hours(1)), Err(AuthError::Expired(_))));
        let other = LocalIssuer::new(b"another secret of thirty-two by.");
        assert_eq!(other.verify(&t, now()), Err(AuthError::BadSignature));
        // A tampered payload (role upgraded to operator) fails the signature.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = B64URL.encode(
            json!({"iss": LOCAL_ISSUER, "sub": "u-1", "custom:client_id": "acme", "custom:role": "operator", "exp": 9999999999i64})
                .to_string(),
        );
        parts[1] = &forged;
        assert_eq!(iss.verify(&parts.join("."), now()), Err(AuthError::BadSignature));
        assert!(matches!(iss.verify("abc", now()), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn roles_and_clients_are_checked() {
        let p = finance();
        let acme = ClientId::new("acme").unwrap();
        assert!(authorize(&p, &acme, &[Role::Finance, Role::Operator], "read the suspense list").is_ok());
        let e = authorize(&p, &acme, &[Role::Legal], "publish templates").unwrap_err();
        assert_eq!((e.status(), e.to_string()), (403, "role finance may not publish templates".into()));
        let e = authorize(&p, &ClientId::new("other").unwrap(), &[Role::Finance], "x").unwrap_err();
        assert_eq!(e.code(), "wrong_client");
    }

    #[test]
    fn cognito_claims_become_principals() {
        let claims = json!({"sub": "abc-123", "custom:client_id": "acme", "custom:role": "Front-Desk"});
        let p = principal_from_claims(&claims).unwrap();
        assert_eq!((p.client.as_str(), p.user.as_str(), p.role), ("acme", "abc-123", Role::FrontDesk));
        assert!(principal_from_claims(&json!({"sub": "x", "custom:client_id": "acme"})).is_err());
        assert!(
            principal_from_claims(&json!({"sub": "x", "custom:client_id": "acme", "custom:role": "king"})).is_err()
        );
        assert_eq!(Authenticator::Gateway.authenticate(None, Some("Bearer x"), now()), Err(AuthError::Missing));
    }
}
