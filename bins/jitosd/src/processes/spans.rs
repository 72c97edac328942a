//! The span of each process the scheduler decides for: the parent of its attempts' spans
//! and of the log lines of its decisions, so a trace (`jitosd --otlp`) holds a process
//! and its jobs. It opens at the first decision this daemon makes for the process and
//! ends when the process does, or when the daemon stops: a process that outlives a
//! daemon has a span under each daemon it ran under.

use std::collections::HashMap;

use jitos_sched::Processes;
use tracing::Span;

/// The open spans, by process.
#[derive(Default)]
pub(crate) struct ProcessSpans {
    open: HashMap<u64, Span>,
}

impl ProcessSpans {
    /// The span of `process`, opened now if it has none.
    pub(crate) fn of(&mut self, process: u64) -> &Span {
        self.open
            .entry(process)
            // A root: the decider runs on the kernel's writer, within no request.
            .or_insert_with(|| tracing::info_span!(parent: None, "process", process))
    }

    /// Ends the spans of the processes that ended: those `live` no longer holds, as the
    /// state keeps only live processes. An attempt still running keeps its process's
    /// span open until it ends.
    pub(crate) fn end_ended(&mut self, live: &Processes) {
        self.open.retain(|process, _| live.get(*process).is_some());
    }
}
