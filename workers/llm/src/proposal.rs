//! The proposal: one tree rewrite from the workspace as found to the workspace with the
//! model's writes, a `files/<path>` artifact for each new content (the shell worker's
//! contract, so the daemon has every blob the rewrite names), the bounded `transcript`
//! and the `summary`.

use std::collections::BTreeSet;

use jitos_tree::{sync_rewrite, Entry};
use jitos_worker::{
    limits::{ARTIFACTS_PER_PROPOSAL_MAX, ARTIFACT_NAME_BYTES_MAX},
    Artifact, Outcome,
};
use serde_json::Value;

use crate::tools::Workspace;

/// Largest transcript artifact, in bytes.
pub const TRANSCRIPT_BYTES_MAX: usize = 256 * 1024;
/// Largest summary artifact, in bytes.
pub const SUMMARY_BYTES_MAX: usize = 16 * 1024;
/// Prefix of the artifact holding a new file's content; the rest is its tree path.
pub const FILE_ARTIFACT_PREFIX: &str = "files/";
/// Longest text kept of one string in a transcript that had to be shrunk.
const TRANSCRIPT_STRING_CHARS_MAX: usize = 2048;

/// The job's outcome: the rewrite, the new contents, the transcript and the summary.
pub fn build(ws: &Workspace, summary: &str, transcript: Value) -> Result<Outcome, String> {
    let rewrites = if ws.after == ws.before {
        Vec::new()
    } else {
        vec![sync_rewrite(&ws.before, &ws.after)
            .map_err(|e| format!("cannot propose the model's changes: {e}"))?]
    };
    let known = &ws.before.blobs();
    let mut seen = BTreeSet::new();
    let mut artifacts = Vec::new();
    // In path order, the first path holding a content names its artifact, as the shell
    // worker does; a content the workspace already held travels no second time.
    for (path, bytes) in &ws.written {
        let Some(Entry::File { blob, .. }) = ws.after.entries.get(path) else {
            continue;
        };
        if known.contains(blob) || !seen.insert(*blob) {
            continue;
        }
        let name = format!("{FILE_ARTIFACT_PREFIX}{}", path.as_str());
        if name.len() > ARTIFACT_NAME_BYTES_MAX {
            return Err(format!(
                "the new file {path} has a path too long to name its artifact (at most {} bytes)",
                ARTIFACT_NAME_BYTES_MAX - FILE_ARTIFACT_PREFIX.len()
            ));
        }
        artifacts.push(Artifact {
            name,
            bytes: bytes.clone(),
        });
    }
    artifacts.push(Artifact {
        name: "transcript".to_owned(),
        bytes: bounded_transcript(transcript),
    });
    artifacts.push(Artifact {
        name: "summary".to_owned(),
        bytes: jitos_worker::truncate(summary, SUMMARY_BYTES_MAX).into_bytes(),
    });
    if artifacts.len() > ARTIFACTS_PER_PROPOSAL_MAX {
        return Err(format!(
            "the model wrote {} files with new content; a proposal carries at most {}",
            artifacts.len() - 2,
            ARTIFACTS_PER_PROPOSAL_MAX - 2
        ));
    }
    Ok(Outcome {
        rewrites,
        artifacts,
        exit_status: 0,
    })
}

/// The transcript as JSON of at most [`TRANSCRIPT_BYTES_MAX`] bytes: whole when it fits;
/// else with every long string cut; else, as well, with the middle messages left out
/// (the first two, the task, and the last ones are what a reader needs).
pub fn bounded_transcript(mut transcript: Value) -> Vec<u8> {
    let encode = |v: &Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    let whole = encode(&transcript);
    if whole.len() <= TRANSCRIPT_BYTES_MAX {
        return whole;
    }
    shorten_strings(&mut transcript);
    transcript["cut"] = Value::String(format!(
        "strings longer than {TRANSCRIPT_STRING_CHARS_MAX} characters were cut"
    ));
    loop {
        let bytes = encode(&transcript);
        if bytes.len() <= TRANSCRIPT_BYTES_MAX {
            return bytes;
        }
        let Some(messages) = transcript.get_mut("messages").and_then(Value::as_array_mut) else {
            break;
        };
        if messages.len() <= 3 {
            break;
        }
        messages.remove(2);
        transcript["cut"] = Value::String(
            "long strings were cut and messages after the first two left out".to_owned(),
        );
    }
    let note = serde_json::json!({ "cut": "the transcript does not fit its bound" });
    encode(&note)
}

fn shorten_strings(value: &mut Value) {
    match value {
        Value::String(s) if s.chars().count() > TRANSCRIPT_STRING_CHARS_MAX => {
            let kept: String = s.chars().take(TRANSCRIPT_STRING_CHARS_MAX).collect();
            *s = format!("{kept}[… cut]");
        }
        Value::Array(items) => items.iter_mut().for_each(shorten_strings),
        Value::Object(map) => map.values_mut().for_each(shorten_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tools::ToolOutcome;
    use serde_json::json;

    // Goal: the proposal holds one rewrite and a `files/<path>` artifact per new content
    // (one per content, none for a content the workspace held), plus transcript and
    // summary; a job that wrote nothing proposes no rewrite.
    #[test]
    fn the_proposal_follows_the_shell_workers_contract() {
        let mut ws = crate::tools::tests::workspace(&[("a.txt", "same"), ("b.txt", "b")], &[]);
        let untouched = build(&ws, "nothing", json!({})).unwrap();
        assert!(untouched.rewrites.is_empty());
        assert_eq!(untouched.artifacts.len(), 2);
        for (path, content) in [("c.txt", "new"), ("d.txt", "new"), ("b.txt", "same")] {
            let outcome = ws.run(
                "write_file",
                &json!({"path": path, "content": content}).to_string(),
            );
            assert!(matches!(outcome, ToolOutcome::Reply(t) if t.starts_with("wrote")));
        }
        let outcome = build(&ws, "done", json!({"messages": []})).unwrap();
        assert_eq!(outcome.rewrites.len(), 1);
        let names: Vec<&str> = outcome.artifacts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["files/c.txt", "transcript", "summary"]);
        assert_eq!(outcome.artifacts[0].bytes, b"new");
        assert_eq!(outcome.artifacts[2].bytes, b"done");
        assert_eq!(outcome.exit_status, 0);
    }

    // Goal: a transcript too large is cut to its bound and still parses as JSON.
    #[test]
    fn the_transcript_is_bounded() {
        let messages: Vec<Value> = (0..400)
            .map(|i| json!({"role": "tool", "content": format!("{i}{}", "x".repeat(5000))}))
            .collect();
        let bytes = bounded_transcript(json!({"model": "m", "messages": messages}));
        assert!(bytes.len() <= TRANSCRIPT_BYTES_MAX, "{}", bytes.len());
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(back["cut"].is_string());
        assert_eq!(back["model"], json!("m"));
        let small = bounded_transcript(json!({"messages": [1]}));
        let back: Value = serde_json::from_slice(&small).unwrap();
        assert!(back.get("cut").is_none());
    }
}
