//! Queries: the store as of any sequence number, read as the socket reads it.

use async_graphql::{Context, Json, Object, Result};
use jitos_proto::{PageRequest, PageView, PolicyView, Request, Response, StatusInfo, WritView};

use super::{
    ask, authorised,
    comparison::RunComparison,
    objects::{
        Attempt, AttemptPage, Edge, GraphPage, Me, Node, NodeChange, Process, ProcessFull,
        ProcessPage, Record, RecordPage, Workspace, WorkspaceFull, WorkspacePage,
    },
    page_size, parts, refused, unexpected,
};
use crate::reading;

/// The API's queries.
pub struct QueryRoot;

/// What a field that reads the ledger, a past graph, a workspace's files or a blob counts
/// against the
/// complexity limit: a query holds at most a few dozen of them, so one request cannot
/// set the daemon thousands of replays or blob reads.
const READ_COST: usize = 500;

/// A read that stopped before answering (the daemon is stopping).
fn stopped_read(stopped: Response) -> async_graphql::Error {
    match stopped {
        Response::Error(info) => refused(info),
        other => unexpected(&other),
    }
}

fn page<C>(after: Option<C>, first: u32) -> Result<PageRequest<C>> {
    Ok(PageRequest {
        after,
        limit: page_size(first)?,
    })
}

/// A lookup of one thing whose absence is an answer, not an error.
fn found<T>(asked: Result<T>) -> Result<Option<T>> {
    match asked {
        Ok(thing) => Ok(Some(thing)),
        Err(e)
            if e.extensions.as_ref().and_then(|x| x.get("code"))
                == Some(&async_graphql::Value::from("NotFound")) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[Object]
impl QueryRoot {
    /// Who you are to the daemon: your user and roles.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let (_, caller) = parts(ctx)?;
        Ok(Me {
            uid: caller.principal.uid,
            user: caller.principal.user.clone(),
            roles: caller
                .principal
                .roles
                .iter()
                .map(|role| role.to_string())
                .collect(),
        })
    }

    /// The store's head, digest, sizes and configuration.
    async fn status(&self, ctx: &Context<'_>) -> Result<Json<StatusInfo>> {
        match ask(ctx, Request::Status).await? {
            Response::Status(info) => Ok(Json(info)),
            other => Err(unexpected(&other)),
        }
    }

    /// Records from `from` on, oldest first.
    #[graphql(complexity = "first as usize * child_complexity")]
    async fn records(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] from: u64,
        #[graphql(default = 100)] first: u32,
    ) -> Result<RecordPage> {
        let limit = page_size(first)?;
        match ask(ctx, Request::Log { from, limit }).await? {
            Response::Records(records) => {
                let next = (records.len() == limit as usize)
                    .then(|| records.last().map(|r| r.seq + 1))
                    .flatten();
                Ok(RecordPage {
                    records: records.into_iter().map(Record::from).collect(),
                    next,
                })
            }
            other => Err(unexpected(&other)),
        }
    }

    /// One record.
    async fn record(&self, ctx: &Context<'_>, seq: u64) -> Result<Option<Record>> {
        match ask(
            ctx,
            Request::Log {
                from: seq,
                limit: 1,
            },
        )
        .await?
        {
            Response::Records(records) => {
                Ok(records.into_iter().find(|r| r.seq == seq).map(Record::from))
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Every record that changed a node, with the node after each.
    #[graphql(complexity = "READ_COST + child_complexity")]
    async fn history(&self, ctx: &Context<'_>, node: String) -> Result<Vec<NodeChange>> {
        match ask(ctx, Request::History { node }).await? {
            Response::History(entries) => Ok(entries.into_iter().map(NodeChange::from).collect()),
            other => Err(unexpected(&other)),
        }
    }

    /// A page of the graph as of `at` (default: the head), or as workspace `sws` sees it:
    /// the nodes after `after` in id order, and the edges out of them.
    #[graphql(complexity = "READ_COST + first as usize * child_complexity")]
    async fn graph(
        &self,
        ctx: &Context<'_>,
        at: Option<u64>,
        sws: Option<u64>,
        after: Option<String>,
        #[graphql(default = 100)] first: u32,
    ) -> Result<GraphPage> {
        let limit = page_size(first)? as usize;
        if at.is_some() && sws.is_some() {
            return Err(refused(jitos_proto::ErrorInfo {
                code: jitos_proto::ErrorCode::BadRequest,
                message: "a workspace is seen as it is now: give `at` or `sws`, not both"
                    .to_owned(),
            }));
        }
        let asked = Request::GraphShow {
            at,
            node: None,
            sws,
        };
        let (shared, _) = authorised(ctx, &asked).await?;
        let read = reading::on_view(&shared.kernel, move |view| {
            let at_seq = at.unwrap_or(view.head().seq);
            let paged = match sws {
                Some(sws) => view
                    .sws_graph(sws)
                    .map(|graph| std::sync::Arc::new(jitos_kernel::PagedGraph::new(graph))),
                None => view.paged_graph_at(at_seq),
            }
            .map_err(|e| crate::answer::kernel_error_info(&e))?;
            let graph = paged.graph();
            let mut nodes: Vec<Node> = paged
                .nodes_after(after.as_deref())
                .take(limit + 1)
                .cloned()
                .map(Node::from)
                .collect();
            let next = (nodes.len() > limit).then(|| {
                nodes.truncate(limit);
                nodes.last().map(|n| n.id.clone())
            });
            let edges = nodes
                .iter()
                .flat_map(|node| {
                    graph
                        .edges_of(&node.id)
                        .into_iter()
                        .filter(|edge| edge.from.as_str() == node.id)
                })
                .map(|edge| Edge {
                    from: edge.from.to_string(),
                    label: edge.label,
                    to: edge.to.to_string(),
                })
                .collect();
            Ok(GraphPage {
                at_seq,
                digest: graph.digest().to_string(),
                node_count: graph.node_count() as u64,
                nodes,
                edges,
                next: next.flatten(),
            })
        })
        .await;
        match read {
            Ok(Ok(page)) => Ok(page),
            Ok(Err(info)) => Err(refused(info)),
            Err(stopped) => Err(stopped_read(stopped)),
        }
    }

    /// One node as of `at` (default: the head), or as workspace `sws` sees it.
    #[graphql(complexity = "READ_COST + child_complexity")]
    async fn node(
        &self,
        ctx: &Context<'_>,
        id: String,
        at: Option<u64>,
        sws: Option<u64>,
    ) -> Result<Option<Node>> {
        let asked = Request::GraphShow {
            at,
            node: Some(id.clone()),
            sws,
        };
        let (shared, _) = authorised(ctx, &asked).await?;
        let read = reading::on_view(&shared.kernel, move |view| {
            crate::answer::graph_show(view, at, Some(&id), sws)
        })
        .await;
        match read {
            Ok(Ok(graph)) => Ok(graph.nodes.into_iter().next().map(Node::from)),
            Ok(Err(info)) if info.code == jitos_proto::ErrorCode::NotFound => Ok(None),
            Ok(Err(info)) => Err(refused(info)),
            Err(stopped) => Err(stopped_read(stopped)),
        }
    }

    /// Processes, newest first: the live ones, or `all`, or those `waitingForMe`.
    #[graphql(complexity = "first as usize * child_complexity")]
    async fn processes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] all: bool,
        #[graphql(default = false)] waiting_for_me: bool,
        after: Option<u64>,
        #[graphql(default = 50)] first: u32,
    ) -> Result<ProcessPage> {
        let asked = Request::ProcessList {
            all,
            waiting_for_me,
            page: page(after, first)?,
        };
        match ask(ctx, asked).await? {
            Response::Processes(page) => Ok(ProcessPage {
                items: page.items.into_iter().map(Process::from).collect(),
                next: page.next,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// One process in full: its plan, jobs, lanes and what it waits for.
    async fn process(&self, ctx: &Context<'_>, id: u64) -> Result<Option<ProcessFull>> {
        found(match ask(ctx, Request::ProcessShow(id)).await {
            Ok(Response::Process(detail)) => Ok(ProcessFull::from(detail)),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(e),
        })
    }

    /// Two processes compared, as `jitos diff A B` shows them: their plans, each job's
    /// outcome, the files each changed in the system, and the environments they ran in.
    /// Null when either is no process.
    #[graphql(complexity = "2 * READ_COST + child_complexity")]
    async fn compare(&self, ctx: &Context<'_>, a: u64, b: u64) -> Result<Option<RunComparison>> {
        found(match ask(ctx, Request::ProcessDiff { a, b }).await {
            Ok(Response::ProcessComparison(comparison)) => Ok(RunComparison::from(*comparison)),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(e),
        })
    }

    /// A process's records (its decisions, jobs and answers), oldest first.
    #[graphql(complexity = "first as usize * child_complexity")]
    async fn process_log(
        &self,
        ctx: &Context<'_>,
        id: u64,
        after: Option<u64>,
        #[graphql(default = 100)] first: u32,
    ) -> Result<RecordPage> {
        let asked = Request::ProcessLog {
            process: id,
            page: page(after, first)?,
        };
        match ask(ctx, asked).await? {
            Response::ProcessLog(page) => Ok(RecordPage {
                records: page.items.into_iter().map(Record::from).collect(),
                next: page.next,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Attempts, newest first: the running ones, or `all`.
    #[graphql(complexity = "first as usize * child_complexity")]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] all: bool,
        after: Option<u64>,
        #[graphql(default = 50)] first: u32,
    ) -> Result<AttemptPage> {
        let asked = Request::JobList {
            all,
            page: page(after, first)?,
        };
        match ask(ctx, asked).await? {
            Response::Jobs(page) => Ok(AttemptPage {
                items: page.items.into_iter().map(Attempt::from).collect(),
                next: page.next,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// One attempt.
    async fn job(&self, ctx: &Context<'_>, id: u64) -> Result<Option<Attempt>> {
        found(match ask(ctx, Request::JobShow(id)).await {
            Ok(Response::Job(attempt)) => Ok(Attempt::from(attempt)),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(e),
        })
    }

    /// The end of an output an attempt left (`stdout`, `stderr`, its log), as text:
    /// its last `tailBytes` bytes; null when the attempt left none of that name.
    #[graphql(complexity = "READ_COST")]
    async fn job_output(
        &self,
        ctx: &Context<'_>,
        id: u64,
        name: String,
        #[graphql(default = 16384)] tail_bytes: u32,
    ) -> Result<Option<String>> {
        let attempt = match ask(ctx, Request::JobShow(id)).await? {
            Response::Job(attempt) => attempt,
            other => return Err(unexpected(&other)),
        };
        let jitos_proto::AttemptState::Done { artifacts, .. } = attempt.state else {
            return Ok(None);
        };
        let Some((_, blob)) = artifacts.iter().find(|(n, _)| *n == name) else {
            return Ok(None);
        };
        let blob = blob.parse::<jitos_warp::BlobRef>().map_err(|e| {
            refused(jitos_proto::ErrorInfo {
                code: jitos_proto::ErrorCode::Storage,
                message: format!("attempt {id}'s {name} names no blob: {e}"),
            })
        })?;
        match ask(ctx, Request::GetBlobs(vec![blob])).await? {
            Response::Blobs(mut blobs) => {
                let bytes = blobs.pop().unwrap_or_default();
                let start = bytes.len().saturating_sub(tail_bytes as usize);
                Ok(Some(String::from_utf8_lossy(&bytes[start..]).into_owned()))
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Workspaces, open and ended, in id order.
    #[graphql(complexity = "first as usize * child_complexity")]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        after: Option<u64>,
        #[graphql(default = 50)] first: u32,
    ) -> Result<WorkspacePage> {
        match ask(ctx, Request::SwsList(page(after, first)?)).await? {
            Response::SwsList(page) => Ok(WorkspacePage {
                items: page.items.into_iter().map(Workspace::from).collect(),
                next: page.next,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// One workspace with its graph and file diffs against its base.
    #[graphql(complexity = "READ_COST + child_complexity")]
    async fn workspace(&self, ctx: &Context<'_>, id: u64) -> Result<Option<WorkspaceFull>> {
        found(match ask(ctx, Request::SwsShow(id)).await {
            Ok(Response::Sws(detail)) => Ok(WorkspaceFull::from(detail)),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(e),
        })
    }

    /// The writs the daemon holds.
    #[graphql(complexity = "first as usize * child_complexity")]
    async fn writs(
        &self,
        ctx: &Context<'_>,
        after: Option<u64>,
        #[graphql(default = 50)] first: u32,
    ) -> Result<Json<PageView<WritView>>> {
        match ask(ctx, Request::WritList(page(after, first)?)).await? {
            Response::Writs(page) => Ok(Json(page)),
            other => Err(unexpected(&other)),
        }
    }

    /// One writ.
    async fn writ(&self, ctx: &Context<'_>, id: u64) -> Result<Option<Json<WritView>>> {
        found(match ask(ctx, Request::WritShow(id)).await {
            Ok(Response::Writ(writ)) => Ok(Json(*writ)),
            Ok(other) => Err(unexpected(&other)),
            Err(e) => Err(e),
        })
    }

    /// The policy in force, and its history.
    async fn policy(&self, ctx: &Context<'_>) -> Result<Json<PolicyView>> {
        match ask(ctx, Request::PolicyShow).await? {
            Response::Policy(policy) => Ok(Json(policy)),
            other => Err(unexpected(&other)),
        }
    }
}
