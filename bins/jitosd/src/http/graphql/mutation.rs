//! Mutations: exactly the CLI's commands, each a request of the socket's protocol,
//! authorised as it is there. Each answers with the socket's answer, as JSON.

use async_graphql::{Context, Enum, Json, Object, Result};
use jitos_proto::{AnswerView, ErrorCode, ErrorInfo, Request, Response};

use super::{ask, refused};

/// The API's mutations.
pub struct MutationRoot;

/// How to answer a waiting process.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AnswerKind {
    /// A value (JSON text, in `value`), for an `ask` step.
    Value,
    /// Run the failed or cut-off job again.
    Retry,
    /// Take the job as done.
    Skip,
    /// End the process as failed.
    Fail,
}

#[Object]
impl MutationRoot {
    /// Plans an intent (TOML text, as `jitos submit` reads it) and records it as a process
    /// (`jitos submit`).
    async fn submit_process(
        &self,
        ctx: &Context<'_>,
        intent: String,
        #[graphql(default_with = "\"intent.toml\".to_owned()")] path: String,
        writ: Option<u64>,
    ) -> Result<Json<Response>> {
        ask(ctx, Request::ProcessSubmit { intent, path, writ })
            .await
            .map(Json)
    }

    /// Answers a waiting process (`jitos answer`).
    async fn answer_process(
        &self,
        ctx: &Context<'_>,
        id: u64,
        answer: AnswerKind,
        value: Option<String>,
    ) -> Result<Json<Response>> {
        let answer = match (answer, value) {
            (AnswerKind::Value, Some(value)) => AnswerView::Value(value),
            (AnswerKind::Value, None) => {
                return Err(refused(ErrorInfo {
                    code: ErrorCode::BadRequest,
                    message: "answer VALUE needs `value` (JSON text)".to_owned(),
                }))
            }
            (AnswerKind::Retry, _) => AnswerView::Retry,
            (AnswerKind::Skip, _) => AnswerView::Skip,
            (AnswerKind::Fail, _) => AnswerView::Fail,
        };
        ask(
            ctx,
            Request::ProcessAnswer {
                process: id,
                answer,
            },
        )
        .await
        .map(Json)
    }

    /// Approves the job a process holds for approvals (`jitos approve`).
    async fn approve_process(
        &self,
        ctx: &Context<'_>,
        id: u64,
        #[graphql(default)] note: String,
    ) -> Result<Json<Response>> {
        let vote = Request::ProcessVote {
            process: id,
            approve: true,
            note,
        };
        ask(ctx, vote).await.map(Json)
    }

    /// Rejects the job a process holds for approvals, which ends it (`jitos reject`).
    async fn reject_process(
        &self,
        ctx: &Context<'_>,
        id: u64,
        reason: String,
    ) -> Result<Json<Response>> {
        let vote = Request::ProcessVote {
            process: id,
            approve: false,
            note: reason,
        };
        ask(ctx, vote).await.map(Json)
    }

    /// Ends a process as cancelled (`jitos cancel`).
    async fn cancel_process(&self, ctx: &Context<'_>, id: u64) -> Result<Json<Response>> {
        ask(ctx, Request::ProcessCancel(id)).await.map(Json)
    }

    /// Collapses a workspace into its target, as ruled on by the policy
    /// (`jitos sws collapse`).
    async fn collapse_workspace(
        &self,
        ctx: &Context<'_>,
        id: u64,
        writ: Option<u64>,
    ) -> Result<Json<Response>> {
        ask(ctx, Request::SwsCollapse { sws: id, writ })
            .await
            .map(Json)
    }

    /// Approves a workspace's held collapse (`jitos sws approve`).
    async fn approve_collapse(
        &self,
        ctx: &Context<'_>,
        id: u64,
        #[graphql(default)] note: String,
    ) -> Result<Json<Response>> {
        let vote = Request::SwsVote {
            sws: id,
            approve: true,
            note,
        };
        ask(ctx, vote).await.map(Json)
    }

    /// Rejects a workspace's held collapse (`jitos sws reject`).
    async fn reject_collapse(
        &self,
        ctx: &Context<'_>,
        id: u64,
        reason: String,
    ) -> Result<Json<Response>> {
        let vote = Request::SwsVote {
            sws: id,
            approve: false,
            note: reason,
        };
        ask(ctx, vote).await.map(Json)
    }

    /// Ends a workspace without applying it (`jitos sws discard`).
    async fn discard_workspace(
        &self,
        ctx: &Context<'_>,
        id: u64,
        reason: String,
    ) -> Result<Json<Response>> {
        ask(ctx, Request::SwsDiscard { sws: id, reason })
            .await
            .map(Json)
    }

    /// Asks the worker running an attempt to stop (`jitos job cancel`).
    async fn cancel_job(&self, ctx: &Context<'_>, id: u64) -> Result<Json<Response>> {
        ask(ctx, Request::JobCancel(id)).await.map(Json)
    }
}
