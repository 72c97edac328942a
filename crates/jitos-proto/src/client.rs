//! A blocking client of the daemon's socket, for the CLI and for tests.

use std::{io, os::unix::net::UnixStream, path::Path, time::Duration};

use crate::{
    decode_message, encode_message, read_frame, write_frame, ErrorInfo, FrameError, GraphAssembler,
    GraphView, Hello, Request, Response, Welcome,
};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket exists but could not be connected to.
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket.
        path: String,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The daemon refused the handshake.
    #[error("jitosd refused the connection: {}", .0.message)]
    Refused(ErrorInfo),
    /// The daemon answered the handshake with something other than a welcome.
    #[error("jitosd answered the handshake with an unexpected message")]
    BadHandshake,
    /// Framing or decoding failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A streamed answer broke off or did not add up.
    #[error("jitosd sent a broken answer: {0}")]
    BrokenStream(String),
}

/// One handshaken connection.
pub struct Client {
    stream: UnixStream,
    welcome: Welcome,
}

impl Client {
    /// Connects and handshakes; `Ok(None)` when nothing listens on `socket`.
    pub fn connect(socket: &Path, client_name: &str) -> Result<Option<Client>, ClientError> {
        let stream = match UnixStream::connect(socket) {
            Ok(stream) => stream,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None)
            }
            Err(source) => {
                return Err(ClientError::Connect {
                    path: socket.display().to_string(),
                    source,
                })
            }
        };
        Client::handshake(stream, client_name).map(Some)
    }

    /// Handshakes on an already connected stream.
    pub fn handshake(mut stream: UnixStream, client_name: &str) -> Result<Client, ClientError> {
        write_frame(&mut stream, &encode_message(&Hello::new(client_name))?)?;
        let welcome = match decode_message(&read_frame(&mut stream)?)? {
            Response::Welcome(welcome) => welcome,
            Response::Error(e) => return Err(ClientError::Refused(e)),
            _ => return Err(ClientError::BadHandshake),
        };
        Ok(Client { stream, welcome })
    }

    /// What the daemon said at the handshake.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Bounds how long [`Client::receive`] waits for a frame; `None` waits as long as it
    /// takes. A receive that runs out fails with an i/o error, and the connection is then
    /// to be dropped: the frame may have been cut.
    pub fn set_read_timeout(&self, limit: Option<Duration>) -> Result<(), ClientError> {
        self.stream
            .set_read_timeout(limit)
            .map_err(|e| ClientError::Frame(FrameError::Io(e)))
    }

    /// Sends a request without waiting for its answer.
    pub fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        Ok(write_frame(&mut self.stream, &encode_message(request)?)?)
    }

    /// Reads the next response.
    pub fn receive(&mut self) -> Result<Response, ClientError> {
        Ok(decode_message(&read_frame(&mut self.stream)?)?)
    }

    /// Sends a request and reads its one response.
    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        self.send(request)?;
        self.receive()
    }

    /// Asks for a graph ([`Request::GraphShow`]) and assembles the parts it streams in;
    /// the daemon's refusal is `Ok(Err(..))`.
    pub fn graph_show(
        &mut self,
        at: Option<u64>,
        node: Option<String>,
        sws: Option<u64>,
    ) -> Result<Result<GraphView, ErrorInfo>, ClientError> {
        self.send(&Request::GraphShow { at, node, sws })?;
        let mut assembler = GraphAssembler::default();
        loop {
            match self.receive()? {
                Response::GraphPart(part) => assembler.add(part),
                Response::GraphEnd(end) => {
                    return assembler
                        .finish(end)
                        .map(Ok)
                        .map_err(ClientError::BrokenStream)
                }
                Response::Error(refused) => return Ok(Err(refused)),
                other => {
                    return Err(ClientError::BrokenStream(format!(
                        "{other:?} in the middle of a graph"
                    )))
                }
            }
        }
    }
}
