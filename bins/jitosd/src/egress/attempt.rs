//! One attempt's egress: its network namespace, its proxy, and the environment that
//! points the worker's tools at the proxy.

use std::time::Duration;

use jitos_sandbox::{NetNamespace, NetNamespaceError};

use super::{EgressAllow, Proxy, Reporter};

/// The port the proxy listens on inside each attempt's namespace (squid's, which tools
/// expect of a proxy); every namespace has its own, so attempts never contend for it.
pub const PROXY_PORT: u16 = 3128;

/// The variables that point HTTP clients at a proxy: curl, git, pip and most others read
/// one of them, some only the lowercase ones.
const PROXY_VARIABLES: [&str; 5] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
];

/// Why an attempt's egress could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// The namespace could not be made.
    #[error(transparent)]
    Namespace(#[from] NetNamespaceError),
    /// The proxy could not be started on the daemon's runtime.
    #[error("cannot start the egress proxy: {0}")]
    Proxy(#[source] std::io::Error),
}

/// An attempt's egress, open. Dropping it stops the proxy (without waiting for reports:
/// call [`AttemptEgress::stop`] for that).
pub struct AttemptEgress {
    namespace: NetNamespace,
    env: Vec<(String, String)>,
    proxy: Proxy,
}

impl AttemptEgress {
    /// Makes the attempt's namespace and starts its proxy on `runtime`, letting through
    /// what `allow` allows and reporting each connection to `reporter`. Blocking (it
    /// starts a short-lived thread to make the namespace); needs a root daemon.
    pub fn open(
        runtime: &tokio::runtime::Handle,
        allow: EgressAllow,
        reporter: Reporter,
    ) -> Result<AttemptEgress, EgressError> {
        let (namespace, listener) = NetNamespace::create(PROXY_PORT)?;
        let url = format!("http://127.0.0.1:{}", namespace.proxy_port());
        let env = PROXY_VARIABLES
            .iter()
            .map(|name| ((*name).to_owned(), url.clone()))
            .collect();
        let proxy = Proxy::start(runtime, listener, allow, reporter).map_err(EgressError::Proxy)?;
        Ok(AttemptEgress {
            namespace,
            env,
            proxy,
        })
    }

    /// A handle on the namespace, for `jitos_sandbox::Spawn::net_namespace`.
    pub fn namespace(&self) -> std::io::Result<NetNamespace> {
        self.namespace.try_clone()
    }

    /// The variables to add to the worker's environment.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Stops the proxy, ends its open connections and waits (up to `wait`; call it off the
    /// runtime, as the attempt's thread is) until each is reported. False if `wait` ran
    /// out first.
    pub fn stop(self, wait: Duration) -> bool {
        self.proxy.stop(wait)
    }
}
