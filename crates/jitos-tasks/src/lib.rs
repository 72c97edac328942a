//! Intents, plans and the method library: a person or agent declares
//! *what* should become true (an [`Intent`]); the [`Library`] of HTN methods, kept as
//! data, says *how* tasks decompose; [`plan`] decomposes the intent into plan candidates
//! ([`Slap`]s), each compiled to a [`Dag`] of primitive jobs.
//!
//! Architecture Invariant: this crate is pure. It reads files only in the loaders
//! (`Library::load`, `Intent::load`), reads the graph only through the view it is given,
//! and keeps every collection ordered, so the same library, state and intent always give
//! the same plans, byte for byte.

mod dag;
mod error;
mod explain;
mod intent;
mod library;
mod library_file;
pub mod limits;
mod model;
mod plan;
mod template;

pub use dag::{Dag, Feedback, JobKind, JobNode, Lane, Purpose};
pub use error::{line_column, PlanError, SourceError};
pub use explain::explain;
pub use intent::{Intent, INTENT_JOBS_DEFAULT, INTENT_PARALLEL_DEFAULT, INTENT_WALL_SECS_DEFAULT};
pub use library::{read_source, Library};
pub use model::{
    Ask, Body, Condition, Effect, FeedbackFrom, Method, OnFailure, Run, Step, Task, MATERIALIZE,
};
pub use plan::{plan, DecomposedStep, Decomposition, Node, Slap, StateView};
