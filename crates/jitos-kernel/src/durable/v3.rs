//! Version 3 payloads: `process.submit@3`, a version 2 submit and the environment the
//! process runs in, as JSON text with its digest. The environment may gain fields, which
//! an old record reads back as their defaults; a field's existing shape never changes
//! (the golden test pins it): that is a new version.

use serde::{Deserialize, Serialize};

use super::v2;
use crate::durable::PayloadError;
use crate::process_record::ProcessRecord as LiveRecord;
use crate::run_environment::RunEnvironment;

/// The payload of `process.submit@3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProcessSubmit {
    /// The submit as version 2 records it.
    submit: v2::ProcessSubmit,
    /// The environment (`RunEnvironment`) as compact JSON, as serde writes it.
    pub(super) environment_json: String,
    /// `blake3::hash` of `environment_json`.
    pub(super) environment_digest: [u8; 32],
}

impl ProcessSubmit {
    /// The payload of a submit record and the environment it is recorded with.
    pub(crate) fn of(
        live: &LiveRecord,
        environment: &RunEnvironment,
    ) -> Result<ProcessSubmit, PayloadError> {
        let environment_json = serde_json::to_string(environment)
            .map_err(|e| PayloadError::invalid("environment")(e.to_string()))?;
        Ok(ProcessSubmit {
            submit: v2::ProcessSubmit::of(live)?,
            environment_digest: *blake3::hash(environment_json.as_bytes()).as_bytes(),
            environment_json,
        })
    }

    /// The in-memory record: the environment's text checked against its digest and
    /// parsed (serde_json's nesting limit bounds its depth; a field added since reads back
    /// as its default).
    pub(crate) fn thaw(self) -> Result<LiveRecord, PayloadError> {
        let invalid = PayloadError::invalid("environment");
        // Its length is bounded by the payload's, which the codec checked.
        if blake3::hash(self.environment_json.as_bytes()).as_bytes() != &self.environment_digest {
            return Err(invalid(
                "its text does not hash to the digest recorded with it".to_owned(),
            ));
        }
        let environment: RunEnvironment =
            serde_json::from_str(&self.environment_json).map_err(|e| invalid(e.to_string()))?;
        Ok(LiveRecord {
            environment: Some(Box::new(environment)),
            ..self.submit.thaw()?
        })
    }
}
