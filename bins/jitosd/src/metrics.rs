//! The daemon's metrics: what the kernel and the daemon count through the `metrics`
//! facade, recorded by one Prometheus recorder per process, and the gauges read off the
//! latest view when `/metrics` is scraped (docs/API.md, *Metrics*).

use std::sync::OnceLock;

use jitos_kernel::View;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds from asking for a worker process to its running (confined, unless the daemon
/// runs workers unconfined).
pub const SPAWN_SECONDS: &str = "jitos_worker_spawn_seconds";
/// Jobs a warm instance took (`hit`) or that started a new one (`miss`).
pub const WARM_POOL: &str = "jitos_warm_pool_total";
/// The scheduler's decisions, by kind (`dispatch`, `open_lane`, `collapse`, …).
pub const DECISIONS: &str = "jitos_scheduler_decisions_total";
/// Requests a worker's network jobs or fetches made that were refused, by where.
pub const EGRESS_REFUSED: &str = "jitos_egress_refused_total";

/// How often the recorder folds its histograms' samples into their buckets: between
/// scrapes they would otherwise pile up, one per commit.
pub const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Latency buckets, in seconds: from a fast fsync to a slow spawn.
const SECONDS_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Size buckets: records or commands in a group.
const SIZE_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// The process's recorder, installed the first time it is asked for. A process that has
/// another recorder (one embedding the daemon) gets a handle that records nothing.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_records".to_owned()), &SIZE_BUCKETS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_commands".to_owned()), &SIZE_BUCKETS)
            });
        let builder = match builder {
            Ok(builder) => builder,
            Err(e) => {
                tracing::warn!(error = %e, "metrics buckets refused; latencies as summaries");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only gauges");
        }
        describe();
        handle
    })
}

/// Folds the samples recorded since into the histograms, every [`UPKEEP_EVERY`], until
/// `stopping` turns true.
pub async fn upkeep(mut stopping: tokio::sync::watch::Receiver<bool>) {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => handle().run_upkeep(),
            changed = stopping.changed() => if changed.is_err() || *stopping.borrow() {
                return;
            },
        }
    }
}

fn describe() {
    use jitos_kernel::metric_names as kernel;
    metrics::describe_histogram!(
        kernel::COMMIT_SECONDS,
        metrics::Unit::Seconds,
        "Time of each group's one synced append (the fsync a commit waits for)."
    );
    metrics::describe_histogram!(kernel::GROUP_RECORDS, "Records per committed group.");
    metrics::describe_histogram!(
        kernel::GROUP_COMMANDS,
        "Commands per committed group: how many shared one fsync."
    );
    metrics::describe_counter!(kernel::RECORDS, "Records committed, by kind.");
    metrics::describe_histogram!(
        SPAWN_SECONDS,
        metrics::Unit::Seconds,
        "Time to start a worker process."
    );
    metrics::describe_counter!(WARM_POOL, "Jobs a warm instance took (hit) or not (miss).");
    metrics::describe_counter!(DECISIONS, "The scheduler's decisions, by kind.");
    metrics::describe_counter!(
        EGRESS_REFUSED,
        "Network requests of workers refused, by where."
    );
}

/// The Prometheus text of everything counted, with the gauges of `view`: what runs and
/// what waits now.
pub fn render(view: &View) -> String {
    let mut running = 0u64;
    let mut waiting = 0u64;
    let mut awaiting_approval = 0u64;
    for process in view.processes().all() {
        match process.status {
            jitos_sched::Status::Running => running += 1,
            jitos_sched::Status::Waiting { .. } => {
                waiting += 1;
                if view.approval_wait(process.id).is_some() {
                    awaiting_approval += 1;
                }
            }
            _ => {}
        }
    }
    let held_collapses = view
        .state()
        .holds
        .all()
        .filter(|hold| {
            matches!(
                crate::collapse::held_standing(view, hold.ruling.sws),
                Some(jitos_proto::HoldStanding::Waiting { .. })
            )
        })
        .count() as u64;
    let head = view.head().seq;
    let attempts = view.jobs().running().count() as u64;
    let mut text = handle().render();
    let gauges: [(&str, &str, u64); 6] = [
        (
            "jitos_head_seq",
            "The newest record's sequence number.",
            head,
        ),
        ("jitos_processes_running", "Processes running.", running),
        (
            "jitos_processes_waiting",
            "Processes waiting for a person.",
            waiting,
        ),
        (
            "jitos_approvals_waiting",
            "Processes and collapses waiting for approvals.",
            awaiting_approval + held_collapses,
        ),
        (
            "jitos_attempts_running",
            "Attempts dispatched and not ended.",
            attempts,
        ),
        ("jitos_up", "1 while jitosd serves.", 1),
    ];
    for (name, help, value) in gauges {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    }
    text
}
