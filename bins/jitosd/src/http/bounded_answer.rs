//! A GraphQL answer as an HTTP response, bounded in bytes as the socket's frames are: a
//! page of big records can be larger than any client should be sent at once, so an answer
//! over the bound is replaced by an error that says how to ask for less.

use async_graphql::{ErrorExtensionValues, ServerError};
use axum::{
    body::Body,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

/// The most bytes an answer may have: a frame's bound on the socket.
pub const ANSWER_BYTES_MAX: usize = jitos_proto::FRAME_BYTES_MAX as usize;

/// `answer` as the response to a query, or the error that replaces it when it is over
/// `max` bytes.
pub fn bounded(mut answer: async_graphql::Response, max: usize) -> Response {
    // Not part of the JSON body, so taken rather than copied.
    let headers = std::mem::take(&mut answer.http_headers);
    let body = match serde_json::to_vec(&answer) {
        Ok(body) if body.len() <= max => body,
        Ok(body) => {
            let mut error = ServerError::new(
                format!(
                    "the answer is {} bytes, over the API's limit of {max}; ask for fewer \
                     items (`first`) or fewer fields",
                    body.len()
                ),
                None,
            );
            // The socket's code for the same refusal, so a script branches on one name.
            let mut code = ErrorExtensionValues::default();
            code.set("code", "TooLarge");
            error.extensions = Some(code);
            let refusal = async_graphql::Response::from_errors(vec![error]);
            match serde_json::to_vec(&refusal) {
                Ok(body) => body,
                Err(e) => return unserialisable(&e),
            }
        }
        Err(e) => return unserialisable(&e),
    };
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql-response+json"),
    );
    response.headers_mut().extend(headers);
    response
}

fn unserialisable(e: &serde_json::Error) -> Response {
    tracing::error!(error = %e, "a GraphQL answer does not serialise");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the answer could not be written as JSON; the daemon's log says why",
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use async_graphql::{Name, Value};
    use axum::body::to_bytes;

    use super::*;

    fn answer_of(text_bytes: usize) -> async_graphql::Response {
        let mut fields = async_graphql::indexmap::IndexMap::new();
        fields.insert(Name::new("text"), Value::String("x".repeat(text_bytes)));
        async_graphql::Response::new(Value::Object(fields))
    }

    async fn body_of(response: Response) -> serde_json::Value {
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    // Goal: an answer within the bound is sent whole, one over it is replaced by an error
    // that names its size and how to ask for less. Method: answers of 1,000 bytes of text
    // under bounds of 2,000 and 500.
    #[tokio::test]
    async fn an_answer_over_the_bound_is_an_error_that_says_how_to_ask_for_less() {
        let sent = body_of(bounded(answer_of(1_000), 2_000)).await;
        assert_eq!(sent["data"]["text"].as_str().map(str::len), Some(1_000));

        let refused = body_of(bounded(answer_of(1_000), 500)).await;
        assert!(refused["data"].is_null(), "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["code"], "TooLarge");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("over the API's limit of 500") && message.contains("`first`"),
            "{message}"
        );
    }
}
