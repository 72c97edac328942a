//! Where a command's answer comes from: the daemon over its socket, or, for the commands
//! that allow it, the store on disk opened read-only when no daemon answers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use jitos_kernel::{Kernel, KernelOptions, View};
use jitos_proto::{Request, Response};

use jitos_proto::{Client, ClientError};

/// A daemon connection or an offline store.
pub enum Target {
    /// A running daemon.
    Daemon(Client),
    /// The store on disk, read-only, as recovered.
    Offline(Box<View>),
}

/// Socket and data directory, as resolved from flags, environment and defaults.
pub struct Location {
    /// The daemon's socket.
    pub socket: PathBuf,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Whether the operator named the data directory (flag or environment).
    pub data_dir_named: bool,
}

impl Location {
    /// The store inside the data directory.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    /// Connects to the daemon, or explains how to start one.
    pub fn daemon(&self) -> Result<Client> {
        let connected = self.connect()?;
        match connected {
            Some(client) => Ok(client),
            None => bail!(
                "no jitosd is listening on {}; start one with `jitosd --socket {}` (or pass --socket)",
                self.socket.display(),
                self.socket.display()
            ),
        }
    }

    /// The daemon if one answers for this data directory, else the store on disk opened
    /// read-only.
    ///
    /// When the operator named a data directory, a daemon serving another one is not an
    /// answer: the store on disk is read instead.
    pub fn daemon_or_offline(&self) -> Result<Target> {
        if let Some(mut client) = self.connect()? {
            if !self.data_dir_named || self.serves_our_store(&mut client)? {
                return Ok(Target::Daemon(client));
            }
        }
        Ok(Target::Offline(Box::new(
            open_offline(&self.store_dir())?.view(),
        )))
    }

    /// Connects and handshakes; `None` when nothing listens. A socket this user may not
    /// reach says how to be let in.
    fn connect(&self) -> Result<Option<Client>> {
        match Client::connect(&self.socket, "jitos") {
            Err(ClientError::Connect { source, .. })
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                bail!(
                    "you may not reach the socket {}: the daemon opens it to the group its access file names (docs/ACCESS.md); ask its admin to name you and add you to that group",
                    self.socket.display()
                )
            }
            connected => Ok(connected?),
        }
    }

    fn serves_our_store(&self, client: &mut Client) -> Result<bool> {
        let Response::Status(status) = client.call(&Request::Status)? else {
            return Ok(false);
        };
        let theirs = std::fs::canonicalize(&status.store_dir).ok();
        let ours = std::fs::canonicalize(self.store_dir()).ok();
        Ok(theirs.is_some() && theirs == ours)
    }
}

/// Opens a store read-only without a daemon.
pub fn open_offline(store: &Path) -> Result<Kernel> {
    if !jitos_ledger::Ledger::exists(store) {
        bail!(
            "no jitosd answers and there is no store in {}; start jitosd, or pass --data-dir/--socket",
            store.display()
        );
    }
    Kernel::open(
        store,
        KernelOptions {
            clock: Arc::new(jitos_ledger::SystemClock),
            snapshot_every: 0,
            read_only: true,
            create_with_id: None,
            verify_on_open: true,
        },
    )
    .with_context(|| format!("cannot open the store in {} read-only", store.display()))
}

impl Target {
    /// Answers a query from whichever source this is.
    pub fn query(&mut self, request: &Request) -> Result<Response> {
        match self {
            Target::Daemon(client) => Ok(client.call(request)?),
            Target::Offline(view) => Ok(jitosd::answer::offline(view, request)),
        }
    }
}
