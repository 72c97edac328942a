//! Egress: the hosts a writ's jobs may reach over the network, and with which HTTP methods.
//!
//! A writ's `egress` is a [`Scope`] of entries, each an origin optionally preceded by the
//! methods allowed there: `https://api.example.com:443` allows every method,
//! `GET,HEAD https://pypi.org:443` only those two. Entries are kept in one canonical
//! spelling ([`canonical_entry`]): lowercase scheme and host, the port always written,
//! methods in a fixed order and left out when all are allowed. So equal grants are equal
//! strings, and a signature covers one spelling of each.
//!
//! An origin serves both ways out: a `fetch` through the daemon is checked against the
//! origin and method ([`allows_request`]), a connection through the forward proxy against
//! the host and port ([`allows_connect`]).

use std::collections::BTreeSet;

use super::{
    narrow::{Widening, WritField},
    Scope,
};

/// The methods an entry may name, in canonical order.
pub const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/// One egress entry, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressEntry {
    /// `http` or `https`.
    pub scheme: String,
    /// A lowercase host name, an IPv4 address, or an IPv6 address in brackets.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The methods allowed, as indexes into [`METHODS`]; all of them when the entry names
    /// none.
    pub methods: BTreeSet<usize>,
}

impl EgressEntry {
    /// The origin, `scheme://host:port`.
    pub fn origin(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }

    /// The canonical spelling.
    pub fn to_canonical(&self) -> String {
        if self.methods.len() == METHODS.len() {
            return self.origin();
        }
        let methods: Vec<&str> = self.methods.iter().map(|&i| METHODS[i]).collect();
        format!("{} {}", methods.join(","), self.origin())
    }

    /// Whether it allows everything `other` does.
    fn covers(&self, other: &EgressEntry) -> bool {
        self.origin() == other.origin() && self.methods.is_superset(&other.methods)
    }
}

/// Reads an entry in any spelling: `[METHOD[,METHOD…] ]scheme://host[:port][/]`. The
/// port defaults to the scheme's.
pub fn parse_entry(text: &str) -> Result<EgressEntry, String> {
    let text = text.trim();
    let (methods, origin) = match text.split_once(' ') {
        Some((methods, origin)) => (Some(methods), origin.trim()),
        None => (None, text),
    };
    let methods = match methods {
        None => (0..METHODS.len()).collect(),
        Some(list) => list
            .split(',')
            .map(|m| {
                METHODS
                    .iter()
                    .position(|known| known.eq_ignore_ascii_case(m.trim()))
                    .ok_or_else(|| {
                        format!(
                            "{:?} is not a method an entry may name: {}",
                            m.trim(),
                            METHODS.join(", ")
                        )
                    })
            })
            .collect::<Result<BTreeSet<usize>, String>>()?,
    };
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or_else(|| format!("{origin:?} is not an origin: write scheme://host[:port]"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(format!("the scheme {scheme:?} is not http or https")),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = split_host_port(rest)?;
    let port = match port {
        None => default_port,
        Some(text) => text
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("the port {text:?} is not a number from 1 to 65535"))?,
    };
    Ok(EgressEntry {
        scheme,
        host: canonical_host(host)?,
        port,
        methods,
    })
}

/// The canonical spelling of an entry written in any spelling.
pub fn canonical_entry(text: &str) -> Result<String, String> {
    parse_entry(text).map(|entry| entry.to_canonical())
}

fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(after) = text.strip_prefix('[') {
        let (inside, rest) = after
            .split_once(']')
            .ok_or_else(|| format!("{text:?} opens an IPv6 address with [ but never closes it"))?;
        let host = &text[..inside.len() + 2];
        return match rest {
            "" => Ok((host, None)),
            rest => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("{text:?} has {rest:?} after its host")),
            },
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((text, None)),
    }
}

/// A host as it is compared: an IPv6 address in brackets (parsed, so one spelling), or a
/// name or IPv4 address of lowercase letters, digits, `-` and `.`.
fn canonical_host(host: &str) -> Result<String, String> {
    if let Some(inside) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let address: std::net::Ipv6Addr = inside
            .parse()
            .map_err(|_| format!("{inside:?} is not an IPv6 address"))?;
        return Ok(format!("[{address}]"));
    }
    let host = host.to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if !valid {
        return Err(format!(
            "{host:?} is not a host name: use letters, digits, '-' and '.' (an international \
             name in its xn-- form), an IPv4 address, or an IPv6 address in brackets"
        ));
    }
    Ok(host)
}

/// What is wrong with an entry as a writ holds it: unreadable, or not canonical.
pub(super) fn entry_problem(text: &str) -> Option<String> {
    match canonical_entry(text) {
        Err(problem) => Some(problem),
        Ok(canonical) if canonical != text => {
            Some(format!("not in canonical form; write it as {canonical:?}"))
        }
        Ok(_) => None,
    }
}

fn entries(scope: &BTreeSet<String>) -> impl Iterator<Item = EgressEntry> + '_ {
    // A writ's entries were checked when it was; an unreadable one grants nothing.
    scope.iter().filter_map(|text| parse_entry(text).ok())
}

/// Whether `egress` allows a request with `method` (one of [`METHODS`]) to `origin`
/// (`scheme://host:port`, canonical).
pub fn allows_request(egress: &Scope, method: &str, origin: &str) -> bool {
    let Some(index) = METHODS.iter().position(|m| *m == method) else {
        return false;
    };
    match egress {
        Scope::All => true,
        Scope::Only(list) => {
            entries(list).any(|entry| entry.origin() == origin && entry.methods.contains(&index))
        }
    }
}

/// Whether `egress` allows a connection to `host` (lowercase, IPv6 in brackets) on
/// `port`, as the forward proxy makes one: any entry with that host and port, whatever
/// its scheme and methods, since the proxy cannot see inside a tunnel.
pub fn allows_connect(egress: &Scope, host: &str, port: u16) -> bool {
    match egress {
        Scope::All => true,
        Scope::Only(list) => entries(list).any(|entry| entry.host == host && entry.port == port),
    }
}

/// Whether a child's egress is within its parent's: every child entry covered by one
/// parent entry of the same origin allowing at least its methods.
pub(super) fn check_within(child: &Scope, parent: &Scope) -> Result<(), Widening> {
    let Scope::Only(parent) = parent else {
        return Ok(());
    };
    let Scope::Only(child) = child else {
        return Err(Widening::new(
            WritField::Egress,
            "egress to any host exceeds the parent's list".to_owned(),
        ));
    };
    let parents: Vec<EgressEntry> = entries(parent).collect();
    for entry in entries(child) {
        if !parents.iter().any(|p| p.covers(&entry)) {
            return Err(Widening::new(
                WritField::Egress,
                format!(
                    "egress {:?} is not within any of the parent's entries",
                    entry.to_canonical()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn only(entries: &[&str]) -> Scope {
        Scope::Only(entries.iter().map(|e| (*e).to_owned()).collect())
    }

    // Goal: every spelling of an entry has one canonical form, and bad ones say why.
    #[test]
    fn entries_have_one_canonical_spelling() {
        assert_eq!(
            canonical_entry("HTTPS://API.Example.com").unwrap(),
            "https://api.example.com:443"
        );
        assert_eq!(
            canonical_entry("post,get http://127.0.0.1:8080/").unwrap(),
            "GET,POST http://127.0.0.1:8080"
        );
        assert_eq!(
            canonical_entry("GET,HEAD,POST,PUT,PATCH,DELETE https://x.org").unwrap(),
            "https://x.org:443"
        );
        assert_eq!(
            canonical_entry("http://[0:0::1]:3000").unwrap(),
            "http://[::1]:3000"
        );
        for bad in [
            "ftp://x.org",
            "x.org",
            "https://x.org:0",
            "https://x.org:99999",
            "https://x_y.org",
            "https://x.org/path",
            "FETCH https://x.org",
            "https://[::1",
            "https://",
        ] {
            assert!(canonical_entry(bad).is_err(), "{bad} should be refused");
        }
        assert!(entry_problem("https://x.org").is_some(), "not canonical");
        assert!(entry_problem("https://x.org:443").is_none());
    }

    // Goal: a request is allowed only to a listed origin with a listed method.
    #[test]
    fn requests_are_checked_by_origin_and_method() {
        let egress = only(&["GET https://pypi.org:443", "http://127.0.0.1:8080"]);
        assert!(allows_request(&egress, "GET", "https://pypi.org:443"));
        assert!(!allows_request(&egress, "POST", "https://pypi.org:443"));
        assert!(allows_request(&egress, "POST", "http://127.0.0.1:8080"));
        assert!(!allows_request(&egress, "GET", "http://127.0.0.1:8081"));
        assert!(!allows_request(&egress, "GET", "http://pypi.org:443"));
        assert!(!allows_request(&only(&[]), "GET", "https://pypi.org:443"));
        assert!(allows_request(&Scope::All, "DELETE", "https://x.org:443"));
        assert!(allows_connect(&egress, "pypi.org", 443));
        assert!(!allows_connect(&egress, "pypi.org", 80));
    }

    // Goal: a child may only narrow its parent's egress, method by method.
    #[test]
    fn a_child_egress_narrows_its_parent() {
        let parent = only(&["https://api.x.org:443", "GET https://pypi.org:443"]);
        assert!(check_within(&only(&["GET https://api.x.org:443"]), &parent).is_ok());
        assert!(check_within(&only(&[]), &parent).is_ok());
        assert!(check_within(&only(&["POST https://pypi.org:443"]), &parent).is_err());
        assert!(check_within(&only(&["https://pypi.org:443"]), &parent).is_err());
        assert!(check_within(&only(&["https://other.org:443"]), &parent).is_err());
        assert!(check_within(&Scope::All, &parent).is_err());
        assert!(check_within(&Scope::All, &Scope::All).is_ok());
    }
}
