//! Talking to a node: one TLS connection per request, the member certificate presented.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

pub use rustls::ClientConfig;
use rustls::{ClientConnection, StreamOwned};

use crate::certs::member_server_name;
use crate::wire::{self, Frame, Request, Response, WireError};

/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot resolve node address `{0}`")]
    Address(String),
    #[error("cannot connect to node {address}")]
    Connect {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS with node {address} failed")]
    Tls {
        address: String,
        #[source]
        source: rustls::Error,
    },
    #[error("talking to node {address} failed")]
    Wire {
        address: String,
        #[source]
        source: WireError,
    },
    #[error("node {address} refused: {message}")]
    Refused { address: String, message: String },
}

/// Sends `request` to the node at `address` and returns its answer; an `Error` answer becomes
/// [`ClientError::Refused`].
pub fn call(
    address: &str,
    config: &Arc<ClientConfig>,
    request: &Frame<Request>,
) -> Result<Frame<Response>, ClientError> {
    open(address, config, request).map(|(response, _)| response)
}

/// The connection to a node after a request and its first answer, for a request that turns
/// the connection into a stream (a post-copy page stream).
pub type Connection = StreamOwned<ClientConnection, TcpStream>;

/// Sends one request and reads its answer; returns the connection too.
pub fn open(
    address: &str,
    config: &Arc<ClientConfig>,
    request: &Frame<Request>,
) -> Result<(Frame<Response>, Connection), ClientError> {
    let socket = address
        .to_socket_addrs()
        .ok()
        .and_then(|mut all| all.next())
        .ok_or_else(|| ClientError::Address(address.into()))?;
    let tcp = TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT).map_err(|source| {
        ClientError::Connect {
            address: address.into(),
            source,
        }
    })?;
    let _ = tcp.set_nodelay(true);
    let connection =
        ClientConnection::new(Arc::clone(config), member_server_name()).map_err(|source| {
            ClientError::Tls {
                address: address.into(),
                source,
            }
        })?;
    let mut stream = StreamOwned::new(connection, tcp);
    let wire = |source| ClientError::Wire {
        address: address.into(),
        source,
    };
    wire::write_frame(&mut stream, request).map_err(wire)?;
    let response: Frame<Response> = wire::read_frame(&mut stream).map_err(wire)?;
    if let Response::Error { message } = &response.message {
        return Err(ClientError::Refused {
            address: address.into(),
            message: message.clone(),
        });
    }
    Ok((response, stream))
}
