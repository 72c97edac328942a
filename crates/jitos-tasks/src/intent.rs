//! `Intent`: what should become true — a goal task of the library with its parameters,
//! the workers and paths its jobs may use, and its limits — read from a TOML file.
//!
//! ```toml
//! goal = "make_tests_pass"
//! [params]
//! test = "sh run_tests.sh"
//! [allow]
//! workers = ["shell"]
//! paths = ["src", "tests"]
//! [limits]
//! max_jobs = 32
//! wall_secs = 300
//! parallel = 4
//! ```

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::{
    error::{line_column, SourceError},
    library::{check_name, check_source_len, read_source, Origin},
    limits::{JOBS_PER_PLAN_MAX, PARAMS_MAX, VALUE_BYTES_MAX},
};

/// Jobs an intent may run when it sets no limit.
pub const INTENT_JOBS_DEFAULT: usize = 64;
/// Wall-clock seconds an intent may take when it sets no limit: one hour.
pub const INTENT_WALL_SECS_DEFAULT: u64 = 3600;
/// Jobs an intent may run at once when it sets no limit.
pub const INTENT_PARALLEL_DEFAULT: usize = 8;

/// A checked intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The task that should become done.
    pub goal: String,
    /// Its parameters.
    pub params: BTreeMap<String, String>,
    /// Workers its jobs may run.
    pub workers: Vec<String>,
    /// Tree paths its jobs may touch; empty for the whole tree.
    pub paths: Vec<String>,
    /// Jobs it may run in all, retries included.
    pub max_jobs: usize,
    /// Wall-clock seconds it may take.
    pub wall_secs: u64,
    /// Jobs it may run at once.
    pub parallel: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentFile {
    goal: Spanned<String>,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, Spanned<String>>,
    allow: AllowFile,
    #[serde(default)]
    limits: LimitsFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    workers: Vec<Spanned<String>>,
    #[serde(default)]
    paths: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_jobs: Option<Spanned<usize>>,
    wall_secs: Option<Spanned<u64>>,
    parallel: Option<Spanned<usize>>,
}

impl Intent {
    /// Reads and checks the intent in `path`.
    pub fn load(path: &Path) -> Result<Intent, SourceError> {
        Intent::parse(&read_source(path)?, path)
    }

    /// Parses and checks intent text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Intent, SourceError> {
        check_source_len(text, path)?;
        let at = |offset: usize| Origin {
            path: PathBuf::from(path),
            at: line_column(text, offset),
        };
        let file: IntentFile = toml::from_str(text).map_err(|e| SourceError {
            path: path.to_owned(),
            at: e.span().map(|span| line_column(text, span.start)),
            message: e.message().to_owned(),
        })?;
        check_name(&at(file.goal.span().start), "goal", file.goal.get_ref())?;
        if file.params.len() > PARAMS_MAX {
            return Err(
                at(file.goal.span().start).error(format!("more than {PARAMS_MAX} parameters"))
            );
        }
        let mut params = BTreeMap::new();
        for (name, value) in file.params {
            check_name(&at(name.span().start), "parameter", name.get_ref())?;
            if value.get_ref().len() > VALUE_BYTES_MAX {
                return Err(at(value.span().start).error(format!(
                    "the value of {} is longer than {VALUE_BYTES_MAX} bytes",
                    name.get_ref()
                )));
            }
            params.insert(name.into_inner(), value.into_inner());
        }
        let mut workers = Vec::new();
        for worker in file.allow.workers {
            check_name(&at(worker.span().start), "worker", worker.get_ref())?;
            workers.push(worker.into_inner());
        }
        let max_jobs = match file.limits.max_jobs {
            Some(max) if *max.get_ref() == 0 || *max.get_ref() > JOBS_PER_PLAN_MAX => {
                return Err(at(max.span().start)
                    .error(format!("max_jobs must be 1 to {JOBS_PER_PLAN_MAX}")))
            }
            Some(max) => max.into_inner(),
            None => INTENT_JOBS_DEFAULT,
        };
        let wall_secs = match file.limits.wall_secs {
            Some(secs) if *secs.get_ref() == 0 => {
                return Err(at(secs.span().start).error("wall_secs must be at least 1"))
            }
            Some(secs) => secs.into_inner(),
            None => INTENT_WALL_SECS_DEFAULT,
        };
        let parallel = match file.limits.parallel {
            Some(n) if *n.get_ref() == 0 => {
                return Err(at(n.span().start).error("parallel must be at least 1"))
            }
            Some(n) => n.into_inner(),
            None => INTENT_PARALLEL_DEFAULT,
        };
        Ok(Intent {
            goal: file.goal.into_inner(),
            params,
            workers,
            paths: file.allow.paths,
            max_jobs,
            wall_secs,
            parallel,
        })
    }
}
