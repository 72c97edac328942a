//! The operator's model table (`--models`): which URLs are model endpoints, what each
//! model's tokens cost, and reading a chat completion's usage to charge it.
//!
//! A fetch to a URL under a listed endpoint is a *model call*: it is metered (its tokens
//! and cost are recorded and charged to the writ's `tokens` and `cost_millicents`
//! counters), it may be made while either counter has something left, and it may `POST`
//! although the job's effect class stays in its workspace, since asking a model changes
//! nothing in the world but what the budget bounds.
//!
//! ```toml
//! [[endpoint]]
//! url = "http://127.0.0.1:8080/v1"
//!
//! [[price]]
//! model = "qwen2.5-coder"           # or "*" for any model not listed
//! prompt_millicents_per_mtok = 15000
//! completion_millicents_per_mtok = 60000
//! ```

use std::path::Path;

use jitos_kernel::ModelUsage;
use serde::Deserialize;

/// The most bytes a model table may hold.
const MODELS_FILE_BYTES_MAX: u64 = 256 * 1024;
/// Bytes per token the daemon assumes when a response reports no usage.
const BYTES_PER_TOKEN_ESTIMATE: u64 = 4;

/// The model table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    /// Base URLs of model endpoints.
    #[serde(default)]
    endpoint: Vec<Endpoint>,
    /// Prices by model.
    #[serde(default)]
    price: Vec<Price>,
}

/// A model endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoint {
    /// Its base URL: a call whose URL starts with it is a model call.
    url: String,
}

/// The price of one model's tokens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Price {
    /// The model's name as requests give it, or `*`.
    model: String,
    /// Thousandths of a cent per million prompt tokens.
    prompt_millicents_per_mtok: u64,
    /// Thousandths of a cent per million completion tokens.
    completion_millicents_per_mtok: u64,
}

/// Why the model table cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// The file cannot be read.
    #[error("cannot read the model table {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than a model table may be.
    #[error("the model table {path} is over {MODELS_FILE_BYTES_MAX} bytes")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// The file is not a model table.
    #[error("the model table {path} is not valid: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser found, with its line and column.
        message: String,
    },
}

impl Models {
    /// Reads the table at `path`.
    pub fn load(path: &Path) -> Result<Models, ModelsError> {
        let shown = path.display().to_string();
        let read = |source| ModelsError::Read {
            path: shown.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MODELS_FILE_BYTES_MAX {
            return Err(ModelsError::TooLarge { path: shown });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Models::parse(&text).map_err(|message| ModelsError::Parse {
            path: shown,
            message,
        })
    }

    /// Reads a table from its text.
    pub fn parse(text: &str) -> Result<Models, String> {
        let mut models: Models = toml::from_str(text).map_err(|e| e.to_string())?;
        for endpoint in &mut models.endpoint {
            let url = reqwest::Url::parse(&endpoint.url)
                .map_err(|e| format!("endpoint {:?} is not a URL: {e}", endpoint.url))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("endpoint {:?} is not http or https", endpoint.url));
            }
            // Compared with the normalised URL of each request: in the same spelling.
            endpoint.url = url.as_str().trim_end_matches('/').to_owned();
        }
        Ok(models)
    }

    /// A table of one endpoint and no prices (calls are metered in tokens, at no cost):
    /// what `jitos demo --model` runs with.
    pub fn of_endpoint(url: &str) -> Models {
        Models {
            endpoint: vec![Endpoint {
                url: url.to_owned(),
            }],
            price: Vec::new(),
        }
    }

    /// Whether `url` is under a model endpoint.
    pub fn is_model_call(&self, url: &str) -> bool {
        self.endpoint.iter().any(|endpoint| {
            let base = endpoint.url.trim_end_matches('/');
            url.strip_prefix(base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// What a model call used and costs: the usage the response reports (the last
    /// `usage` of a stream), or, when it reports none, an estimate from the bytes each way
    /// for a `success`ful response and nothing for another (a 429 or a 500 did no work).
    pub fn meter(&self, request: &[u8], response: &[u8], success: bool) -> ModelUsage {
        let model = serde_json::from_slice::<serde_json::Value>(request)
            .ok()
            .and_then(|body| body.get("model")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        let (prompt_tokens, completion_tokens, estimated) = match reported_usage(response) {
            Some((prompt, completion)) => (prompt, completion, false),
            None if !success => (0, 0, false),
            None => (
                (request.len() as u64).div_ceil(BYTES_PER_TOKEN_ESTIMATE),
                (response.len() as u64).div_ceil(BYTES_PER_TOKEN_ESTIMATE),
                true,
            ),
        };
        let price = self
            .price
            .iter()
            .find(|p| p.model == model)
            .or_else(|| self.price.iter().find(|p| p.model == "*"));
        let cost_millicents = price.map_or(0, |price| {
            let of = |tokens: u64, per_mtok: u64| u128::from(tokens) * u128::from(per_mtok);
            let cost = (of(prompt_tokens, price.prompt_millicents_per_mtok)
                + of(completion_tokens, price.completion_millicents_per_mtok))
            .div_ceil(1_000_000);
            u64::try_from(cost).unwrap_or(u64::MAX)
        });
        ModelUsage {
            model,
            prompt_tokens,
            completion_tokens,
            cost_millicents,
            estimated,
        }
    }
}

/// The prompt and completion tokens a chat completion reports: its `usage`, or in a
/// stream of server-sent events the last event's that has one.
fn reported_usage(response: &[u8]) -> Option<(u64, u64)> {
    let of = |value: &serde_json::Value| {
        let usage = value.get("usage")?;
        Some((
            usage.get("prompt_tokens")?.as_u64()?,
            usage.get("completion_tokens")?.as_u64()?,
        ))
    };
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(response) {
        return of(&value);
    }
    let text = String::from_utf8_lossy(response);
    text.lines()
        .rev()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<serde_json::Value>(data.trim()).ok())
        .find_map(|event| of(&event))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn table() -> Models {
        Models::parse(
            r#"
            [[endpoint]]
            url = "http://127.0.0.1:8080/v1"
            [[price]]
            model = "small"
            prompt_millicents_per_mtok = 1000000
            completion_millicents_per_mtok = 2000000
            [[price]]
            model = "*"
            prompt_millicents_per_mtok = 10
            completion_millicents_per_mtok = 10
            "#,
        )
        .unwrap()
    }

    // Goal: only URLs under an endpoint are model calls; a sibling path is not.
    #[test]
    fn model_calls_are_urls_under_an_endpoint() {
        let models = table();
        assert!(models.is_model_call("http://127.0.0.1:8080/v1/chat/completions"));
        assert!(models.is_model_call("http://127.0.0.1:8080/v1"));
        assert!(!models.is_model_call("http://127.0.0.1:8080/v10/chat"));
        assert!(!models.is_model_call("http://127.0.0.1:8081/v1/chat/completions"));
        let spelled = Models::parse("[[endpoint]]\nurl = \"HTTP://Localhost:80/v1/\"").unwrap();
        assert!(spelled.is_model_call("http://localhost/v1/chat/completions"));
        assert!(Models::parse("[[endpoint]]\nurl = \"ftp://x\"").is_err());
        assert!(Models::parse("[[endpoint]]\nurl = \"http://x\"\nextra = 1").is_err());
    }

    // Goal: usage comes from the response (plain or the last streamed event), cost from
    // the price table rounded up, and an estimate from bytes when none is reported.
    #[test]
    fn usage_is_read_priced_and_estimated() {
        let models = table();
        let request = br#"{"model":"small","messages":[]}"#;
        let plain = br#"{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5}}"#;
        let usage = models.meter(request, plain, true);
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (10, 5));
        assert_eq!(usage.cost_millicents, 10 + 10);
        let rounded = models.meter(br#"{"model":"other"}"#, plain, true);
        assert_eq!(
            rounded.cost_millicents, 1,
            "150 of a millicent rounds up once, to 1"
        );
        assert!(!usage.estimated);

        let stream = b"data: {\"choices\":[]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
        let usage = models.meter(br#"{"model":"other"}"#, stream, true);
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (7, 3));
        assert_eq!(
            usage.cost_millicents, 1,
            "10 per million tokens rounds up to 1"
        );

        let usage = models.meter(b"12345678", b"not json at all", true);
        assert!(usage.estimated);
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (2, 4));
        let refused = models.meter(b"12345678", b"{\"error\":\"slow down\"}", false);
        assert_eq!((refused.tokens(), refused.cost_millicents), (0, 0));
        assert!(!refused.estimated);
    }
}
