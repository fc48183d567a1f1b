//! The service-account key file Google issues, and the RS256 assertion
//! signed with it (with `ring`; the key is never logged or printed).

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;
use serde_json::json;

use super::GoogleError;

/// A loaded service-account key. `Debug` shows who it is, never the key.
pub struct ServiceAccountKey {
    pub client_email: String,
    pub client_id: Option<String>,
    pub private_key_id: Option<String>,
    pub project_id: Option<String>,
    /// Where the file says tokens come from (the emulator's, or Google's).
    pub token_uri: String,
    pair: RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    project_id: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    client_email: Option<String>,
    client_id: Option<String>,
    token_uri: Option<String>,
}

/// Google's token endpoint, the default `token_uri`.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

impl ServiceAccountKey {
    /// Read a key file (JSON as Google issues it).
    pub fn load(path: &Path) -> Result<ServiceAccountKey, GoogleError> {
        let text = std::fs::read_to_string(path).map_err(|e| GoogleError::KeyFile {
            path: path.display().to_string(),
            message: format!("cannot read it: {e}"),
        })?;
        ServiceAccountKey::parse(&text).map_err(|message| GoogleError::KeyFile {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parse the text of a key file. The message says what to fix.
    pub fn parse(text: &str) -> Result<ServiceAccountKey, String> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| {
            format!("not a service-account key file (JSON as Google issues it): {e}")
        })?;
        if let Some(kind) = &file.kind
            && kind != "service_account"
        {
            return Err(format!(
                "\"type\" is {kind:?}; hcal needs a \"service_account\" key (IAM → Service accounts → Keys → JSON)"
            ));
        }
        let client_email = file.client_email.ok_or("\"client_email\" is missing")?;
        let valid_email = client_email
            .split_once('@')
            .is_some_and(|(name, host)| !name.is_empty() && host.contains('.'));
        if !valid_email {
            return Err(format!(
                "\"client_email\" {client_email:?} is not an e-mail address"
            ));
        }
        let pem = file.private_key.ok_or("\"private_key\" is missing")?;
        let der = pem_block(&pem, "PRIVATE KEY")
            .ok_or("\"private_key\" is not a PKCS#8 PEM block (-----BEGIN PRIVATE KEY-----)")?;
        let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| {
            format!("\"private_key\" is not an RSA key of 2048 bits or more ({e}); Google issues RSA keys")
        })?;
        let token_uri = file
            .token_uri
            .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_string());
        if !(token_uri.starts_with("https://") || token_uri.starts_with("http://")) {
            return Err(format!("\"token_uri\" {token_uri:?} is not an http(s) URL"));
        }
        Ok(ServiceAccountKey {
            client_email,
            client_id: file.client_id,
            private_key_id: file.private_key_id,
            project_id: file.project_id,
            token_uri,
            pair,
        })
    }

    /// The jwt-bearer assertion for acting as `user` with `scopes`, valid for
    /// an hour from `now` (Unix seconds), addressed to `audience`.
    pub fn assertion(
        &self,
        user: &str,
        scopes: &str,
        audience: &str,
        now: i64,
    ) -> Result<String, GoogleError> {
        let mut header = json!({ "alg": "RS256", "typ": "JWT" });
        if let Some(kid) = &self.private_key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.client_email,
            "sub": user,
            "scope": scopes,
            "aud": audience,
            "iat": now,
            "exp": now + 3600,
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| GoogleError::Signing)?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The DER inside the first `-----BEGIN {label}-----` block.
fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].split_whitespace().collect();
    STANDARD.decode(body).ok()
}
