//! Commands the writer adds to a group on its own, after the ones asked of it: each is
//! decided against the state the group leaves so far, so a step's end, the decision it
//! makes due and the dispatch that decision starts share one synced write.

use crate::{KernelError, Outcome, Request, State};

/// Most commands a follow-on adds to one group; if more are due, the writer runs another
/// group for them at once.
pub const FOLLOW_ONS_PER_GROUP_MAX: usize = 256;

/// What the writer asks, after every group's commands, for what is due next.
///
/// `next` must decide from `state` and `now_ms` alone (and the follow-on's fixed
/// configuration): it runs on the writer, whose every moment is the whole system's.
pub trait FollowOn: Send {
    /// The next command due in `state` at `now_ms`, or `None` when nothing is.
    fn next(&mut self, state: &State, now_ms: u64) -> Option<Request>;

    /// What became of the commands `next` gave, in the order given, once their group is
    /// durable (or why one was refused; the writer asks nothing more of a group after a
    /// refusal).
    fn settled(&mut self, outcome: Result<Outcome, KernelError>);
}
