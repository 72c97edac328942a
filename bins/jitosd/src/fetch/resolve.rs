//! The fetcher's resolver: a host a writ names by name reaches only addresses of other
//! hosts, so a name whose DNS answers with this host's loopback or its link (a cloud's
//! metadata service at 169.254.169.254) reaches nothing the writ did not name. A writ
//! that names an address reaches that address: the client asks no resolver for it.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::egress::other_host;

/// Resolves with the system's resolver and keeps only other hosts' addresses.
pub(super) struct OtherHostsOnly;

impl Resolve for OtherHostsOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|address| other_host(address.ip()))
                .collect();
            if kept.is_empty() && !found.is_empty() {
                return Err(format!(
                    "{host} resolves only to addresses of this host or its link; a writ \
                     reaches those only by naming the address itself"
                )
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}
