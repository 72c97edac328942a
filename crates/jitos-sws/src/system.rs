//! System commits: the pool logs what each change to the system graph overwrote, so
//! open workspaces keep reading their base and their collapses are checked against it.

use jitos_warp::{Applied, Graph, Rewrite};

use crate::{capture::Capture, Pool, SwsError};

/// A system commit between `Pool::prepare_system_commit` and
/// `Pool::finish_system_commit`: the values it can overwrite, captured before it runs.
#[derive(Debug, Clone)]
pub struct SystemCommit {
    seq: u64,
    /// `None` when no workspace reads the system, the common case: nothing to keep.
    capture: Option<Capture>,
}

impl Pool {
    /// Captures what `rewrites` can overwrite in `before`, the system graph just before
    /// the kernel applies them at `seq`. O(1) when no workspace reads the system, else
    /// O(size of the rewrites). Make no other pool call before `finish_system_commit`.
    pub fn prepare_system_commit(
        &self,
        before: &Graph,
        rewrites: &[Rewrite],
        seq: u64,
    ) -> Result<SystemCommit, SwsError> {
        if seq < self.seq_last {
            return Err(SwsError::SeqOutOfOrder {
                seq,
                last: self.seq_last,
            });
        }
        Ok(SystemCommit {
            seq,
            capture: self
                .system_log
                .has_readers()
                .then(|| Capture::new(before, rewrites)),
        })
    }

    /// Logs what the prepared commit changed, read off `after`, the system graph once
    /// every rewrite of it applied. Call it only if they all applied.
    pub fn finish_system_commit(&mut self, commit: SystemCommit, after: &Graph) {
        let changes = commit
            .capture
            .map(|capture| capture.changes(after))
            .unwrap_or_default();
        std::sync::Arc::make_mut(&mut self.system_log).record(commit.seq, &changes);
        self.seq_last = self.seq_last.max(commit.seq);
    }

    /// Applies `rewrites` to the system graph in order, all or nothing, and logs them at
    /// `seq`: `prepare_system_commit`, `Graph::apply` each, `finish_system_commit`.
    pub fn commit_system(
        &mut self,
        system: &mut Graph,
        rewrites: &[Rewrite],
        seq: u64,
    ) -> Result<Vec<Applied>, SwsError> {
        let commit = self.prepare_system_commit(system, rewrites, seq)?;
        let mut applied: Vec<Applied> = Vec::with_capacity(rewrites.len());
        for rewrite in rewrites {
            match system.apply(rewrite) {
                Ok(done) => applied.push(done),
                Err(error) => {
                    // Newest first, as `undo` requires.
                    while let Some(done) = applied.pop() {
                        system.undo(done);
                    }
                    return Err(error.into());
                }
            }
        }
        self.finish_system_commit(commit, system);
        Ok(applied)
    }
}
