//! Who an HTTP request comes from: the peer's credentials on the unix socket, a bearer
//! token over TCP. Either way they become the same principal, with the same roles, as
//! the socket would give them.

use std::sync::Arc;

use axum::{
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use jitos_gov::{Refusal, Role};
use jitos_ledger::Actor;
use tokio::net::UnixStream;

use super::graphql::Caller;
use crate::connection::Shared;

/// The longest bearer token read: far above the ones `jitos token create` makes.
const TOKEN_BYTES_MAX: usize = 128;

/// The credentials of a peer on the unix socket, as the kernel gave them; `None` when
/// they could not be read.
#[derive(Clone, Copy, Debug)]
pub struct Peer(Option<PeerCred>);

#[derive(Clone, Copy, Debug)]
struct PeerCred {
    uid: u32,
    gid: u32,
    pid: u32,
}

impl Peer {
    /// Who is at the other end of `stream`, as its credentials say.
    pub fn of(stream: &UnixStream) -> Peer {
        let cred = stream.peer_cred().ok();
        Peer(cred.map(|cred| {
            PeerCred {
                uid: cred.uid(),
                gid: cred.gid(),
                pid: cred
                    .pid()
                    .and_then(|pid| u32::try_from(pid).ok())
                    .unwrap_or(0),
            }
        }))
    }
}

/// Why a request has no caller.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    /// No token, or not one of ours.
    #[error("{0}")]
    Unauthenticated(String),
    /// The user has no role.
    #[error("{0}")]
    NoRole(String),
    /// The peer's credentials could not be read, or the user looked up.
    #[error("{0}")]
    Unknown(String),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Denied::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, "Unauthenticated", m),
            Denied::NoRole(m) => (StatusCode::FORBIDDEN, "Forbidden", m),
            Denied::Unknown(m) => (StatusCode::INTERNAL_SERVER_ERROR, "Storage", m),
        };
        let body = serde_json::json!({
            "errors": [{ "message": message, "extensions": { "code": code } }]
        });
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Result<Option<String>, Denied> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        Denied::Unauthenticated(
            "the Authorization header must be `Bearer TOKEN`, with a token from `jitos token create`"
                .to_owned(),
        )
    };
    let text = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = text.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > TOKEN_BYTES_MAX {
        return Err(malformed());
    }
    Ok(Some(token.trim().to_owned()))
}

/// The caller the bearer token of `headers` stands for; `what` names what needs it.
pub async fn of_bearer(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    what: &str,
) -> Result<Caller, Denied> {
    match bearer(headers)? {
        Some(token) => of_token(shared, &token).await,
        None => Err(Denied::Unauthenticated(format!(
            "{what} needs `Authorization: Bearer TOKEN`, with a token from `jitos token create`"
        ))),
    }
}

/// The caller a token stands for.
pub async fn of_token(shared: &Arc<Shared>, token: &str) -> Result<Caller, Denied> {
    let Some((uid, hash)) = shared.tokens.holder(token) else {
        return Err(Denied::Unauthenticated(
            "that token is not one of this daemon's (revoked, or never made); make one with \
             `jitos token create`"
                .to_owned(),
        ));
    };
    // Over TCP there is no process to name: the record says pid 0.
    let actor = Actor::Peer { uid, pid: 0 };
    let mut caller = of_user(shared, uid, None, actor).await?;
    caller.token = Some(hash);
    Ok(caller)
}

/// The caller a unix-socket peer is.
pub async fn of_peer(shared: &Arc<Shared>, peer: Peer) -> Result<Caller, Denied> {
    let Some(peer) = peer.0 else {
        return Err(Denied::Unknown(
            "the peer's credentials could not be read".to_owned(),
        ));
    };
    let actor = Actor::Peer {
        uid: peer.uid,
        pid: peer.pid,
    };
    of_user(shared, peer.uid, Some(peer.gid), actor).await
}

/// The user's primary group, for the access file's group grants; a user this host no
/// longer knows has none.
fn primary_gid(uid: u32) -> u32 {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or(u32::MAX, |user| user.gid.as_raw())
}

/// The caller user `uid` is, in group `gid` (a token's user: their primary group).
async fn of_user(
    shared: &Arc<Shared>,
    uid: u32,
    gid: Option<u32>,
    actor: Actor,
) -> Result<Caller, Denied> {
    // The user database may be slow to answer (NSS), so it is asked off the async threads.
    // One access for the whole request, even if a reload swaps it meanwhile.
    let access = shared.access.current();
    let looked_up = Arc::clone(&access);
    let principal = tokio::task::spawn_blocking(move || {
        looked_up.principal(uid, gid.unwrap_or_else(|| primary_gid(uid)))
    })
    .await
    .map_err(|e| Denied::Unknown(format!("cannot look the user up: {e}")))?;
    if principal.roles.is_empty() {
        let refusal = Refusal {
            needed: Role::Viewer,
            message: access.no_role_message(&principal),
        };
        shared.audit.refused(&actor, &principal, &refusal).await;
        return Err(Denied::NoRole(refusal.message));
    }
    Ok(Caller {
        actor,
        principal,
        token: None,
    })
}
