//! SigV4 for Bedrock calls (service `bedrock`), by `aws-sigv4`: the request as it will be
//! sent (method, percent-encoded URI, every header it carries, the body's SHA-256) signed
//! with the deployment's credentials, adding `x-amz-date`, `authorization` and, for
//! temporary credentials, `x-amz-security-token`. The signed request goes to `upstream`.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use http::Request;

use super::credentials::Credentials;

/// The service name Bedrock's runtime signs for.
pub const SERVICE: &str = "bedrock";
/// What the signer calls the credentials' provider (shown nowhere).
const PROVIDER_NAME: &str = "model-router";

/// Signs `request`, whose body is `body`, for `service` in `region` as of now.
pub fn sign_request<B>(
    request: &mut Request<B>,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    service: &str,
) -> Result<(), String> {
    sign_at(request, body, credentials, region, service, SystemTime::now())
}

/// Signs `request` as of `time`.
pub fn sign_at<B>(
    request: &mut Request<B>,
    body: &[u8],
    credentials: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), String> {
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.as_str(),
        credentials.secret(),
        credentials.session_token().map(str::to_owned),
        None,
        PROVIDER_NAME,
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("the request cannot be signed: {e}"))?
        .into();
    let uri = request.uri().to_string();
    let headers = request.headers().iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    let signable = SignableRequest::new(request.method().as_str(), uri, headers, SignableBody::Bytes(body))
        .map_err(|e| format!("the request cannot be signed: {e}"))?;
    let (instructions, _signature) =
        sign(signable, &params).map_err(|e| format!("the request cannot be signed: {e}"))?.into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn the_authorization_names_scope_and_signed_headers() {
        // 2015-08-30T12:36:00Z, the date of AWS's own SigV4 examples.
        let time = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        let mut request = Request::post("https://bedrock-runtime.us-east-1.amazonaws.com/model/a.b-v1%3A0/converse")
            .header("content-type", "application/json")
            .body(())
            .unwrap_or_else(|e| panic!("{e}"));
        let credentials = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, None);
        sign_at(&mut request, b"{}", &credentials, "us-east-1", SERVICE, time).unwrap_or_else(|e| panic!("{e}"));
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_eq!(header("x-amz-date"), "20150830T123600Z");
        let auth = header("authorization");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
            ),
            "{auth}"
        );
        assert!(request.headers().get("x-amz-security-token").is_none());

        let temporary = Credentials::new("ASIAEXAMPLE", "secret", Some("session-token".into()), None);
        let mut request = Request::post("https://h/model/m/converse").body(()).unwrap_or_else(|e| panic!("{e}"));
        sign_at(&mut request, b"{}", &temporary, "eu-west-1", SERVICE, time).unwrap_or_else(|e| panic!("{e}"));
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_eq!(header("x-amz-security-token"), "session-token");
        assert!(header("authorization").contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"));
    }
}
