//! API Gateway sends form bodies base64-encoded when binary media types are
//! configured; the handler must see the exact original bytes.

use lambda_http::request::from_str;
use payment_webhook::to_http_request;

#[test]
fn http_api_base64_body_reaches_handler_as_exact_bytes() {
    // body: "sign=a%2Bb&x=1" (a literal %2B must survive untouched)
    let event = r#"{
      "version": "2.0", "routeKey": "POST /v1/clients/{client}/notify/{provider}",
      "rawPath": "/v1/clients/acme/notify/alipay", "rawQueryString": "",
      "headers": {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
      "requestContext": {"accountId": "1", "apiId": "x", "domainName": "x", "domainPrefix": "x",
        "http": {"method": "POST", "path": "/v1/clients/acme/notify/alipay", "protocol": "HTTP/1.1",
                 "sourceIp": "203.0.113.9", "userAgent": "Mozilla"},
        "requestId": "r", "routeKey": "POST /v1/clients/{client}/notify/{provider}", "stage": "$default",
        "time": "03/Dec/2026:00:00:00 +0000", "timeEpoch": 0},
      "body": "c2lnbj1hJTJCYiZ4PTE=", "isBase64Encoded": true
    }"#;
    let req = from_str(event).expect("valid HTTP API event");
    let http = to_http_request(&req);
    assert_eq!(http.method, "POST");
    assert_eq!(http.path, "/v1/clients/acme/notify/alipay");
    assert_eq!(http.body, b"sign=a%2Bb&x=1");
    assert_eq!(http.source_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(http.query, None);
}

#[test]
fn rest_api_query_string_is_kept_for_the_codec_to_judge() {
    let event = r#"{
      "resource": "/v1/clients/{client}/notify/{provider}", "path": "/v1/clients/acme/notify/unionpay",
      "httpMethod": "POST", "headers": {"Content-Type": "application/x-www-form-urlencoded"},
      "multiValueHeaders": {"Content-Type": ["application/x-www-form-urlencoded"]},
      "queryStringParameters": {"extra": "1"}, "multiValueQueryStringParameters": {"extra": ["1"]},
      "pathParameters": {"client": "acme", "provider": "unionpay"},
      "requestContext": {"accountId": "1", "resourceId": "r", "stage": "prod", "requestId": "q",
        "identity": {"sourceIp": "198.51.100.7"}, "resourcePath": "/v1/clients/{client}/notify/{provider}",
        "httpMethod": "POST", "apiId": "a", "path": "/prod/v1/clients/acme/notify/unionpay"},
      "body": "a=1", "isBase64Encoded": false
    }"#;
    let req = from_str(event).expect("valid REST event");
    let http = to_http_request(&req);
    assert_eq!(http.body, b"a=1");
    assert_eq!(http.query.as_deref(), Some("extra=1"));
    assert_eq!(http.source_ip.as_deref(), Some("198.51.100.7"));
}

#[test]
fn jwt_authorizer_claims_are_passed_through() {
    let event = r#"{
      "version": "2.0", "routeKey": "GET /v1/clients/{client}/summary",
      "rawPath": "/v1/clients/acme/summary", "rawQueryString": "",
      "headers": {"authorization": "Bearer x"},
      "requestContext": {"accountId": "1", "apiId": "x", "domainName": "x", "domainPrefix": "x",
        "authorizer": {"jwt": {"claims": {"sub": "u-7", "custom:client_id": "acme", "custom:role": "finance"}, "scopes": null}},
        "http": {"method": "GET", "path": "/v1/clients/acme/summary", "protocol": "HTTP/1.1",
                 "sourceIp": "203.0.113.9", "userAgent": "curl"},
        "requestId": "r", "routeKey": "GET /v1/clients/{client}/summary", "stage": "$default",
        "time": "03/Dec/2026:00:00:00 +0000", "timeEpoch": 0},
      "isBase64Encoded": false
    }"#;
    let req = from_str(event).expect("valid HTTP API event");
    let claims = payment_webhook::authorizer_claims(&req).expect("claims");
    let p = rentops_app::auth::principal_from_claims(&claims).unwrap();
    assert_eq!((p.client.as_str(), p.user.as_str(), p.role), ("acme", "u-7", rentops_app::auth::Role::Finance));
}
