//! Feedback: the input of a job that a later gate's failure runs again (`feedback_from` in
//! a method library) names the gate's attempt; the worker is given that attempt's output.
//!
//! The dispatch records `{"feedback": {"attempt": N, "round": R}}` and no copy of the
//! output, which the ledger already holds (the attempt's `stdout` and `stderr` artifacts,
//! or its failure's detail). Before the worker starts, [`expand`] adds `"output"`: the end
//! of each, at most [`FEEDBACK_OUTPUT_BYTES_MAX`] of them, so a long log cannot crowd out
//! the rest of a model's prompt.

use jitos_kernel::{AttemptStatus, KernelHandle};
use serde_json::Value;

/// The most bytes of each of the gate's `stdout` and `stderr` handed on.
pub const FEEDBACK_OUTPUT_BYTES_MAX: usize = 16 * 1024;

/// `input` with its feedback's output filled in; as it is when it names none, or when the
/// gate's attempt cannot be read (then the output says why, since the worker should still
/// run its round).
pub(super) fn expand(kernel: &KernelHandle, input: &[u8]) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(input) else {
        return input.to_vec();
    };
    let Some(attempt) = value
        .get("feedback")
        .and_then(|f| f.get("attempt"))
        .and_then(Value::as_u64)
    else {
        return input.to_vec();
    };
    let output = output_of(kernel, attempt).unwrap_or_else(|why| why);
    if let Some(feedback) = value.get_mut("feedback").and_then(Value::as_object_mut) {
        feedback.insert("output".to_owned(), Value::String(output));
    }
    serde_json::to_vec(&value).unwrap_or_else(|_| input.to_vec())
}

/// What attempt `attempt` said: its `stdout` and `stderr` artifacts (their ends), or why
/// it failed.
fn output_of(kernel: &KernelHandle, attempt: u64) -> Result<String, String> {
    let view = kernel.view();
    let found = view
        .attempt(attempt)
        .map_err(|e| format!("(the output of attempt {attempt} cannot be read: {e})"))?
        .ok_or_else(|| format!("(attempt {attempt} is not in this store)"))?;
    let results = match found.status {
        AttemptStatus::Done { results, .. } => results,
        AttemptStatus::Failed { detail, .. } => return Ok(detail),
        AttemptStatus::Refused { reason, .. } => return Ok(reason),
        AttemptStatus::Running => return Err(format!("(attempt {attempt} is still running)")),
    };
    let mut text = format!("exit status {}\n", results.exit_status);
    for name in ["stdout", "stderr"] {
        let Some((_, blob)) = results.artifacts.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let bytes = view
            .get_blobs(&[*blob])
            .map_err(|e| format!("(the {name} of attempt {attempt} cannot be read: {e})"))?
            .pop()
            .unwrap_or_default();
        let start = bytes.len().saturating_sub(FEEDBACK_OUTPUT_BYTES_MAX);
        text.push_str(&format!(
            "--- {name}{} ---\n{}\n",
            if start > 0 { " (its end)" } else { "" },
            String::from_utf8_lossy(&bytes[start..])
        ));
    }
    Ok(text)
}
