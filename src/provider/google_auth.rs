//! Google service-account credentials for `vertex_ai/`: the JSON key, loaded and checked
//! once at start-up (from the JSON itself or the file a variable names), and the RS256-signed
//! JWT assertion of the OAuth2 JWT-bearer grant. [`token`] exchanges that assertion for an
//! access token and caches it; `vertex` sends the token with each call.

pub mod token;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

/// The scope every access token asks for: Vertex AI needs cloud-platform.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long a signed assertion is valid (Google's maximum).
pub const ASSERTION_LIFETIME_S: u64 = 3600;
/// Where Google issues tokens, for a key file that names no `token_uri`.
pub const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The only credential `type` served: user and external-account credentials need flows a
/// gateway should not run.
const SERVICE_ACCOUNT: &str = "service_account";
/// Longest credential `type` quoted back in an error.
const MAX_TYPE_SHOWN: usize = 40;

/// A service-account key, parsed and ready to sign. Its `Debug` leaves the key out.
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: Option<String>,
    pub token_uri: String,
    pub project_id: Option<String>,
    key: RsaKeyPair,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

/// Loads the credential `value` holds: the service-account JSON itself, or the path of its
/// file (as LiteLLM accepts both). `source` names where `value` came from for errors, which
/// never quote the credential.
pub fn load(value: &str, source: &str) -> Result<ServiceAccount, String> {
    if value.trim_start().starts_with('{') {
        return parse(value, source);
    }
    let text = std::fs::read_to_string(value)
        .map_err(|e| format!("{source} names the credential file {value}, which cannot be read: {e}"))?;
    parse(&text, &format!("{source} ({value})"))
}

/// Parses a service-account JSON key.
pub fn parse(text: &str, source: &str) -> Result<ServiceAccount, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| {
        format!("{source} is not a service-account JSON key: invalid JSON at line {}, column {}", e.line(), e.column())
    })?;
    let field = |name: &str| json.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let missing = |name: &str| format!("{source} is not a service-account JSON key: it has no {name}");
    match field("type") {
        Some(kind) if kind == SERVICE_ACCOUNT => {}
        Some(kind) if kind.len() <= MAX_TYPE_SHOWN && kind.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(format!("{source} holds a \"{kind}\" credential; vertex_ai/ needs a service_account key"));
        }
        _ => return Err(missing("\"type\": \"service_account\"")),
    }
    let client_email = field("client_email").ok_or_else(|| missing("client_email"))?;
    let pem = field("private_key").ok_or_else(|| missing("private_key"))?;
    let token_uri = field("token_uri").unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
    if !(token_uri.starts_with("https://") || token_uri.starts_with("http://")) {
        return Err(format!("{source}: token_uri \"{token_uri}\" is not an http(s) URL"));
    }
    let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| format!("{source}: private_key is not a PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)"))?;
    let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map_err(|e| format!("{source}: private_key is not a usable RSA key ({e})"))?;
    Ok(ServiceAccount {
        client_email,
        private_key_id: field("private_key_id"),
        token_uri,
        project_id: field("project_id"),
        key,
    })
}

impl ServiceAccount {
    /// The signed JWT asking `token_uri` for a cloud-platform token, issued at `now` (Unix
    /// seconds) and valid for [`ASSERTION_LIFETIME_S`].
    pub fn assertion(&self, now: u64) -> Result<String, String> {
        let signing_input = signing_input(&self.header(), &self.claims(now));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| "the service-account key could not sign the token request".to_owned())?;
        Ok(format!("{signing_input}.{}", base64url(&signature)))
    }

    /// `{"alg": "RS256", "typ": "JWT", "kid": <private_key_id>}`.
    fn header(&self) -> Value {
        let mut header = json!({ "alg": "RS256", "typ": "JWT" });
        if let (Some(id), Some(map)) = (&self.private_key_id, header.as_object_mut()) {
            map.insert("kid".into(), json!(id));
        }
        header
    }

    fn claims(&self, now: u64) -> Value {
        json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_S,
        })
    }
}

/// `base64url(header) "." base64url(claims)`: the bytes a JWT's signature covers.
fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", base64url(header.to_string().as_bytes()), base64url(claims.to_string().as_bytes()))
}

/// Base64url without padding (RFC 7515 §2).
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    use super::*;

    const KEY_FILE: &str = include_str!("../../tests/fixtures/vertex-test-service-account.json");

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn base64url_uses_the_url_alphabet_without_padding() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff, 0xfe]), "-__-");
    }

    #[test]
    fn the_assertion_is_an_rs256_jwt_google_accepts() {
        let account = parse(KEY_FILE, "test").unwrap_or_else(|e| panic!("{e}"));
        let jwt = account.assertion(1_700_000_000).unwrap_or_default();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "{jwt}");
        assert_eq!(decode(parts[0]), json!({ "alg": "RS256", "typ": "JWT", "kid": "test-key-id-0001" }));
        assert_eq!(
            decode(parts[1]),
            json!({
                "iss": "model-router-test@sa-project.iam.gserviceaccount.com",
                "scope": SCOPE,
                "aud": "http://127.0.0.1:9/token",
                "iat": 1_700_000_000_u64,
                "exp": 1_700_003_600_u64,
            })
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
        let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, account.key.public().as_ref());
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(signed.as_bytes(), &signature).is_ok(), "the signature verifies");
        assert!(public.verify(b"something else", &signature).is_err());
    }

    #[test]
    fn bad_keys_are_named_without_quoting_the_secret() {
        let mut json: Value = serde_json::from_str(KEY_FILE).unwrap_or_default();
        json["type"] = json!("authorized_user");
        let e = parse(&json.to_string(), "VERTEX_SA").err().unwrap_or_default();
        assert!(e.contains("\"authorized_user\" credential"), "{e}");
        json["type"] = json!("service_account");
        json["private_key"] = json!("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        let e = parse(&json.to_string(), "VERTEX_SA").err().unwrap_or_default();
        assert!(e.starts_with("VERTEX_SA: private_key is not a usable RSA key"), "{e}");
        assert!(!e.contains("AAAA"), "{e}");
        let e = parse("{\"type\": \"service_account\", \"private_key\": \"x", "VERTEX_SA").err().unwrap_or_default();
        assert!(e.contains("invalid JSON at line 1"), "{e}");
        let e = parse("{\"type\": \"service_account\"}", "VERTEX_SA").err().unwrap_or_default();
        assert!(e.ends_with("it has no client_email"), "{e}");
        let e = load("/nonexistent/sa.json", "GOOGLE_APPLICATION_CREDENTIALS").err().unwrap_or_default();
        assert!(e.contains("/nonexistent/sa.json, which cannot be read"), "{e}");
    }

    #[test]
    fn debug_leaves_the_key_out() {
        let account = parse(KEY_FILE, "test").unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{account:?}");
        assert!(shown.contains("client_email") && !shown.contains("key:"), "{shown}");
    }
}
