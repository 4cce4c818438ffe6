//! The coordinator's Prometheus metrics (with `prometheus-client`), served as text on
//! `GET /metrics` of `--metrics ADDR`.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::ClusterError;

/// Labels of per-node series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeLabel {
    /// The node index.
    pub node: u64,
}

/// Labels of failure counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabel {
    /// Why a claim ended: `lease_expired`, `stream_ended`, `stalled`, `commit_refused`.
    pub cause: String,
}

/// Every series the coordinator exports.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Each node's live progress (its state in the leader's array).
    pub progress: Family<NodeLabel, Gauge>,
    /// Each node's committed progress.
    pub committed: Family<NodeLabel, Gauge>,
    /// Snapshots taken.
    pub snapshots: Counter,
    /// Snapshots committed (pointer written in etcd).
    pub commits: Counter,
    /// Claims that failed, by cause.
    pub failures: Family<CauseLabel, Counter>,
    /// Finished subtasks thrown away by rollbacks.
    pub rolled_back: Counter,
    /// Messages from workers refused (stale claim, out of order, malformed).
    pub refused: Counter,
    /// Progress reports accepted.
    pub reports: Counter,
    /// This coordinator's leader epoch (0 while a standby).
    pub leader_epoch: Gauge,
    /// 1 while this coordinator leads.
    pub is_leader: Gauge,
}

impl Metrics {
    /// A registry holding every series, prefixed `snapstate_`.
    pub fn registry(self: &Arc<Self>) -> Registry {
        let mut r = Registry::with_prefix("snapstate");
        r.register(
            "node_progress",
            "Subtasks done per node (live)",
            self.progress.clone(),
        );
        r.register(
            "node_committed",
            "Subtasks committed per node",
            self.committed.clone(),
        );
        r.register("snapshots", "Snapshots taken", self.snapshots.clone());
        r.register(
            "commits",
            "Snapshots committed to etcd",
            self.commits.clone(),
        );
        r.register("failures", "Failed claims by cause", self.failures.clone());
        r.register(
            "rolled_back_subtasks",
            "Finished subtasks redone after a failure",
            self.rolled_back.clone(),
        );
        r.register(
            "refused_messages",
            "Worker messages refused",
            self.refused.clone(),
        );
        r.register("reports", "Progress reports accepted", self.reports.clone());
        r.register(
            "leader_epoch",
            "Leader epoch (0: standby)",
            self.leader_epoch.clone(),
        );
        r.register("is_leader", "1 while leading", self.is_leader.clone());
        r
    }

    /// Counts one failure of `cause`.
    pub fn failure(&self, cause: &str) {
        self.failures
            .get_or_create(&CauseLabel {
                cause: cause.to_owned(),
            })
            .inc();
    }
}

/// Serves `registry` on `addr` at `/metrics`; returns the bound address.
///
/// # Errors
///
/// [`ClusterError::Net`] if the address cannot be bound.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr, ClusterError> {
    let registry = Arc::new(metrics.registry());
    let (listener, local) = crate::net::bind(addr, "--metrics").await?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = Arc::clone(&registry);
            async move {
                let mut text = String::new();
                // Encoding into a String cannot fail.
                let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    );
    tokio::spawn(async move {
        // The server ends only with the process.
        let _ = axum::serve(listener, app).await;
    });
    Ok(local)
}
