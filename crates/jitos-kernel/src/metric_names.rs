//! The names of the metrics the kernel counts (through the `metrics` facade; the daemon
//! installs the recorder that serves them as Prometheus text at `/metrics`).

/// Seconds each committed group's one synced append took (records, blobs and index):
/// what a commit waits for, most of it the fsync.
pub const COMMIT_SECONDS: &str = "jitos_commit_seconds";
/// Records per committed group.
pub const GROUP_RECORDS: &str = "jitos_commit_group_records";
/// Commands per committed group: how many waited on the writer for one fsync.
pub const GROUP_COMMANDS: &str = "jitos_commit_group_commands";
/// Records committed, by kind (`job.done`, `job.failed`, `process.decide`, …).
pub const RECORDS: &str = "jitos_records_total";
