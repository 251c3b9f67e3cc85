//! rentops-coldstart: a minimal fake AWS Lambda Runtime API on localhost and the statistics the cold-start
//! benchmark (`benches/coldstart.rs`) needs.
//!
//! [`FakeRuntimeApi`] speaks the part of the Runtime API (`2018-06-01`) a function's first invocation
//! uses, over plain HTTP/1.1 with keep-alive:
//! - `GET /2018-06-01/runtime/invocation/next` → the armed event (once) with the `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` headers;
//!   any later `next` is held unanswered (the function waits, as in a frozen Lambda environment);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` → 202; the arrival time and body are reported;
//! - `POST .../{id}/error` and `POST /2018-06-01/runtime/init/error` → 202; reported as errors.
//!
//! One server serves a whole benchmark: [`FakeRuntimeApi::arm`] sets the next run's event (with a fresh
//! request id) and returns the receiver on which that run's [`Outcome`] arrives.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the function sent back for an armed event.
#[derive(Debug)]
pub enum Outcome {
    /// `POST .../response`: when its body had fully arrived, and the body.
    Response { at: Instant, body: Vec<u8> },
    /// `POST .../error` or `.../init/error`: the path and body (the function reported a failure).
    Error { path: String, body: Vec<u8> },
}

#[derive(Default)]
struct Armed {
    request_id: String,
    event: Vec<u8>,
    served: bool,
    tx: Option<Sender<Outcome>>,
}

/// The fake Runtime API server (see the module doc).
pub struct FakeRuntimeApi {
    addr: String,
    state: Arc<Mutex<Armed>>,
    runs: u64,
}

impl FakeRuntimeApi {
    /// Listens on 127.0.0.1 (a free port); connections are served on background threads.
    pub fn start() -> std::io::Result<FakeRuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let state = Arc::new(Mutex::new(Armed::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        Ok(FakeRuntimeApi { addr, state, runs: 0 })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Arms the next invocation with `event` (JSON bytes); returns the request id and the receiver of what
    /// the function answers. Replaces any previous armed event.
    pub fn arm(&mut self, event: &[u8]) -> (String, Receiver<Outcome>) {
        self.runs += 1;
        let request_id = format!("coldstart-{:06}", self.runs);
        let (tx, rx) = channel();
        let mut s = lock(&self.state);
        *s = Armed { request_id: request_id.clone(), event: event.to_vec(), served: false, tx: Some(tx) };
        (request_id, rx)
    }
}

fn lock(m: &Mutex<Armed>) -> std::sync::MutexGuard<'_, Armed> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body). `None` on EOF or a malformed request.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut content_length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-length" {
                content_length = value.parse().ok()?;
            } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2]; // data + CRLF
            r.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break; // (no trailers from lambda_runtime)
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(content_length, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some(Request { method, path, body })
}

fn reply(w: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    w.write_all(&bytes)?;
    w.flush()
}

fn serve(conn: TcpStream, state: &Mutex<Armed>) {
    let _ = conn.set_nodelay(true);
    let Ok(mut w) = conn.try_clone() else { return };
    let mut r = BufReader::new(conn);
    while let Some(req) = read_request(&mut r) {
        let at = Instant::now();
        let ok = if req.method == "GET" && req.path == "/2018-06-01/runtime/invocation/next" {
            let next = {
                let mut s = lock(state);
                if s.served || s.tx.is_none() {
                    None
                } else {
                    s.served = true;
                    Some((s.request_id.clone(), s.event.clone()))
                }
            };
            match next {
                // Hold the request: read on, which blocks until the function's process goes away.
                None => continue,
                Some((id, event)) => {
                    let deadline_ms = SystemTime::now()
                        .checked_add(Duration::from_secs(30))
                        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                        .map(|d| d.as_millis())
                        .unwrap_or(0);
                    let headers = [
                        ("content-type", "application/json".to_string()),
                        ("lambda-runtime-aws-request-id", id),
                        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                        (
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:eu-west-1:000000000000:function:coldstart".to_string(),
                        ),
                        ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".to_string()),
                    ];
                    reply(&mut w, "200 OK", &headers, &event)
                }
            }
        } else if req.method == "POST" && req.path.starts_with("/2018-06-01/runtime/") {
            let outcome = if req.path.ends_with("/response") {
                Outcome::Response { at, body: req.body }
            } else {
                Outcome::Error { path: req.path.clone(), body: req.body }
            };
            if let Some(tx) = lock(state).tx.as_ref() {
                let _ = tx.send(outcome);
            }
            reply(&mut w, "202 Accepted", &[("content-type", "application/json".into())], b"{\"status\":\"OK\"}")
        } else {
            reply(&mut w, "404 Not Found", &[], b"")
        };
        if ok.is_err() {
            return;
        }
    }
}

/// The `p`-quantile (0.0..=1.0) of sorted values (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(addr: &str, raw: &str) -> String {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(raw.as_bytes()).expect("write");
        let mut r = BufReader::new(s);
        let mut out = String::new();
        let mut line = String::new();
        let mut len = 0;
        while r.read_line(&mut line).expect("read") > 0 {
            if line.to_ascii_lowercase().starts_with("content-length:") {
                len = line[15..].trim().parse().expect("length");
            }
            out.push_str(&line);
            if line == "\r\n" {
                break;
            }
            line.clear();
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).expect("body");
        out.push_str(&String::from_utf8_lossy(&body));
        out
    }

    #[test]
    fn serves_the_armed_event_once_and_reports_the_response() {
        let mut api = FakeRuntimeApi::start().expect("listens");
        let (id, rx) = api.arm(br#"{"hello":1}"#);
        let got = send(api.addr(), "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
        assert!(got.contains(&format!("lambda-runtime-aws-request-id: {id}")), "{got}");
        assert!(got.contains("lambda-runtime-deadline-ms: "), "{got}");
        assert!(got.ends_with(r#"{"hello":1}"#), "{got}");

        let post = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{{\"a\r\n4\r\n\":2}}\r\n0\r\n\r\n"
        );
        let got = send(api.addr(), &post);
        assert!(got.starts_with("HTTP/1.1 202"), "{got}");
        match rx.recv_timeout(Duration::from_secs(5)).expect("outcome") {
            Outcome::Response { body, .. } => assert_eq!(body, br#"{"a":2}"#),
            other => panic!("expected a response, got {other:?}"),
        }

        // A second `next` is held: nothing comes back within 200 ms.
        let mut s = TcpStream::connect(api.addr()).expect("connect");
        s.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n").expect("write");
        s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let mut buf = [0u8; 16];
        assert!(s.read(&mut buf).is_err(), "second next must not be answered");
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Duration::from_millis(6));
        assert_eq!(percentile(&v, 0.9), Duration::from_millis(9));
        assert_eq!(percentile(&v, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
