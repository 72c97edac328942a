//! What a network job may reach through its proxy: the writ's egress, read as
//! `(host, port)` pairs, since the proxy cannot see inside a tunnel (methods and scheme
//! are `fetch`'s to check).

use std::collections::BTreeSet;
use std::net::IpAddr;

use jitos_gov::writ::{parse_entry, Scope};

/// The destinations a proxy lets through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressAllow {
    /// Any host on the network, but none of this host's own or its link's addresses
    /// (loopback, link-local such as a cloud's metadata service, unspecified, multicast,
    /// broadcast), checked on the addresses the proxy itself resolves and connects to:
    /// reaching those takes naming them.
    Any,
    /// Only these hosts (canonical: lowercase, IPv6 in brackets) on these ports, at
    /// whatever addresses they resolve to.
    Only(BTreeSet<(String, u16)>),
}

impl EgressAllow {
    /// Exactly `pairs`; a host is compared in canonical form, so `Example.COM` and
    /// `example.com`, or `[::1]` and `[0::1]`, are one.
    pub fn only<H: AsRef<str>>(pairs: impl IntoIterator<Item = (H, u16)>) -> EgressAllow {
        EgressAllow::Only(
            pairs
                .into_iter()
                .map(|(host, port)| (canonical_host(host.as_ref()), port))
                .collect(),
        )
    }

    /// What a writ's egress allows a connection to: each entry's host and port, whatever
    /// its scheme and methods; every host for a writ whose egress is unbounded. An entry
    /// that does not read grants nothing (the kernel checked them when it recorded the
    /// writ).
    pub fn from_writ(egress: &Scope) -> EgressAllow {
        match egress {
            Scope::All => EgressAllow::Any,
            Scope::Only(entries) => EgressAllow::Only(
                entries
                    .iter()
                    .filter_map(|text| parse_entry(text).ok())
                    .map(|entry| (entry.host, entry.port))
                    .collect(),
            ),
        }
    }

    /// Whether `host` (canonical) on `port` may be reached, or why not.
    pub(super) fn check(&self, host: &str, port: u16) -> Result<(), String> {
        match self {
            EgressAllow::Any => Ok(()),
            EgressAllow::Only(pairs) if pairs.contains(&(host.to_owned(), port)) => Ok(()),
            EgressAllow::Only(pairs) if pairs.is_empty() => Err(format!(
                "{host}:{port} is not allowed: the job's writ allows no egress; issue one \
                 that names it (`jitos writ issue --egress https://{host}:{port}`)"
            )),
            EgressAllow::Only(_) => Err(format!(
                "{host}:{port} is not allowed: the job's writ's egress does not name that \
                 host and port; issue one that does (`jitos writ issue --egress \
                 https://{host}:{port}`)"
            )),
        }
    }

    /// Whether an address `host` resolved to may be connected to: a host the list names
    /// as an address, that address; a host named by name, or any host under
    /// [`EgressAllow::Any`], only addresses of other hosts — so a name whose DNS answers
    /// with this host's loopback or its link (a cloud's metadata service) reaches nothing
    /// it did not name.
    pub(super) fn may_connect_to(&self, host: &str, address: IpAddr) -> bool {
        match self {
            EgressAllow::Only(_) if is_address(host) => true,
            _ => other_host(address),
        }
    }
}

/// Whether `host` is written as an IP address (an IPv6 one in brackets or not).
fn is_address(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

/// Whether `address` belongs to another host on the network rather than to this host or
/// its link.
pub(crate) fn other_host(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => other_host(IpAddr::V4(v4)),
            None => {
                let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
                !(v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || link_local)
            }
        },
    }
}

/// A host as the proxy compares it: lowercase; an IPv6 address in brackets, in one
/// spelling. Anything else is kept as given, and so matches only itself.
pub(super) fn canonical_host(host: &str) -> String {
    if let Some(inside) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if let Ok(address) = inside.parse::<std::net::Ipv6Addr>() {
            return format!("[{address}]");
        }
    }
    host.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the list compares hosts in one spelling, and says why it refuses; method:
    // differently spelt hosts against a list, and one not in it.
    #[test]
    fn only_compares_canonical_hosts_and_says_why_it_refuses() {
        let allow = EgressAllow::only([("Example.COM", 443), ("[0::1]", 8080)]);
        assert!(allow.check("example.com", 443).is_ok());
        assert!(allow.check("[::1]", 8080).is_ok());
        let refused = allow.check("example.com", 80);
        assert!(
            refused
                .as_ref()
                .is_err_and(|why| why.contains("example.com:80")),
            "{refused:?}"
        );
        assert!(EgressAllow::only::<&str>([]).check("a.b", 1).is_err());
    }

    // Goal: a writ's entries become host and port pairs whatever their scheme and
    // methods, and an unbounded writ allows any host but not this one's addresses;
    // method: a writ scope of two entries, and `Scope::All` against local addresses.
    #[test]
    fn a_writs_egress_becomes_pairs_and_any_keeps_off_this_host() {
        let scope = Scope::Only(
            [
                "GET,HEAD https://pypi.org:443".to_owned(),
                "http://127.0.0.1:8080".to_owned(),
            ]
            .into(),
        );
        let allow = EgressAllow::from_writ(&scope);
        assert!(allow.check("pypi.org", 443).is_ok());
        assert!(allow.check("127.0.0.1", 8080).is_ok());
        assert!(allow.check("pypi.org", 80).is_err());
        let loopback = IpAddr::from([127, 0, 0, 1]);
        assert!(
            allow.may_connect_to("127.0.0.1", loopback),
            "named as an address"
        );
        assert!(
            !allow.may_connect_to("pypi.org", loopback),
            "a name that resolves to loopback"
        );
        assert!(!allow.may_connect_to("pypi.org", IpAddr::from([169, 254, 169, 254])));
        assert!(allow.may_connect_to("pypi.org", IpAddr::from([151, 101, 0, 223])));
        let any = EgressAllow::from_writ(&Scope::All);
        assert!(any.check("anything.example", 1).is_ok());
        for local in [
            "127.0.0.1",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            let address: IpAddr = local.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
            assert!(!any.may_connect_to(local, address), "{local}");
        }
        assert!(any.may_connect_to("example.org", IpAddr::from([93, 184, 215, 14])));
    }
}
