//! Named limits on libraries, intents and plans, checked before anything grows past them.

/// Bytes in one library or intent file.
pub const SOURCE_BYTES_MAX: usize = 256 * 1024;
/// Tasks in a library (all files together).
pub const TASKS_MAX: usize = 1024;
/// Methods of one compound task.
pub const METHODS_PER_TASK_MAX: usize = 32;
/// Steps of one method.
pub const STEPS_PER_METHOD_MAX: usize = 64;
/// Preconditions of one method.
pub const CONDITIONS_PER_METHOD_MAX: usize = 32;
/// Nesting of compound tasks, from the goal down to a primitive one.
pub const DEPTH_MAX: usize = 16;
/// Plan candidates (SLAPs) the planner returns for one intent.
pub const CANDIDATES_MAX: usize = 8;
/// Jobs in one compiled plan.
pub const JOBS_PER_PLAN_MAX: usize = 1024;
/// Primitive steps the planner decomposes for one intent, over every candidate: what
/// bounds its time and memory, since each step of a method may expand a whole subtree.
pub const PLAN_STEPS_MAX: usize = CANDIDATES_MAX * JOBS_PER_PLAN_MAX;
/// Bytes in a name (task, method, step, parameter).
pub const NAME_BYTES_MAX: usize = 64;
/// Parameters of one task or intent.
pub const PARAMS_MAX: usize = 64;
/// Bytes in a parameter value after substitution.
pub const VALUE_BYTES_MAX: usize = 4096;
/// Rounds a step's `feedback_from` may ask for: times a failed gate's output is fed back
/// to it before the gate's failure stands.
pub const FEEDBACK_ROUNDS_MAX: u32 = 8;
/// Rounds of a `feedback_from` that does not say.
pub const FEEDBACK_ROUNDS_DEFAULT: u32 = 2;
/// Retries a primitive task may ask for.
pub const RETRIES_MAX: u32 = 16;
/// Longest timeout a primitive task may set: one day.
pub const TIMEOUT_SECS_MAX: u64 = 24 * 60 * 60;
