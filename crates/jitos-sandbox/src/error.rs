//! The error type of sandbox preparation.

use thiserror::Error;

/// Why a confined command could not be prepared.
#[derive(Debug, Error)]
pub enum SandboxError {
    /// The kernel lacks a confinement feature this crate requires.
    #[error(
        "{feature} is not available on this kernel ({detail}); JITOS runs workers only \
         when confinement is enforced: use Linux ≥ 6.7 with Landlock enabled (lsm=landlock) \
         and seccomp"
    )]
    Unsupported {
        /// The missing feature, such as "Landlock ABI 4".
        feature: &'static str,
        /// What was observed.
        detail: String,
    },
    /// A path named in the confinement could not be opened for a Landlock rule.
    #[error("cannot grant access to {path}: {error}; check that the path exists")]
    Path {
        /// The path that could not be opened.
        path: std::path::PathBuf,
        /// The underlying error (in the message, so not also a source).
        error: std::io::Error,
    },
    /// The program was given as a relative path, which would be looked up at exec time.
    #[error("the program {0} must be an absolute path, so that exactly that file is granted")]
    RelativeProgram(std::path::PathBuf),
    /// The Landlock ruleset could not be built.
    #[error("building the Landlock ruleset failed: {0}")]
    Landlock(#[from] landlock::RulesetError),
    /// The seccomp filter could not be compiled.
    #[error("compiling the seccomp filter failed: {0}")]
    Seccomp(#[from] seccompiler::BackendError),
    /// The program could not be started.
    #[error("cannot start {program}: {stage} failed: {error}")]
    Spawn {
        /// The program.
        program: std::path::PathBuf,
        /// The step that failed, e.g. "taking its uid".
        stage: &'static str,
        /// The error (in the message, so not also a source).
        error: std::io::Error,
    },
    /// A root caller asked for a confined program without an unprivileged uid.
    #[error(
        "a confined program never runs as root: give it an unprivileged uid (jitosd and \
         `jitos sandbox exec` lend one from their uid pool; `--uid` names one)"
    )]
    Root,
    /// A caller that is not root asked to run a program as another uid.
    #[error(
        "only root can run a confined program as another uid: uid {caller} asked for uid {asked}"
    )]
    OtherUid {
        /// The uid asked for.
        asked: u32,
        /// The caller's uid.
        caller: u32,
    },
    /// This architecture has no seccomp profile yet.
    #[error("no seccomp profile for this architecture; JITOS confinement supports x86_64 only")]
    UnsupportedArch,
}
