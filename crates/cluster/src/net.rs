//! Where every listener and every gRPC channel of the distributed mode is made, so that
//! transport security (mutual TLS, loopback-only without it) is decided in one place.
//!
//! Today both sides speak plaintext HTTP/2; the message size limits of [`Limits`] are
//! applied here to both the server's and the client's codec.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};

use crate::error::ClusterError;
use crate::limits::Limits;
use crate::proto::leader_client::LeaderClient;
use crate::proto::leader_server::{Leader, LeaderServer};

/// Binds a listener: the leader's gRPC port (`flag` is `--listen`) or the metrics
/// endpoint (`--metrics`). Every listener of the distributed mode is made here.
///
/// # Errors
///
/// [`ClusterError::Net`] if the address cannot be bound.
pub async fn bind(addr: SocketAddr, flag: &str) -> Result<(TcpListener, SocketAddr), ClusterError> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        ClusterError::Net(format!("cannot listen on {addr}: {e}; pick another {flag}"))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| ClusterError::Net(format!("cannot read the bound address: {e}")))?;
    Ok((listener, local))
}

/// Serves `service` on `listener` until `shutdown` resolves.
pub fn serve<S: Leader>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<Result<(), ClusterError>> {
    let server = LeaderServer::new(service)
        .max_decoding_message_size(limits.max_message())
        .max_encoding_message_size(limits.max_message());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_millis(500)))
            .http2_keepalive_timeout(Some(Duration::from_secs(1)))
            .tcp_nodelay(true)
            .add_service(server)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                shutdown,
            )
            .await
            .map_err(|e| ClusterError::Net(format!("the leader's gRPC server failed: {e}")))
    })
}

/// A client of the leader at `addr` (`host:port`, as the leader advertises it).
///
/// # Errors
///
/// [`ClusterError::Net`] if the address is malformed or nothing answers there.
pub async fn connect(addr: &str, limits: Limits) -> Result<LeaderClient<Channel>, ClusterError> {
    let uri = format!("http://{addr}");
    let endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| ClusterError::Net(format!("bad leader address {addr:?}: {e}")))?
        .connect_timeout(Duration::from_secs(1))
        .http2_keep_alive_interval(Duration::from_millis(500))
        .keep_alive_timeout(Duration::from_secs(1))
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| ClusterError::Net(format!("cannot reach the leader at {addr}: {e}")))?;
    Ok(LeaderClient::new(channel)
        .max_decoding_message_size(limits.max_message())
        .max_encoding_message_size(limits.max_message()))
}
