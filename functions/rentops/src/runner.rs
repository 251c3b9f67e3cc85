//! The local runner: the whole system in one process on the embedded
//! backend. An HTTP server mounting the same [`Api`] the Lambda functions
//! use, and a consumer loop per queue doing what the SQS-triggered Lambdas do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rentops_app::api::Api;
use rentops_app::ctx::{Ports, queues};
use rentops_app::http::HttpRequest;
use rentops_app::poster::{Poster, record_failure};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A running HTTP server; dropped or [`Server::stop`]ped to end it.
pub struct Server {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(api: Api, bind: &str) -> anyhow::Result<Server> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new().fallback(handle).with_state(api);
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "http server failed");
            }
        });
        Ok(Server { addr, stop, task })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn handle(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req = HttpRequest {
        method: method.as_str().to_string(),
        path: uri.path().to_string(),
        query: uri.query().filter(|q| !q.is_empty()).map(str::to_string),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
        source_ip: Some(peer.ip().to_string()),
    };
    let resp = api.handle(req).await;
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(axum::http::header::CONTENT_TYPE, resp.content_type)], resp.body).into_response()
}

/// Counters of a consumer loop.
#[derive(Default, Debug)]
pub struct ConsumerStats {
    pub processed: AtomicU64,
    pub failed: AtomicU64,
    /// When a message last failed (it comes back after the visibility timeout).
    pub last_failure: std::sync::Mutex<Option<tokio::time::Instant>>,
}

/// Consume `payment-events` like the SQS-triggered ledger-poster Lambda:
/// batches of 10, delete on success, leave failures to reappear after the
/// visibility timeout (and to reach the DLQ after the queue's max receives).
pub struct Consumer {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    pub stats: Arc<ConsumerStats>,
}

impl Consumer {
    pub fn start(ports: Ports, visibility: Duration) -> Consumer {
        let (stop, stopped) = watch::channel(false);
        let stats = Arc::new(ConsumerStats::default());
        let s = stats.clone();
        let task = tokio::spawn(async move {
            let poster = Poster::new(ports.clone());
            loop {
                if *stopped.borrow() {
                    return;
                }
                let batch = match ports.queue.receive(queues::PAYMENT_EVENTS, 10, visibility).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "receive failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                if batch.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                for m in batch {
                    let span = tracing::info_span!("message", message_id = %m.id, receive_count = m.receive_count);
                    let result = tracing::Instrument::instrument(poster.process(&m.body), span).await;
                    if let Err(e) = &result {
                        record_failure(&ports, queues::PAYMENT_EVENTS, &m.id, m.receive_count, e).await;
                    }
                    if result.is_ok() {
                        if let Err(e) = ports.queue.delete(queues::PAYMENT_EVENTS, &m.receipt).await {
                            tracing::warn!(error = %e, "delete failed; the message will be delivered again (harmless)");
                        }
                        s.processed.fetch_add(1, Ordering::Relaxed);
                    } else {
                        s.failed.fetch_add(1, Ordering::Relaxed);
                        *s.last_failure.lock().expect("not poisoned") = Some(tokio::time::Instant::now());
                    }
                }
            }
        });
        Consumer { stop, task, stats }
    }

    pub async fn stop(self) -> Arc<ConsumerStats> {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.stats
    }
}

/// Wait until every message is done: the queue shows none, the consumer has
/// been idle for a while, and any failed message has had time (its
/// visibility timeout) to come back and be processed again.
pub async fn drain(
    ports: &Ports,
    stats: &ConsumerStats,
    visibility: Duration,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_seen = (u64::MAX, u64::MAX);
    let mut quiet_since = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline {
        let now_seen = (stats.processed.load(Ordering::Relaxed), stats.failed.load(Ordering::Relaxed));
        let depth = ports.queue.depth(queues::PAYMENT_EVENTS).await?;
        if depth > 0 || now_seen != last_seen {
            last_seen = now_seen;
            quiet_since = tokio::time::Instant::now();
        }
        let failure_pending = stats
            .last_failure
            .lock()
            .expect("not poisoned")
            .is_some_and(|t| t.elapsed() < visibility + Duration::from_secs(1));
        if !failure_pending && quiet_since.elapsed() >= Duration::from_millis(300) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("payment-events not drained after {timeout:?}: see `rentops dlq list`")
}

/// The embedded default's equivalent of the S3 "Object Created" events the contract-notary function gets on
/// AWS: notarize every stored document (signed contracts under `contracts/<client>/`, the notifier's demand
/// letters under `letters/<client>/`) that is not in its client's log yet. Idempotent (one entry per document
/// key, whoever runs it, however often); run after each notifier drain by `rentops serve` and
/// `rentops dunning deliver`. Returns the reports; failures are logged and left for the next run.
pub async fn notarize_stored_documents(
    ports: &Ports,
    notary: &rentops_app::notary::Notary,
) -> anyhow::Result<Vec<rentops_app::contracts::notarize::PendingReport>> {
    let reports = rentops_app::contracts::notarize::notarize_pending_all(ports, notary).await?;
    for r in &reports {
        for (key, error) in &r.failed {
            tracing::warn!(client = %r.client, %key, %error, "document not notarized; retried on the next run");
        }
        if !r.appended.is_empty() {
            tracing::info!(client = %r.client, appended = r.appended.len(), "documents notarized");
        }
    }
    Ok(reports)
}
