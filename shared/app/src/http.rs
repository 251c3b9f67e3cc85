//! Transport-neutral HTTP request/response used by every HTTP handler.
//!
//! The Lambda functions convert `lambda_http` requests into [`HttpRequest`];
//! the local runner converts axum requests. Handlers never see either.

use base64::Engine;

#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: String,
    /// Path without the query string, e.g. `/v1/clients/acme/notify/alipay`.
    pub path: String,
    /// Raw query string (without `?`), if any.
    pub query: Option<String>,
    /// Header names as received; lookups are case-insensitive.
    pub headers: Vec<(String, String)>,
    /// The exact bytes that arrived (already base64-decoded if the gateway encoded them).
    pub body: Vec<u8>,
    pub source_ip: Option<String>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse { status, content_type: content_type.to_string(), body: body.into() }
    }
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        HttpResponse::new(status, "application/json", value.to_string())
    }
    /// A problem response: `{"error": code, "message": text}`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        HttpResponse::json(status, &serde_json::json!({ "error": code, "message": message }))
    }
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Body as API Gateway / Function URL events carry it: text, or base64 when
/// `isBase64Encoded` is true. Verification must run on the decoded bytes.
pub fn decode_gateway_body(body: &str, is_base64: bool) -> Result<Vec<u8>, String> {
    if is_base64 {
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .map_err(|e| format!("body is marked isBase64Encoded but is not valid base64: {e}"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_bodies_are_decoded_to_exact_bytes() {
        // "a=1&b=%2B" as base64
        let b = decode_gateway_body("YT0xJmI9JTJC", true).unwrap();
        assert_eq!(b, b"a=1&b=%2B");
        assert_eq!(decode_gateway_body("a=1", false).unwrap(), b"a=1");
        assert!(decode_gateway_body("@@@", true).is_err());
    }

    #[test]
    fn header_lookup_ignores_case() {
        let r = HttpRequest { headers: vec![("Wechatpay-Serial".into(), "ABC".into())], ..Default::default() };
        assert_eq!(r.header("wechatpay-serial"), Some("ABC"));
        assert_eq!(r.header("x"), None);
    }
}
