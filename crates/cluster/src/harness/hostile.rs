//! [`Hostile`]: a hand-made client of the leader for tests of what it refuses: with no
//! TLS, TLS without a client certificate, a certificate of another CA or an expired
//! one, or a valid one that sends wrong messages, raw gRPC frames that are not
//! protobuf, or bytes that are not HTTP/2.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prost::bytes::{Buf, BufMut};
use prost::Message as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic::Status;

use crate::net::{error_chain, split_host_port};
use crate::proto::{LeaderMessage, WorkerMessage};
use crate::tls::TlsFiles;

/// How the hostile client connects.
#[derive(Clone, Debug)]
enum Side {
    Plain,
    Tls {
        ca: Vec<u8>,
        identity: Option<(Vec<u8>, Vec<u8>)>,
    },
}

/// A client of the leader at one address that sends whatever a test tells it to.
#[derive(Clone, Debug)]
pub struct Hostile {
    addr: String,
    side: Side,
}

/// Frames passed through as they are.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut v = vec![0; buf.remaining()];
        buf.copy_to_slice(&mut v);
        Ok(Some(v))
    }
}

fn read(p: &Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(p)
}

impl Hostile {
    /// A plaintext client (no TLS at all).
    pub fn plaintext(addr: &str) -> Self {
        Hostile {
            addr: addr.to_owned(),
            side: Side::Plain,
        }
    }

    /// A TLS client that trusts `ca` and presents `identity`'s certificate, or none.
    ///
    /// # Errors
    ///
    /// If a file cannot be read.
    pub fn tls(addr: &str, ca: &Path, identity: Option<&TlsFiles>) -> std::io::Result<Self> {
        let identity = match identity {
            Some(f) => Some((read(&f.cert)?, read(&f.key)?)),
            None => None,
        };
        Ok(Hostile {
            addr: addr.to_owned(),
            side: Side::Tls {
                ca: read(ca)?,
                identity,
            },
        })
    }

    /// A message's bytes, as [`exchange_raw`](Self::exchange_raw) takes them.
    pub fn encode(msg: &WorkerMessage) -> Vec<u8> {
        msg.encode_to_vec()
    }

    fn host(&self) -> String {
        split_host_port(&self.addr)
            .map(|(h, _)| h.to_owned())
            .unwrap_or_default()
    }

    /// Opens a `Work` stream, sends `msgs` and returns what the leader answered until
    /// it fenced the stream or closed it; `Err` with the error text if the connection
    /// or the stream failed before any answer.
    ///
    /// # Errors
    ///
    /// The transport's or the stream's error, sources included.
    pub async fn exchange(&self, msgs: Vec<WorkerMessage>) -> Result<Vec<LeaderMessage>, String> {
        self.exchange_raw(msgs.iter().map(prost::Message::encode_to_vec).collect())
            .await
    }

    /// Like [`exchange`](Self::exchange), with each frame's bytes sent as they are (they
    /// need not be a protobuf message).
    ///
    /// # Errors
    ///
    /// As for [`exchange`](Self::exchange).
    pub async fn exchange_raw(&self, frames: Vec<Vec<u8>>) -> Result<Vec<LeaderMessage>, String> {
        let scheme = match self.side {
            Side::Plain => "http",
            Side::Tls { .. } => "https",
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", self.addr))
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(2));
        if let Side::Tls { ca, identity } = &self.side {
            let mut cfg = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .domain_name(self.host());
            if let Some((cert, key)) = identity {
                cfg = cfg.identity(Identity::from_pem(cert, key));
            }
            endpoint = endpoint.tls_config(cfg).map_err(|e| error_chain(&e))?;
        }
        let channel = endpoint.connect().await.map_err(|e| error_chain(&e))?;
        let mut grpc = tonic::client::Grpc::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        grpc.ready().await.map_err(|e| error_chain(&e))?;
        let (tx, rx) = tokio::sync::mpsc::channel(frames.len().max(1));
        for f in frames {
            let _ = tx.send(f).await;
        }
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/snapstate.cluster.v1.Leader/Work",
        );
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            grpc.streaming(tonic::Request::new(ReceiverStream::new(rx)), path, RawCodec),
        )
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?;
        let mut inbound = answer.into_inner();
        let mut got = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), inbound.message()).await {
                Ok(Ok(Some(bytes))) => {
                    let m = LeaderMessage::decode(bytes.as_slice()).map_err(|e| e.to_string())?;
                    let fenced =
                        matches!(m.body, Some(crate::proto::leader_message::Body::Fenced(_)));
                    got.push(m);
                    if fenced {
                        break;
                    }
                }
                Ok(Ok(None)) => break,
                Ok(Err(s)) if got.is_empty() => {
                    return Err(format!("{:?}: {}", s.code(), s.message()))
                }
                Ok(Err(_)) | Err(_) => break,
            }
        }
        drop(tx);
        Ok(got)
    }

    /// Connects (TLS handshake included, if TLS), writes `bytes` (anything: they need
    /// not be HTTP/2) and waits for the server to close the connection. Returns what
    /// the server sent before closing.
    ///
    /// # Errors
    ///
    /// If the connection or the handshake fails, or the server keeps the connection
    /// open for 5 s.
    pub async fn raw_bytes(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let tcp = tokio::net::TcpStream::connect(&self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let wait = Duration::from_secs(5);
        match &self.side {
            Side::Plain => {
                let mut tcp = tcp;
                tcp.write_all(bytes).await.map_err(|e| e.to_string())?;
                tokio::time::timeout(wait, tcp.read_to_end(&mut out))
                    .await
                    .map_err(|_| "still open after 5 s".to_owned())?
                    .map_err(|e| e.to_string())?;
            }
            Side::Tls { ca, identity } => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(ca) {
                    roots
                        .add(c.map_err(|e| e.to_string())?)
                        .map_err(|e| e.to_string())?;
                }
                let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots);
                let mut cfg = match identity {
                    Some((cert, key)) => {
                        let chain = CertificateDer::pem_slice_iter(cert)
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| e.to_string())?;
                        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| e.to_string())?;
                        builder
                            .with_client_auth_cert(chain, key)
                            .map_err(|e| e.to_string())?
                    }
                    None => builder.with_no_client_auth(),
                };
                cfg.alpn_protocols = vec![b"h2".to_vec()];
                let name = ServerName::try_from(self.host()).map_err(|e| e.to_string())?;
                let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| e.to_string())?;
                tls.write_all(bytes).await.map_err(|e| e.to_string())?;
                // A close without close_notify is an error to rustls: either way the
                // server has ended the connection.
                let _ = tokio::time::timeout(wait, tls.read_to_end(&mut out))
                    .await
                    .map_err(|_| "still open after 5 s".to_owned())?;
            }
        }
        Ok(out)
    }
}
