//! Where every listener and every gRPC channel of the distributed mode is made, so that
//! transport security is decided in one place.
//!
//! - With the job's certificates ([`Transport::MutualTls`]) every listener (the
//!   leader's gRPC port, the metrics endpoint) runs a TLS handshake that requires a
//!   client certificate signed by the job's CA, and hands the connection to the server
//!   only once the handshake succeeded: a peer without such a certificate is refused
//!   before a byte of HTTP/2 is read, and logged. Workers dial the leader over TLS,
//!   trusting only the job's CA and checking that the leader's certificate names the
//!   address they dial.
//! - Without certificates ([`Transport::Loopback`]) nothing leaves the machine:
//!   listeners bind to loopback addresses only, and a worker refuses to send to a
//!   leader whose address is not a loopback one. Asking for anything else is refused
//!   with a message that says how to give certificates.
//!
//! The message size limits of [`Limits`] apply to both the server's and the client's
//! codec.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

use crate::error::ClusterError;
use crate::limits::Limits;
use crate::proto::leader_client::LeaderClient;
use crate::proto::leader_server::{Leader, LeaderServer};
use crate::tls::Tls;

/// How the endpoints of a process are secured.
#[derive(Clone, Debug)]
pub enum Transport {
    /// No certificates: every endpoint stays on loopback.
    Loopback,
    /// Mutual TLS with the job's CA.
    MutualTls(Tls),
}

impl Transport {
    /// The material, if any.
    pub fn tls(&self) -> Option<&Tls> {
        match self {
            Transport::Loopback => None,
            Transport::MutualTls(t) => Some(t),
        }
    }

    /// A name for logs and specs.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Loopback => "plaintext on loopback",
            Transport::MutualTls(_) => "mutual TLS",
        }
    }
}

/// What to say when plaintext would leave the machine.
pub const HOW_TO_SECURE: &str = "give the job's certificates with --tls-ca, --tls-cert and \
     --tls-key (docs/distributed.md, section Security, shows how to make them), or keep \
     every process on this machine (127.0.0.1)";

/// How long a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most TLS handshakes a listener runs at once; further connections wait in the
/// kernel's backlog (so a flood of half-open connections cannot exhaust memory).
pub const MAX_PENDING_HANDSHAKES: usize = 64;

/// Whether `host` (a name or an address, IPv6 with or without brackets) is loopback.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::net::is_loopback_host;
///
/// assert!(is_loopback_host("127.0.0.1") && is_loopback_host("[::1]") && is_loopback_host("localhost"));
/// assert!(!is_loopback_host("0.0.0.0") && !is_loopback_host("10.0.0.1") && !is_loopback_host("example.org"));
/// ```
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Splits `host:port` (or `[v6]:port`) into its host and port.
///
/// # Errors
///
/// [`ClusterError::Config`] if there is no port.
pub fn split_host_port(addr: &str) -> Result<(&str, u16), ClusterError> {
    let bad = || ClusterError::Config(format!("{addr:?} is not HOST:PORT"));
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port))
}

/// Checks that a listener on `addr` (`flag` is `--listen` or `--metrics`) is allowed.
///
/// # Errors
///
/// [`ClusterError::Config`] for a non-loopback address without TLS.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::net::{check_listen, Transport};
///
/// assert!(check_listen("127.0.0.1:0".parse().unwrap(), "--listen", &Transport::Loopback).is_ok());
/// let e = check_listen("0.0.0.0:7000".parse().unwrap(), "--listen", &Transport::Loopback).unwrap_err();
/// assert!(e.to_string().contains("--tls-cert"));
/// ```
pub fn check_listen(
    addr: SocketAddr,
    flag: &str,
    transport: &Transport,
) -> Result<(), ClusterError> {
    if transport.tls().is_none() && !addr.ip().is_loopback() {
        return Err(ClusterError::Config(format!(
            "refusing to listen on {addr} ({flag}) without TLS: it would take plaintext \
             from the network; {HOW_TO_SECURE}"
        )));
    }
    Ok(())
}

/// Checks that this process may send to `addr` (`host:port`), which `what` names
/// ("the leader at", "--advertise").
///
/// # Errors
///
/// [`ClusterError::Config`] for a non-loopback address without TLS, or a malformed one.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::net::{check_peer, Transport};
///
/// assert!(check_peer("127.0.0.1:7000", "the leader", &Transport::Loopback).is_ok());
/// assert!(check_peer("10.0.0.5:7000", "the leader", &Transport::Loopback).is_err());
/// ```
pub fn check_peer(addr: &str, what: &str, transport: &Transport) -> Result<(), ClusterError> {
    let (host, _) = split_host_port(addr)?;
    if transport.tls().is_none() && !is_loopback_host(host) {
        return Err(ClusterError::Config(format!(
            "refusing to send to {what} {addr} without TLS: it is not a loopback address, \
             and plaintext would cross the network; {HOW_TO_SECURE}"
        )));
    }
    Ok(())
}

/// Who hears of refused connections: a log line (the first few, then every 100th) and
/// a counter.
#[derive(Clone)]
pub struct RefusalSink {
    log: crate::log::Log,
    count: Arc<AtomicUsize>,
    metric: Option<prometheus_client::metrics::counter::Counter>,
}

impl std::fmt::Debug for RefusalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefusalSink").finish_non_exhaustive()
    }
}

impl RefusalSink {
    /// Refusals logged to `log` and counted in `metric`.
    pub fn new(
        log: crate::log::Log,
        metric: Option<prometheus_client::metrics::counter::Counter>,
    ) -> Self {
        RefusalSink {
            log,
            count: Arc::default(),
            metric,
        }
    }

    fn refused(&self, flag: &str, peer: SocketAddr, why: &str) {
        // Relaxed: a counter for rate-limiting log lines.
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &self.metric {
            m.inc();
        }
        if n < 20 || n.is_multiple_of(100) {
            self.log.say(format!(
                "refused a connection from {peer} to {flag} at the TLS handshake: {why}"
            ));
        }
    }
}

type TlsConn = tokio_rustls::server::TlsStream<TcpStream>;

/// A bound listener: plain TCP (loopback), or connections that completed the mutual
/// TLS handshake.
#[derive(Debug)]
pub enum Listener {
    /// Loopback, no TLS.
    Plain(TcpListener),
    /// Authenticated connections, from the acceptor task.
    Tls(mpsc::Receiver<(TlsConn, SocketAddr)>),
}

/// Binds a listener: the leader's gRPC port (`flag` is `--listen`) or the metrics
/// endpoint (`--metrics`). Every listener of the distributed mode is made here.
///
/// # Errors
///
/// [`ClusterError::Config`] for a non-loopback address without TLS;
/// [`ClusterError::Net`] if the address cannot be bound.
pub async fn bind(
    addr: SocketAddr,
    flag: &'static str,
    transport: &Transport,
    refusals: RefusalSink,
) -> Result<(Listener, SocketAddr), ClusterError> {
    check_listen(addr, flag, transport)?;
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        ClusterError::Net(format!("cannot listen on {addr}: {e}; pick another {flag}"))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| ClusterError::Net(format!("cannot read the bound address: {e}")))?;
    let Some(tls) = transport.tls() else {
        return Ok((Listener::Plain(listener), local));
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config()?);
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(accept_loop(listener, acceptor, tx, flag, refusals));
    Ok((Listener::Tls(rx), local))
}

/// Accepts TCP connections and runs their handshakes, at most
/// [`MAX_PENDING_HANDSHAKES`] at once, each within [`HANDSHAKE_TIMEOUT`]; passes on
/// those that succeed. Ends when the server stops taking connections.
async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    tx: mpsc::Sender<(TlsConn, SocketAddr)>,
    flag: &'static str,
    refusals: RefusalSink,
) {
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&pending).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            () = tx.closed() => return,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(_) => {
                    // Out of descriptors or similar: back off, keep serving.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = tx.closed() => return,
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, tx, refusals) = (acceptor.clone(), tx.clone(), refusals.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(conn)) => {
                    let _ = tx.send((conn, peer)).await;
                }
                Ok(Err(e)) => refusals.refused(flag, peer, &e.to_string()),
                Err(_) => refusals.refused(
                    flag,
                    peer,
                    &format!("no handshake within {HANDSHAKE_TIMEOUT:?}"),
                ),
            }
        });
    }
}

/// Serves `service` on `listener` until `shutdown` resolves.
pub fn serve<S: Leader>(
    listener: Listener,
    service: S,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<Result<(), ClusterError>> {
    let server = LeaderServer::new(service)
        .max_decoding_message_size(limits.max_message())
        .max_encoding_message_size(limits.max_message());
    let builder = || {
        tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_millis(500)))
            .http2_keepalive_timeout(Some(Duration::from_secs(1)))
            .tcp_nodelay(true)
            .add_service(server)
    };
    let failed = |e: tonic::transport::Error| {
        ClusterError::Net(format!("the leader's gRPC server failed: {e}"))
    };
    tokio::spawn(async move {
        match listener {
            Listener::Plain(l) => builder()
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(l),
                    shutdown,
                )
                .await
                .map_err(failed),
            Listener::Tls(rx) => {
                use tokio_stream::StreamExt as _;
                let incoming = tokio_stream::wrappers::ReceiverStream::new(rx)
                    .map(|(conn, _)| Ok::<_, std::io::Error>(conn));
                builder()
                    .serve_with_incoming_shutdown(incoming, shutdown)
                    .await
                    .map_err(failed)
            }
        }
    })
}

/// The metrics endpoint's listener for axum: plain, or TLS connections.
pub(crate) struct AxumListener {
    inner: Listener,
    local: SocketAddr,
}

impl AxumListener {
    pub(crate) fn new(inner: Listener, local: SocketAddr) -> Self {
        AxumListener { inner, local }
    }
}

/// A connection of [`AxumListener`].
pub(crate) enum AxumIo {
    Plain(TcpStream),
    Tls(Box<TlsConn>),
}

impl tokio::io::AsyncRead for AxumIo {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            AxumIo::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            AxumIo::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for AxumIo {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            AxumIo::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            AxumIo::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            AxumIo::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            AxumIo::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            AxumIo::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            AxumIo::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl axum::serve::Listener for AxumListener {
    type Io = AxumIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match &mut self.inner {
                Listener::Plain(l) => match TcpListener::accept(l).await {
                    Ok((s, a)) => return (AxumIo::Plain(s), a),
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                },
                Listener::Tls(rx) => match rx.recv().await {
                    Some((s, a)) => return (AxumIo::Tls(Box::new(s)), a),
                    None => std::future::pending::<()>().await,
                },
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// A client of the leader at `addr` (`host:port`, as the leader advertises it): over
/// TLS with the job's certificates, or plaintext to a loopback address.
///
/// # Errors
///
/// [`ClusterError::Config`] for a non-loopback address without TLS;
/// [`ClusterError::Net`] if the address is malformed or nothing answers there (or its
/// certificate is not the job's).
pub async fn connect(
    addr: &str,
    limits: Limits,
    transport: &Transport,
) -> Result<LeaderClient<Channel>, ClusterError> {
    check_peer(addr, "the leader at", transport)?;
    let (host, _) = split_host_port(addr)?;
    let scheme = if transport.tls().is_some() {
        "https"
    } else {
        "http"
    };
    let uri = format!("{scheme}://{addr}");
    let mut endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| ClusterError::Net(format!("bad leader address {addr:?}: {e}")))?
        .connect_timeout(Duration::from_secs(1))
        .http2_keep_alive_interval(Duration::from_millis(500))
        .keep_alive_timeout(Duration::from_secs(1))
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    if let Some(tls) = transport.tls() {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        endpoint = endpoint
            .tls_config(tls.client_config(host))
            .map_err(|e| ClusterError::Net(format!("TLS setup for {addr} failed: {e}")))?;
    }
    let channel = endpoint.connect().await.map_err(|e| {
        ClusterError::Net(format!(
            "cannot reach the leader at {addr}: {}",
            error_chain(&e)
        ))
    })?;
    Ok(LeaderClient::new(channel)
        .max_decoding_message_size(limits.max_message())
        .max_encoding_message_size(limits.max_message()))
}

/// An error and its sources, joined (transport errors hide the cause, e.g. a refused
/// certificate, a few sources down).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_never_leaves_loopback() {
        let plain = Transport::Loopback;
        for ok in ["127.0.0.1:1", "127.9.9.9:1", "[::1]:1", "localhost:7000"] {
            assert!(check_peer(ok, "x", &plain).is_ok(), "{ok}");
        }
        for no in [
            "10.0.0.1:1",
            "0.0.0.0:1",
            "[::]:1",
            "example.org:1",
            "localhost.example.org:1",
            "192.168.1.1:7000",
        ] {
            let e = check_peer(no, "the leader at", &plain).unwrap_err();
            assert!(e.to_string().contains("--tls-ca"), "{no}: {e}");
        }
        assert!(check_peer("nocolon", "x", &plain).is_err());
        assert!(check_peer(":80", "x", &plain).is_err());
        for no in ["0.0.0.0:0", "[::]:0", "10.1.2.3:7000"] {
            assert!(check_listen(no.parse().unwrap(), "--listen", &plain).is_err());
        }
        assert!(check_listen("[::1]:0".parse().unwrap(), "--metrics", &plain).is_ok());
    }
}
