//! Lambda adapter for the payment webhook: `lambda_http::Request` ⇄ the
//! transport-neutral [`rentops_app::http`] types. All behaviour lives in
//! `rentops_app::webhook`.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use rentops_app::http::{HttpRequest, HttpResponse};

/// Convert an API Gateway (HTTP API or REST) / Function URL request.
/// `lambda_http` has already base64-decoded `isBase64Encoded` bodies into
/// [`Body::Binary`]; the bytes here are exactly what the provider sent.
pub fn to_http_request(req: &Request) -> HttpRequest {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = match req.body() {
        Body::Empty => Vec::new(),
        Body::Text(t) => t.as_bytes().to_vec(),
        Body::Binary(b) => b.clone(),
        _ => Vec::new(),
    };
    let source_ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
        _ => None,
    };
    HttpRequest {
        method: req.method().as_str().to_string(),
        path: req.raw_http_path().to_string(),
        query: req.uri().query().filter(|q| !q.is_empty()).map(str::to_string),
        headers,
        body,
        source_ip,
    }
}

/// The claims API Gateway's JWT authorizer verified (HTTP API), if the route has one.
pub fn authorizer_claims(req: &Request) -> Option<serde_json::Value> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            let jwt = ctx.authorizer.as_ref()?.jwt.as_ref()?;
            Some(serde_json::Value::Object(
                jwt.claims.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
            ))
        }
        _ => None,
    }
}

pub fn to_lambda_response(resp: HttpResponse) -> Response<Body> {
    let body = if resp.body.is_empty() { Body::Empty } else { Body::Binary(resp.body) };
    Response::builder()
        .status(resp.status)
        .header("content-type", resp.content_type)
        .body(body)
        .expect("status and header are valid")
}
