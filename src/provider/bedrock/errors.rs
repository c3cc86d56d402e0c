//! Bedrock's errors as the gateway's: a non-2xx reply's `x-amzn-ErrorType` (and its
//! `message`) and a stream's exception frame both become `Error::Upstream` with the status
//! AWS means by the type (`ThrottlingException` 429, so retries and cooldowns act as on any
//! 429), worded as LiteLLM words Bedrock errors. `respond` answers and logs them.

use http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::error::Error;

pub const EXCEPTION: &str = "BedrockException";
/// The header naming AWS's error type (`ThrottlingException:http://internal.amazon.com/…`).
const ERROR_TYPE: &str = "x-amzn-errortype";
/// Longest message quoted from an error body.
const MAX_MESSAGE_CHARS: usize = 2048;

/// The status an AWS error type stands for; `None` keeps the one AWS answered with.
fn status_of(error_type: &str) -> Option<StatusCode> {
    let status = match error_type.to_ascii_lowercase().as_str() {
        "throttlingexception" | "servicequotaexceededexception" | "toomanyrequestsexception" => {
            StatusCode::TOO_MANY_REQUESTS
        }
        "validationexception" | "serializationexception" => StatusCode::BAD_REQUEST,
        "accessdeniedexception"
        | "unrecognizedclientexception"
        | "invalidsignatureexception"
        | "signaturedoesnotmatch"
        | "incompletesignatureexception"
        | "missingauthenticationtokenexception"
        | "expiredtokenexception" => StatusCode::FORBIDDEN,
        "resourcenotfoundexception" => StatusCode::NOT_FOUND,
        "modeltimeoutexception" => StatusCode::REQUEST_TIMEOUT,
        "modelnotreadyexception" | "serviceunavailableexception" => StatusCode::SERVICE_UNAVAILABLE,
        "internalserverexception" | "modelstreamerrorexception" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => return None,
    };
    Some(status)
}

/// A non-2xx Converse or InvokeModel reply as the client's error.
pub fn reply(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Error {
    let error_type = headers
        .get(ERROR_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(':').next().unwrap_or_default().to_owned())
        .or_else(|| body_field(body, "__type").map(|t| t.rsplit('#').next().unwrap_or_default().to_owned()))
        .filter(|t| !t.is_empty());
    let message = body_field(body, "message").or_else(|| body_field(body, "Message")).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        text.chars().take(MAX_MESSAGE_CHARS).collect()
    });
    let status = error_type.as_deref().and_then(status_of).unwrap_or(status);
    upstream(status, error_type.as_deref(), &message)
}

/// An exception frame inside a stream (`throttlingException`, `validationException`, ...).
pub fn exception(name: &str, payload: &[u8]) -> Error {
    let message = body_field(payload, "message").unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned());
    let status = status_of(name).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    upstream(status, Some(name), &message)
}

fn upstream(status: StatusCode, error_type: Option<&str>, message: &str) -> Error {
    let message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    let message = match error_type {
        Some(t) => format!("{t}: {message}"),
        None => message,
    };
    // The class follows the status, as for every provider; the body is not JSON-shaped
    // like OpenAI's, so it is given as the message itself.
    let body = serde_json::json!({ "message": message }).to_string();
    Error::upstream(status, EXCEPTION, body.as_bytes())
}

fn body_field(body: &[u8], key: &str) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    json.get(key).and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn error_of(status: u16, error_type: &str, message: &str) -> Error {
        let mut headers = HeaderMap::new();
        headers.insert(ERROR_TYPE, HeaderValue::from_str(error_type).unwrap_or(HeaderValue::from_static("")));
        let body = serde_json::json!({ "message": message }).to_string();
        reply(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), &headers, body.as_bytes())
    }

    #[test]
    fn each_error_type_keeps_the_status_aws_means() {
        for (status, error_type, want, class) in [
            (429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", 429, "RateLimitError"),
            (400, "ValidationException", 400, "BadRequestError"),
            (403, "AccessDeniedException", 403, "PermissionDeniedError"),
            (403, "InvalidSignatureException", 403, "PermissionDeniedError"),
            (400, "ModelNotReadyException", 503, "ServiceUnavailableError"),
            (503, "ServiceUnavailableException", 503, "ServiceUnavailableError"),
            (408, "ModelTimeoutException", 408, "Timeout"),
            (424, "ModelErrorException", 424, "APIError"),
        ] {
            let e = error_of(status, error_type, "why");
            assert_eq!(e.status().as_u16(), want, "{error_type}");
            let name = error_type.split(':').next().unwrap_or_default();
            assert_eq!(e.to_string(), format!("litellm.{class}: {class}: BedrockException - {name}: why"));
        }
        assert!(error_of(429, "ThrottlingException", "x").retryable());
        assert!(!error_of(400, "ValidationException", "x").retryable());
    }

    #[test]
    fn a_stream_exception_is_an_error_with_its_status() {
        let e = exception("throttlingException", br#"{"message":"Too many tokens"}"#);
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(e.to_string().ends_with("throttlingException: Too many tokens"), "{e}");
        assert_eq!(exception("modelStreamErrorException", b"{}").status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
