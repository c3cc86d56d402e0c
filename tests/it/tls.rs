//! The upstream client over real TLS: a CA generated at test time signs the mock's
//! certificate; trusting it through `SSL_CERT_FILE` lets calls through (h2 by ALPN), and
//! without it the handshake is refused.

use crate::common;

use std::sync::Arc;

use common::mock::{self, Answer, Mock};
use common::{post, start_with};
use http::StatusCode;
use model_router::table::fixtures;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

/// A CA (PEM) and a TLS acceptor whose certificate for `localhost` it signed.
fn pki() -> (String, tokio_rustls::TlsAcceptor) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server =
        CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&server_key, &ca, &ca_key).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![server.der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (ca.pem(), tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

async fn tls_mock() -> (String, Mock) {
    let (ca, acceptor) = pki();
    let mock = mock::start_tls(
        |seen| Answer::ok(&json!({ "object": "chat.completion", "model": seen.json()["model"], "choices": [] })),
        acceptor,
    )
    .await;
    (ca, mock)
}

#[tokio::test]
async fn calls_go_through_tls_with_the_trusted_ca_over_h2() {
    let (ca, mock) = tls_mock().await;
    let ca_file = std::env::temp_dir().join(format!("model-router-test-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&ca_file, ca).unwrap();
    let base = format!("https://localhost:{}/v1", mock.addr.port());
    let ca_path = ca_file.to_string_lossy().into_owned();
    let gw = start_with(
        &fixtures::upstream::TABLE,
        &[("MOCK_BASE", &base), ("MOCK_KEY", "k"), ("SSL_CERT_FILE", &ca_path)],
        |_| {},
    )
    .await;
    let reply = post(&gw, "/v1/chat/completions", None, &json!({ "model": "gpt-4o", "messages": [] })).await;
    std::fs::remove_file(&ca_file).ok();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let seen = mock.last();
    assert_eq!(seen.version, http::Version::HTTP_2, "ALPN picked h2");
    assert_eq!(seen.header("authorization"), Some("Bearer k"));
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let (_ca, mock) = tls_mock().await;
    let base = format!("https://localhost:{}/v1", mock.addr.port());
    let gw = start_with(&fixtures::upstream::TABLE, &[("MOCK_BASE", &base), ("MOCK_KEY", "k")], |_| {}).await;
    let reply = post(&gw, "/v1/chat/completions", None, &json!({ "model": "gpt-4o", "messages": [] })).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    let message = reply.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("certificate"), "{message}");
    assert!(mock.requests().is_empty());
}
