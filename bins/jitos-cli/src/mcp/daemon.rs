//! The server's one connection to `jitosd`, as the user who runs `jitos mcp`: every tool
//! call becomes requests on it, which the daemon authorises against that user's roles
//! and records with this process as the actor.

use std::{collections::BTreeSet, path::PathBuf};

use jitos_proto::{Client, ClientError, PrincipalView, Request, Response};

use super::tools::ToolError;

/// The name the server gives the daemon at the handshake.
const CLIENT_NAME: &str = "jitos-mcp";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Nothing listens on the socket.
    #[error("no jitosd is listening on {0}; start one (`jitosd --socket {0}`) or give its socket with --socket or JITOS_SOCKET, then start `jitos mcp` again")]
    NoDaemon(String),
    /// The socket is there but this user may not reach it.
    #[error("you may not reach the socket {0}: the daemon opens it to the group its access file names (docs/ACCESS.md); ask its admin to add you")]
    NotAllowed(String),
    /// The handshake failed or was refused.
    #[error("jitosd on {socket} did not take the connection: {source}")]
    Handshake {
        /// The socket.
        socket: String,
        /// What failed.
        #[source]
        source: ClientError,
    },
}

/// The connection, who the daemon takes the server for, and the workspaces this session
/// opened (the only ones its tools change).
pub struct Session {
    socket: PathBuf,
    client: Option<Client>,
    principal: PrincipalView,
    opened: BTreeSet<u64>,
    writ: Option<u64>,
}

impl Session {
    /// Connects and handshakes, or says why not; the session's jobs run and its collapses
    /// are asked under `writ`, if given.
    pub fn connect(socket: PathBuf, writ: Option<u64>) -> Result<Session, StartError> {
        let client = connect(&socket)?;
        let principal = client.welcome().principal.clone();
        Ok(Session {
            socket,
            client: Some(client),
            principal,
            opened: BTreeSet::new(),
            writ,
        })
    }

    /// The writ the session's jobs run and collapses are asked under, if any.
    pub fn writ(&self) -> Option<u64> {
        self.writ
    }

    /// Who the daemon takes this server for.
    pub fn principal(&self) -> &PrincipalView {
        &self.principal
    }

    /// The daemon's socket.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Sends one request and reads its one answer. A daemon's refusal is
    /// [`ToolError::Refused`]; a broken connection is dropped and made again at the next
    /// call, since the daemon may have restarted.
    pub fn call(&mut self, request: &Request) -> Result<Response, ToolError> {
        let answer = self.client()?.call(request);
        match answer {
            Ok(Response::Error(error)) => Err(ToolError::Refused(error.message)),
            Ok(response) => Ok(response),
            Err(e) => Err(self.lost(&e)),
        }
    }

    /// Runs one of the CLI's helpers that talk to the daemon themselves (a diff, fetching
    /// blobs); a failure of the connection is handled as [`Session::call`] does.
    pub fn with_client<T>(
        &mut self,
        run: impl FnOnce(&mut Client) -> anyhow::Result<T>,
    ) -> Result<T, ToolError> {
        let answer = run(self.client()?);
        answer.map_err(|e| match e.downcast_ref::<ClientError>() {
            Some(broken) => self.lost(broken),
            None => ToolError::Refused(format!("{e:#}")),
        })
    }

    fn client(&mut self) -> Result<&mut Client, ToolError> {
        if self.client.is_none() {
            let client = connect(&self.socket).map_err(|e| ToolError::Daemon(e.to_string()))?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| ToolError::Daemon("no connection to jitosd".to_owned()))
    }

    fn lost(&mut self, error: &ClientError) -> ToolError {
        self.reset();
        ToolError::Daemon(format!(
            "lost the connection to jitosd: {error}; whether the call was recorded, `jitos log` \
             tells; the next call connects again"
        ))
    }

    /// Drops the connection, whose state is unknown after a failure mid-call; the next
    /// call connects again.
    pub fn reset(&mut self) {
        self.client = None;
    }

    /// Remembers a workspace this session opened.
    pub fn opened(&mut self, sws: u64) {
        self.opened.insert(sws);
    }

    /// Forgets a workspace this session closed.
    pub fn closed(&mut self, sws: u64) {
        self.opened.remove(&sws);
    }

    /// Refuses a workspace this session did not open: an agent changes only its own.
    pub fn own(&self, sws: u64) -> Result<u64, ToolError> {
        if self.opened.contains(&sws) {
            return Ok(sws);
        }
        // Named up to a few, so the message stays short however many are open.
        let open: Vec<String> = self.opened.iter().take(16).map(u64::to_string).collect();
        Err(ToolError::BadArgument(format!(
            "workspace {sws} was not opened by this session (open: {}); open one with workspace_open",
            if open.is_empty() { "none".to_owned() } else { open.join(", ") }
        )))
    }
}

fn connect(socket: &std::path::Path) -> Result<Client, StartError> {
    let shown = socket.display().to_string();
    match Client::connect(socket, CLIENT_NAME) {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(StartError::NoDaemon(shown)),
        Err(ClientError::Connect { source, .. })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            Err(StartError::NotAllowed(shown))
        }
        Err(source) => Err(StartError::Handshake {
            socket: shown,
            source,
        }),
    }
}
