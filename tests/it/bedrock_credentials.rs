//! Temporary AWS credentials for `bedrock/` deployments against the mock Bedrock runtime, a
//! mock STS and a mock container credentials endpoint: web identity from a deployment's
//! token and from IRSA's token file (read again on every refresh, `AWS_ENDPOINT_URL_STS`
//! honoured), the container endpoint with its authorization token, one fetch for
//! concurrent callers, and refused or missing credentials named by their source, never
//! quoting a secret.

use crate::common;

use common::bedrock::{chat, converse_reply, gateway, signed};
use common::mock::{self, Answer};
use common::post;
use http::StatusCode;
use serde_json::json;

const STS_REPLY: &str = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
    <AccessKeyId>ASIASTSTEST</AccessKeyId><SecretAccessKey>sts-secret</SecretAccessKey>\
    <SessionToken>sts-session-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>\
    </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";

#[tokio::test]
async fn web_identity_credentials_come_from_sts_once_and_sign_with_their_token() {
    let sts = mock::start(|_| Answer::Json { status: 200, body: STS_REPLY.to_owned(), headers: vec![] }).await;
    let bedrock = mock::start(|_| Answer::ok(&converse_reply(&json!([{ "text": "ok" }]), "end_turn"))).await;
    let sts_url = format!("http://{}/", sts.addr);
    let gw = gateway(&bedrock, &[("BEDROCK_WEB_IDENTITY", "eyJ.web-identity.token"), ("MOCK_STS", &sts_url)]).await;
    for _ in 0..2 {
        let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("irsa")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(sts.requests().len(), 1, "credentials are cached");
    let asked = String::from_utf8_lossy(&sts.last().body).into_owned();
    for part in [
        "Action=AssumeRoleWithWebIdentity",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fbedrock%2Dcaller",
        "WebIdentityToken=eyJ%2Eweb%2Didentity%2Etoken",
    ] {
        assert!(asked.contains(part), "{part} in {asked}");
    }
    let seen = bedrock.last();
    assert_eq!(seen.path, "/model/us.meta.llama3-1-8b-instruct-v1%3A0/converse");
    signed(&seen, "ASIASTSTEST", "us-east-2", "bedrock");
    assert_eq!(seen.header("x-amz-security-token"), Some("sts-session-token"));
}

#[tokio::test]
async fn refused_or_missing_credentials_name_their_source_never_the_secret() {
    let sts = mock::start(|_| Answer::Json {
        status: 403,
        body:
            "<ErrorResponse><Error><Code>AccessDenied</Code><Message>Not authorized</Message></Error></ErrorResponse>"
                .to_owned(),
        headers: vec![],
    })
    .await;
    let bedrock = mock::start(|_| Answer::ok(&converse_reply(&json!([{ "text": "ok" }]), "end_turn"))).await;
    let sts_url = format!("http://{}/", sts.addr);
    let gw = gateway(&bedrock, &[("BEDROCK_WEB_IDENTITY", "eyJ.secret.token"), ("MOCK_STS", &sts_url)]).await;
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("irsa")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
    let text = reply.text();
    assert!(text.contains("AssumeRoleWithWebIdentity") && text.contains("AccessDenied: Not authorized"), "{text}");
    assert!(!text.contains("eyJ.secret.token"), "{text}");
    assert!(bedrock.requests().is_empty(), "nothing unsigned reaches Bedrock");

    // nova names no keys and the environment holds none.
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("nova")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.text());
    assert!(reply.text().contains("no AWS credentials"), "{}", reply.text());
}

#[tokio::test]
async fn aws_role_name_assumes_the_role_with_the_deployments_keys_signed_for_sts() {
    let sts =
        mock::start(|_| Answer::Json { status: 200, body: STS_REPLY.replace("WithWebIdentity", ""), headers: vec![] })
            .await;
    let bedrock = mock::start(|_| Answer::ok(&converse_reply(&json!([{ "text": "ok" }]), "end_turn"))).await;
    let sts_url = format!("http://{}/", sts.addr);
    let gw = gateway(&bedrock, &[("MOCK_STS", &sts_url)]).await;
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("assumed")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let asked = sts.last();
    signed(&asked, common::bedrock::KEY_ID, "ap-south-1", "sts");
    let form = String::from_utf8_lossy(&asked.body).into_owned();
    for part in [
        "Action=AssumeRole",
        "RoleSessionName=sdk%2Dsession",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fassumed",
    ] {
        assert!(form.contains(part), "{part} in {form}");
    }
    assert!(!form.contains("WebIdentityToken"), "{form}");
    let seen = bedrock.last();
    signed(&seen, "ASIASTSTEST", "ap-south-1", "bedrock");
    assert_eq!(seen.header("x-amz-security-token"), Some("sts-session-token"));
}

/// An STS reply whose credentials expired long ago, so every call fetches again.
const STS_EXPIRED: &str = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
    <AccessKeyId>ASIAIRSATEST</AccessKeyId><SecretAccessKey>irsa-secret</SecretAccessKey>\
    <SessionToken>irsa-session-token</SessionToken><Expiration>2000-01-01T00:00:00Z</Expiration>\
    </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";

#[tokio::test]
async fn irsa_reads_its_token_file_again_on_every_refresh() {
    let sts = mock::start(|_| Answer::Json { status: 200, body: STS_EXPIRED.to_owned(), headers: vec![] }).await;
    let bedrock = mock::start(|_| Answer::ok(&converse_reply(&json!([{ "text": "ok" }]), "end_turn"))).await;
    let file = std::env::temp_dir().join(format!("model-router-irsa-{}", std::process::id()));
    std::fs::write(&file, "first-token\n").unwrap();
    let sts_url = format!("http://{}/", sts.addr);
    let path = file.to_string_lossy().into_owned();
    let vars = [
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", path.as_str()),
        ("AWS_ENDPOINT_URL_STS", sts_url.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let gw = gateway(&bedrock, &vars).await;
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("nova")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    std::fs::write(&file, "second-token").unwrap();
    let reply = post(&gw, "/v1/chat/completions", Some("sk-1234"), &chat("nova")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let _ = std::fs::remove_file(&file);
    let asked: Vec<String> = sts.requests().iter().map(|s| String::from_utf8_lossy(&s.body).into_owned()).collect();
    assert_eq!(asked.len(), 2, "expired credentials are fetched again");
    assert!(
        asked[0].contains("WebIdentityToken=first%2Dtoken&") || asked[0].ends_with("WebIdentityToken=first%2Dtoken"),
        "{}",
        asked[0]
    );
    assert!(asked[1].contains("WebIdentityToken=second%2Dtoken"), "{}", asked[1]);
    assert!(asked[0].contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Firsa"), "{}", asked[0]);
    let seen = bedrock.last();
    signed(&seen, "ASIAIRSATEST", "us-east-1", "bedrock");
    assert_eq!(seen.header("x-amz-security-token"), Some("irsa-session-token"));
}

#[tokio::test]
async fn container_credentials_are_fetched_once_for_concurrent_callers() {
    let container = mock::start(|_| {
        Answer::ok(&json!({
            "AccessKeyId": "ASIAPODTEST", "SecretAccessKey": "pod-secret", "Token": "pod-session-token",
            "Expiration": "2099-01-01T00:00:00Z",
        }))
    })
    .await;
    let bedrock = mock::start(|_| Answer::ok(&converse_reply(&json!([{ "text": "ok" }]), "end_turn"))).await;
    let uri = format!("http://{}/v1/credentials", container.addr);
    let vars = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-auth"),
        ("AWS_REGION", "us-east-1"),
    ];
    let gw = gateway(&bedrock, &vars).await;
    let (body, key) = (chat("nova"), Some("sk-1234"));
    let path = "/v1/chat/completions";
    let replies = tokio::join!(
        post(&gw, path, key, &body),
        post(&gw, path, key, &body),
        post(&gw, path, key, &body),
        post(&gw, path, key, &body)
    );
    for reply in [replies.0, replies.1, replies.2, replies.3] {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }
    assert_eq!(container.requests().len(), 1, "one fetch for every caller");
    assert_eq!(container.last().header("authorization"), Some("pod-identity-auth"));
    assert_eq!(bedrock.requests().len(), 4);
    let seen = bedrock.last();
    signed(&seen, "ASIAPODTEST", "us-east-1", "bedrock");
    assert_eq!(seen.header("x-amz-security-token"), Some("pod-session-token"));
}
