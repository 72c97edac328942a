//! A real daemon for the benches: a fresh store in this profile's target directory,
//! confined workers from there, full durability, served on its own runtime until dropped.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use jitos_proto::Client;
use jitos_tasks::Library;
use jitosd::{Daemon, DaemonConfig, WorkerConfig};

pub struct BenchDaemon {
    // Dropped after the daemon has stopped: its store and its socket live here.
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    socket: PathBuf,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), jitosd::DaemonError>>>,
}

impl BenchDaemon {
    /// A daemon of `worker_slots` process workers at once, keeping warm instances of
    /// reusable workers as `warm` says.
    pub fn start(library: Library, worker_slots: usize, warm: jitosd::WarmConfig) -> BenchDaemon {
        let bin_dir = profile_dir();
        assert!(
            bin_dir.join("jitos-worker-noop").is_file(),
            "build the noop worker first: cargo build --release -p jitos-worker-noop"
        );
        // Beside the build, on disk, so that every fsync costs what it does in production
        // even where the temporary directory is a tmpfs.
        let dir = tempfile::tempdir_in(&bin_dir).unwrap();
        // The socket's path stays short, whatever the target directory's.
        let socket_dir = tempfile::tempdir().unwrap();
        let socket = socket_dir.path().join("run/jitosd.sock");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let daemon = runtime
            .block_on(async {
                Daemon::start(DaemonConfig {
                    data_dir: dir.path().join("data"),
                    socket: socket.clone(),
                    snapshot_every: 100_000,
                    read_only: false,
                    clock: Arc::new(jitos_ledger::SystemClock),
                    workers: WorkerConfig {
                        bin_dir,
                        allow_unconfined: false,
                        policy: jitosd::WorkerPolicy::default(),
                        deadline_default_ms: 30_000,
                        warm,
                        output_roots: Vec::new(),
                        models: jitosd::fetch::Models::default(),
                    },
                    library: Arc::new(library),
                    worker_slots,
                    access: jitosd::Access::daemon_only(),
                    policy: None,
                    http: jitosd::http::HttpConfig::default(),
                })
            })
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(daemon.serve(async {
            let _ = stopped.await;
        }));
        BenchDaemon {
            _dirs: (dir, socket_dir),
            socket,
            runtime,
            stop: Some(stop),
            served: Some(served),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

pub fn connect(socket: &Path) -> Client {
    Client::connect(socket, "bench").unwrap().unwrap()
}

impl Drop for BenchDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let served = self.runtime.block_on(served);
            if !std::thread::panicking() {
                served.unwrap().unwrap();
            }
        }
    }
}

pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<bench> → target/<profile>
    exe.parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_owned()
}
