//! Serving the node protocol: accept TLS connections from cluster members, read one request
//! per connection, answer it. Shared by the node daemon and the cluster controller.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

use crate::wire::{self, Frame, Request, Response};

/// Binding the listening address failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address}")]
pub struct ListenError {
    address: String,
    #[source]
    source: std::io::Error,
}

/// Listens on `address` and says where (the port, when `address` asked for port 0).
pub fn listen(address: &str) -> Result<(TcpListener, SocketAddr), ListenError> {
    let error = |source| ListenError {
        address: address.into(),
        source,
    };
    let listener = TcpListener::bind(address).map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    Ok((listener, bound))
}

/// Answers requests on `listener` until the process ends, each connection on its own thread.
/// `who` names the server in its log lines; a handler's `Err` goes back as an `error` answer.
/// The connection after a request that turns it into a stream (a post-copy page stream).
pub type Connection = StreamOwned<ServerConnection, TcpStream>;

/// What a request gets: an answer, or the connection itself (after a first answer).
pub enum Reply {
    Frame(Frame<Response>),
    Stream(Frame<Response>, Box<dyn FnOnce(&mut Connection) + Send>),
}

pub fn serve_forever<H>(listener: TcpListener, tls: Arc<ServerConfig>, who: &'static str, handle: H)
where
    H: Fn(Frame<Request>) -> Result<Reply, String> + Send + Sync + 'static,
{
    let handle = Arc::new(handle);
    for connection in listener.incoming() {
        let Ok(tcp) = connection else { continue };
        let tls = Arc::clone(&tls);
        let handle = Arc::clone(&handle);
        std::thread::spawn(move || serve_connection(tls, tcp, who, &*handle));
    }
}

fn serve_connection(
    tls: Arc<ServerConfig>,
    tcp: TcpStream,
    who: &str,
    handle: &dyn Fn(Frame<Request>) -> Result<Reply, String>,
) {
    let peer = tcp
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "unknown peer".into());
    let _ = tcp.set_nodelay(true);
    let Ok(connection) = ServerConnection::new(tls) else {
        return;
    };
    let mut stream = StreamOwned::new(connection, tcp);
    // The handshake happens on first use; a peer without a member certificate fails here.
    while stream.conn.is_handshaking() {
        if let Err(error) = stream.conn.complete_io(&mut stream.sock) {
            eprintln!("xisa {who}: refused {peer}: {error}");
            return;
        }
    }
    let request: Frame<Request> = match wire::read_frame(&mut stream) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("xisa {who}: bad request from {peer}: {error}");
            let answer = Frame::new(Response::Error {
                message: format!("bad request: {error}"),
            });
            let _ = wire::write_frame(&mut stream, &answer);
            return;
        }
    };
    let reply = handle(request).unwrap_or_else(|message| {
        eprintln!("xisa {who}: request from {peer} failed: {message}");
        Reply::Frame(Frame::new(Response::Error { message }))
    });
    match reply {
        Reply::Frame(answer) => {
            let _ = wire::write_frame(&mut stream, &answer);
        }
        Reply::Stream(answer, carry_on) => {
            if wire::write_frame(&mut stream, &answer).is_ok() {
                carry_on(&mut stream);
            }
        }
    }
    stream.conn.send_close_notify();
    let _ = stream.conn.complete_io(&mut stream.sock);
}
