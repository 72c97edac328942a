//! A `network` attempt's egress (`docs/SANDBOX.md`, *Network jobs*): a worker whose job's
//! effect class is `network` or above and that does not use `fetch` runs in a network
//! namespace whose only route is a proxy of the daemon, letting through what its process's
//! writ's egress names; each connection is recorded as `job.connect` before the attempt's
//! end.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    time::Duration,
};

use jitos_gov::{writ::Scope, Effect};
use jitos_kernel::{Command, ConnectEnd, ConnectRecord, KernelHandle};

use super::worker_actor;
use crate::egress::{AttemptEgress, ConnectionEnd, ConnectionReport, EgressAllow};

/// How long the proxy has, once the worker is gone, to report its connections.
const REPORTS_WAIT: Duration = Duration::from_secs(5);
/// The most connections one attempt's records keep: each is a synced record, and a worker
/// that connected without end would otherwise fill memory and the ledger. Past it the
/// attempt fails, saying how many went unrecorded.
pub(super) const CONNECTS_PER_ATTEMPT_MAX: usize = 1024;

/// An attempt's open egress and the reports its proxy sends.
pub(super) struct Networked {
    egress: AttemptEgress,
    reports: mpsc::Receiver<ConnectionReport>,
    /// Reports past [`CONNECTS_PER_ATTEMPT_MAX`], counted.
    dropped: Arc<AtomicUsize>,
}

/// Whether an attempt of `effect` on a worker that does or does not `fetch` reaches the
/// network through a proxy: a `fetch` worker asks the daemon instead.
pub(super) fn needs_proxy(effect: Option<Effect>, fetch: bool) -> bool {
    !fetch && effect.is_some_and(|effect| effect >= Effect::Network)
}

/// Opens attempt `attempt`'s egress: what its process's writ's `egress` allows, nothing
/// without a writ.
pub(super) fn open(
    kernel: &KernelHandle,
    runtime: &tokio::runtime::Handle,
    attempt: u64,
) -> Result<Networked, String> {
    let view = kernel.view();
    let state = view.state();
    let writ = state
        .jobs
        .attempt(attempt)
        .and_then(|a| a.dispatch.owner)
        .and_then(|owner| state.writs.of_process(owner.process));
    let allow = EgressAllow::from_writ(writ.map_or(&Scope::nothing(), |w| &w.writ.egress));
    drop(view);
    let (sender, reports) = mpsc::sync_channel(CONNECTS_PER_ATTEMPT_MAX);
    let sender = Mutex::new(sender);
    let dropped = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&dropped);
    let reporter = Arc::new(move |report: ConnectionReport| {
        // Never blocks the proxy: a report past the bound is counted, not kept.
        let sent = sender
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .try_send(report);
        if sent.is_err() {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    });
    let egress = AttemptEgress::open(runtime, allow, reporter)
        .map_err(|e| format!("cannot give the network job its proxy: {e}"))?;
    Ok(Networked {
        egress,
        reports,
        dropped,
    })
}

impl Networked {
    /// The egress, for the launch.
    pub(super) fn egress(&self) -> &AttemptEgress {
        &self.egress
    }

    /// Stops the proxy and records each connection it reported, by the worker, before the
    /// attempt's end is recorded. `Err` says what could not be recorded: the attempt then
    /// fails, so the ledger never reads as if that were all.
    pub(super) fn close(
        self,
        kernel: &KernelHandle,
        attempt: u64,
        worker: &str,
    ) -> Result<(), String> {
        let mut lost = Vec::new();
        if !self.egress.stop(REPORTS_WAIT) {
            lost.push(format!(
                "the proxy did not report every connection within {} s",
                REPORTS_WAIT.as_secs()
            ));
        }
        let mut unrecorded = 0usize;
        for report in self.reports.try_iter() {
            let record = record_of(attempt, report);
            if let Err(e) =
                kernel.execute_blocking(worker_actor(worker), Command::JobConnect(Box::new(record)))
            {
                tracing::error!(attempt, error = %e, "cannot record a network job's connection");
                unrecorded += 1;
            }
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            lost.push(format!(
                "{dropped} connections past the {CONNECTS_PER_ATTEMPT_MAX} one attempt may record"
            ));
        }
        if unrecorded > 0 {
            lost.push(format!(
                "{unrecorded} connections the kernel did not record"
            ));
        }
        match lost.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "not every connection of the job was recorded: {}",
                lost.join("; ")
            )),
        }
    }
}

fn record_of(attempt: u64, report: ConnectionReport) -> ConnectRecord {
    let (host, port) = report
        .destination
        .map_or((String::new(), 0), |d| (d.host, d.port));
    let cut =
        |text: String| jitos_kernel::bounded_text(&text, jitos_kernel::CONNECT_REASON_BYTES_MAX);
    ConnectRecord {
        attempt,
        host: jitos_kernel::bounded_text(&host, jitos_kernel::CONNECT_HOST_BYTES_MAX),
        port,
        method: jitos_kernel::bounded_text(
            &report.method.unwrap_or_default(),
            jitos_kernel::CONNECT_METHOD_BYTES_MAX,
        ),
        end: match report.end {
            ConnectionEnd::Relayed => ConnectEnd::Relayed,
            ConnectionEnd::Refused { reason } => ConnectEnd::Refused {
                reason: cut(reason),
            },
            ConnectionEnd::Failed { reason } => ConnectEnd::Failed {
                reason: cut(reason),
            },
        },
        bytes_up: report.bytes_up,
        bytes_down: report.bytes_down,
        duration_ms: report.duration_ms,
    }
}
