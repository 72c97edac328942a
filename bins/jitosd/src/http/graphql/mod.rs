//! The GraphQL API: every field is a request of the socket's protocol, authorised and
//! answered by the same code (`asking`), so the API can do exactly what the CLI can and
//! no more. The schema is committed as `docs/api.graphql`; a test fails when the two
//! differ.

mod comparison;
mod mutation;
mod objects;
mod plan_states;
mod query;
mod subscription;

use std::sync::Arc;

use async_graphql::{ErrorExtensions as _, Schema};
use jitos_gov::Principal;
use jitos_ledger::Actor;
use jitos_proto::{ErrorCode, ErrorInfo, Request, Response};

use crate::{asking, connection::Shared, tokens::TokenHash};

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

/// The schema the daemon serves.
pub type ApiSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The deepest selection a query may make: the schema is at most five levels deep, so
/// anything deeper is a mistake or an attack.
pub const DEPTH_MAX: usize = 10;
/// The most a query may cost, each field counting one and each list its `first` times
/// its items' cost.
pub const COMPLEXITY_MAX: usize = 20_000;
/// The most items one list field returns.
pub const PAGE_MAX: u32 = 1000;

/// Who is asking, for the fields of one request or one WebSocket.
#[derive(Clone)]
pub struct Caller {
    /// How the ledger records them.
    pub actor: Actor,
    /// Their user and roles.
    pub principal: Principal,
    /// The token they came with, over TCP: asked after again at every operation and by
    /// every running subscription, so a revocation ends what a WebSocket may still do.
    pub token: Option<TokenHash>,
}

impl Caller {
    /// Whether the caller still stands: always on the unix socket; with a token, while it
    /// is not revoked.
    pub fn stands(&self, shared: &Shared) -> bool {
        self.token
            .as_ref()
            .is_none_or(|hash| shared.tokens.still_held(hash).is_some())
    }
}

/// The schema, with what its resolvers share.
pub fn schema(shared: Option<Arc<Shared>>) -> ApiSchema {
    let builder = Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .limit_depth(DEPTH_MAX)
        .limit_complexity(COMPLEXITY_MAX)
        .limit_recursive_depth(32)
        .limit_directives(16);
    match shared {
        Some(shared) => builder.data(shared).finish(),
        None => builder.finish(),
    }
}

/// The schema in SDL, as `docs/api.graphql` holds it.
pub fn sdl() -> String {
    schema(None).sdl()
}

/// Asks `request` as the caller of `ctx`: authorised as on the socket, then answered; an
/// error answer becomes a GraphQL error whose `code` extension is the socket's code.
pub(crate) async fn ask(
    ctx: &async_graphql::Context<'_>,
    request: Request,
) -> async_graphql::Result<Response> {
    let (shared, caller) = parts(ctx)?;
    match asking::ask(shared, &caller.actor, &caller.principal, request).await {
        Response::Error(info) => Err(refused(info)),
        response => Ok(response),
    }
}

/// Authorises `request` as the caller of `ctx` without answering it, for the fields that
/// read the store in their own way (a graph page, a subscription).
pub(crate) async fn authorised<'c>(
    ctx: &async_graphql::Context<'c>,
    request: &Request,
) -> async_graphql::Result<(&'c Arc<Shared>, &'c Caller)> {
    let (shared, caller) = parts(ctx)?;
    if let Err(refusal) =
        asking::authorised(shared, &caller.actor, &caller.principal, request).await
    {
        return Err(refused(ErrorInfo {
            code: ErrorCode::Forbidden,
            message: refusal.message,
        }));
    }
    Ok((shared, caller))
}

/// What a field needs to answer, once the caller is known to still stand.
pub(crate) fn parts<'c>(
    ctx: &async_graphql::Context<'c>,
) -> async_graphql::Result<(&'c Arc<Shared>, &'c Caller)> {
    let (shared, caller) = (ctx.data::<Arc<Shared>>()?, ctx.data::<Caller>()?);
    if !caller.stands(shared) {
        return Err(revoked());
    }
    Ok((shared, caller))
}

/// The error of a caller whose token was revoked since they connected.
pub(crate) fn revoked() -> async_graphql::Error {
    async_graphql::Error::new("the token of this connection has been revoked")
        .extend_with(|_, e| e.set("code", "Unauthenticated"))
}

/// An error answer as a GraphQL error.
pub(crate) fn refused(info: ErrorInfo) -> async_graphql::Error {
    let code = format!("{:?}", info.code);
    async_graphql::Error::new(info.message).extend_with(|_, e| e.set("code", code))
}

/// An answer of a kind the field does not expect: a bug, said as one.
pub(crate) fn unexpected(response: &Response) -> async_graphql::Error {
    tracing::error!(?response, "the API got an answer of an unexpected kind");
    async_graphql::Error::new("the daemon answered with an unexpected kind; this is a bug")
}

/// A page size from a `first` argument: 1 to [`PAGE_MAX`].
pub(crate) fn page_size(first: u32) -> async_graphql::Result<u32> {
    if first == 0 || first > PAGE_MAX {
        return Err(refused(ErrorInfo {
            code: ErrorCode::BadRequest,
            message: format!("`first` is {first}: a page holds 1 to {PAGE_MAX} items"),
        }));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_schema_is_the_schema_served() {
        let committed = include_str!("../../../../../docs/api.graphql");
        let served = super::sdl();
        assert!(
            committed == served,
            "docs/api.graphql differs from the schema jitosd serves; regenerate it with \
             `jitosd --print-schema > docs/api.graphql` and commit it"
        );
    }
}
