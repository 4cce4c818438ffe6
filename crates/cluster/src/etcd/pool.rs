//! [`Etcd`]: one client per endpoint, calls retried across endpoints with health.
//!
//! The `etcd-client` crate balances requests over all the endpoints it is given, dead
//! ones included (measured here: with one of three members dead, 14 of 50 calls failed
//! with `Unavailable`). So each endpoint gets a client of its own; a call goes to the
//! endpoint that last worked, and on a transport error (or a timeout) that endpoint is
//! marked down for a while and the call moves on to the next, until one answers or the
//! retry budget is spent.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions};

use crate::error::ClusterError;

/// Timeouts of the etcd connection.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use snapstate_cluster::etcd::EtcdOptions;
///
/// let opts = EtcdOptions::default().connect_timeout(Duration::from_secs(1));
/// assert_eq!(opts.connect_timeout_value(), Duration::from_secs(1));
/// ```
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    connect_timeout: Duration,
    op_timeout: Duration,
    retry_for: Duration,
}

impl Default for EtcdOptions {
    /// 5 s to find a healthy endpoint at start, 1 s per request, 10 s of retries.
    fn default() -> Self {
        EtcdOptions {
            connect_timeout: Duration::from_secs(5),
            op_timeout: Duration::from_secs(1),
            retry_for: Duration::from_secs(10),
        }
    }
}

impl EtcdOptions {
    /// How long [`Etcd::connect`] waits for a healthy endpoint before it gives up.
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The connect timeout.
    pub fn connect_timeout_value(&self) -> Duration {
        self.connect_timeout
    }

    /// The deadline of one unary request on one endpoint.
    #[must_use]
    pub fn op_timeout(mut self, d: Duration) -> Self {
        self.op_timeout = d.max(Duration::from_millis(10));
        self
    }

    /// The per-request deadline.
    pub fn op_timeout_value(&self) -> Duration {
        self.op_timeout
    }

    /// How long a request is retried across endpoints before it fails.
    #[must_use]
    pub fn retry_for(mut self, d: Duration) -> Self {
        self.retry_for = d;
        self
    }
}

/// How long an endpoint that failed is skipped (unless every endpoint is down).
const DOWN_FOR: Duration = Duration::from_millis(500);

struct Inner {
    endpoints: Vec<String>,
    clients: Vec<Client>,
    /// Until when each endpoint is considered down.
    down_until: Mutex<Vec<Option<Instant>>>,
    current: AtomicUsize,
    opts: EtcdOptions,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Etcd")
            .field("endpoints", &self.endpoints)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// A connection to an etcd cluster that survives the loss of members.
///
/// Cheap to clone (the clones share the clients).
#[derive(Clone, Debug)]
pub struct Etcd(Arc<Inner>);

/// Whether an error is worth trying again, maybe on another endpoint.
fn retryable(e: &etcd_client::Error) -> bool {
    use etcd_client::Error as E;
    match e {
        E::GRpcStatus(s) => matches!(
            s.code(),
            tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Unknown
                | tonic::Code::Cancelled
                | tonic::Code::Aborted
                | tonic::Code::Internal
                | tonic::Code::ResourceExhausted
        ),
        E::TransportError(_) | E::IoError(_) | E::WatchError(_) | E::LeaseKeepAliveError(_) => true,
        _ => false,
    }
}

impl Etcd {
    /// Connects to the etcd cluster at `endpoints` (client URLs such as
    /// `http://10.0.0.1:2379`) and waits until one of them answers.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Unreachable`] if none answers within the connect timeout;
    /// [`ClusterError::Config`] for an empty list or a malformed URL.
    pub async fn connect(endpoints: &[String], opts: EtcdOptions) -> Result<Self, ClusterError> {
        if endpoints.is_empty() {
            return Err(ClusterError::Config(
                "--etcd needs at least one client URL, e.g. http://127.0.0.1:2379".into(),
            ));
        }
        let mut clients = Vec::new();
        for ep in endpoints {
            let options = ConnectOptions::new()
                .with_connect_timeout(opts.op_timeout)
                .with_keep_alive(Duration::from_millis(500), opts.op_timeout)
                .with_keep_alive_while_idle(true)
                .with_require_leader(true);
            let client = Client::connect([ep.as_str()], Some(options))
                .await
                .map_err(|e| ClusterError::Config(format!("bad etcd URL {ep:?}: {e}")))?;
            clients.push(client);
        }
        let etcd = Etcd(Arc::new(Inner {
            endpoints: endpoints.to_vec(),
            down_until: Mutex::new(vec![None; clients.len()]),
            clients,
            current: AtomicUsize::new(0),
            opts,
        }));
        etcd.wait_reachable().await?;
        Ok(etcd)
    }

    async fn wait_reachable(&self) -> Result<(), ClusterError> {
        let started = Instant::now();
        let deadline = started + self.0.opts.connect_timeout;
        let mut last = String::from("no answer");
        loop {
            for i in 0..self.0.clients.len() {
                let mut c = self.0.clients[i].clone();
                let left = deadline.saturating_duration_since(Instant::now());
                let wait = left
                    .min(self.0.opts.op_timeout)
                    .max(Duration::from_millis(10));
                match tokio::time::timeout(wait, c.status()).await {
                    Ok(Ok(_)) => {
                        // Relaxed: a hint of which endpoint to try first.
                        self.0.current.store(i, Ordering::Relaxed);
                        return Ok(());
                    }
                    Ok(Err(e)) => last = format!("{}: {e}", self.0.endpoints[i]),
                    Err(_) => last = format!("{}: no answer in {wait:?}", self.0.endpoints[i]),
                }
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::Unreachable {
                    endpoints: self.0.endpoints.join(","),
                    waited: started.elapsed(),
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The endpoints, as given.
    pub fn endpoints(&self) -> &[String] {
        &self.0.endpoints
    }

    /// The endpoint index to use next: the current one unless it is down, else the next
    /// one that is not, else the current one anyway.
    fn pick(&self) -> usize {
        let n = self.0.clients.len();
        // Relaxed: a hint; any index is a valid choice.
        let cur = self.0.current.load(Ordering::Relaxed) % n;
        let down = self
            .0
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        (0..n)
            .map(|k| (cur + k) % n)
            .find(|&i| down[i].is_none_or(|t| t <= now))
            .unwrap_or(cur)
    }

    /// Records that endpoint `i` failed: skip it for a while, move on to the next.
    fn mark_down(&self, i: usize) {
        let n = self.0.clients.len();
        self.0
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)[i] = Some(Instant::now() + DOWN_FOR);
        // Relaxed: a hint, as in `pick`.
        let _ =
            self.0
                .current
                .compare_exchange(i, (i + 1) % n, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn mark_up(&self, i: usize) {
        self.0
            .down_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)[i] = None;
    }

    /// A client for a long-lived stream (watch, keepalive, campaign), on the endpoint
    /// most likely to work, and that endpoint's index for [`Etcd::failed`].
    pub fn stream_client(&self) -> (usize, Client) {
        let i = self.pick();
        (i, self.0.clients[i].clone())
    }

    /// Reports that a stream on endpoint `i` (from [`stream_client`](Self::stream_client))
    /// broke, so the next pick avoids it.
    pub fn failed(&self, i: usize) {
        self.mark_down(i);
    }

    /// Runs a unary request `f` on a client, retrying it on other endpoints on transport
    /// errors and timeouts until it succeeds or the retry budget is spent.
    ///
    /// `f` may run more than once, and a request that timed out may still have been
    /// applied: use it for reads and for requests that are safe to repeat (guarded txns
    /// whose effect can be recognised).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] with the last error.
    pub async fn call<T, F, Fut>(&self, what: &'static str, mut f: F) -> Result<T, ClusterError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<T, etcd_client::Error>>,
    {
        let deadline = Instant::now() + self.0.opts.retry_for;
        let mut backoff = Duration::from_millis(5);
        loop {
            let i = self.pick();
            let attempt =
                tokio::time::timeout(self.0.opts.op_timeout, f(self.0.clients[i].clone()));
            let message = match attempt.await {
                Ok(Ok(v)) => {
                    self.mark_up(i);
                    return Ok(v);
                }
                Ok(Err(e)) if !retryable(&e) => {
                    return Err(ClusterError::Etcd {
                        what,
                        message: e.to_string(),
                    })
                }
                Ok(Err(e)) => format!("{}: {e}", self.0.endpoints[i]),
                Err(_) => format!(
                    "{}: no answer within {:?}",
                    self.0.endpoints[i], self.0.opts.op_timeout
                ),
            };
            self.mark_down(i);
            if Instant::now() >= deadline {
                return Err(ClusterError::Etcd { what, message });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }

    /// The timeouts in force.
    pub fn options(&self) -> &EtcdOptions {
        &self.0.opts
    }
}
