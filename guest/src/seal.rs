//! Sealing sensitive fields: each value becomes a compact JWE with protected
//! header `{"alg":"dir","enc":"A256GCM"}`, an empty encrypted-key part, a
//! random 96-bit IV and a 128-bit tag — the format Webex clients use, which
//! any JOSE library opens with the key. The key's `kms://` URL travels beside
//! the value, not in the header.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::error::CoreError;
use crate::model::{OrgKey, Sealed};

const HEADER: &str = r#"{"alg":"dir","enc":"A256GCM"}"#;

/// A key ready to seal and open many values.
pub struct Sealer {
    cipher: Aes256Gcm,
    key_url: String,
    header_b64: String,
    /// Random bytes for IVs, fetched from the system in bulk: one call into
    /// the host per 128 values instead of one per value (in the component,
    /// each call crosses to the host). Every IV is still system randomness.
    iv_pool: std::cell::RefCell<Vec<u8>>,
}

/// IVs fetched from the system at a time.
const IVS_PER_FETCH: usize = 128;

impl Sealer {
    /// Check the key (32 bytes, a `kms://` URL) and prepare the cipher.
    pub fn new(key: &OrgKey) -> Result<Sealer, CoreError> {
        if key.key.len() != 32 {
            return Err(CoreError::InvalidKey(format!(
                "an A256GCM key is 32 bytes, this one is {}",
                key.key.len()
            )));
        }
        if !key.key_url.starts_with("kms://") {
            return Err(CoreError::InvalidKey(format!(
                "the key URL must start with kms://, not {:?}",
                key.key_url
            )));
        }
        let cipher = Aes256Gcm::new_from_slice(&key.key)
            .map_err(|e| CoreError::InvalidKey(e.to_string()))?;
        Ok(Sealer {
            cipher,
            key_url: key.key_url.clone(),
            header_b64: B64.encode(HEADER),
            iv_pool: std::cell::RefCell::new(Vec::new()),
        })
    }

    /// A fresh random 96-bit IV.
    fn next_iv(&self) -> Result<[u8; 12], CoreError> {
        let mut pool = self.iv_pool.borrow_mut();
        if pool.len() < 12 {
            pool.resize(12 * IVS_PER_FETCH, 0);
            getrandom::fill(&mut pool).map_err(|e| {
                pool.clear();
                CoreError::InvalidKey(format!("no randomness for the IV: {e}"))
            })?;
        }
        let mut iv = [0u8; 12];
        let rest = pool.len() - 12;
        iv.copy_from_slice(&pool[rest..]);
        // Used bytes leave the pool: no IV is ever handed out twice.
        pool.truncate(rest);
        Ok(iv)
    }

    /// Seal one value under a fresh random IV.
    pub fn seal(&self, plaintext: &str) -> Result<Sealed, CoreError> {
        let iv = self.next_iv()?;
        let aad = self.header_b64.as_bytes();
        let mut sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad,
                },
            )
            .map_err(|_| CoreError::InvalidKey("encryption failed".into()))?;
        let tag = sealed.split_off(sealed.len() - 16);
        let jwe = format!(
            "{}..{}.{}.{}",
            self.header_b64,
            B64.encode(iv),
            B64.encode(&sealed),
            B64.encode(tag)
        );
        Ok(Sealed {
            jwe,
            key_url: self.key_url.clone(),
        })
    }

    /// Open a value sealed under this key.
    pub fn open(&self, value: &Sealed) -> Result<String, CoreError> {
        if value.key_url != self.key_url {
            return Err(CoreError::OpenFailed(format!(
                "sealed under {}, not under {}",
                value.key_url, self.key_url
            )));
        }
        let parts: Vec<&str> = value.jwe.split('.').collect();
        let [header, encrypted_key, iv, ciphertext, tag] = parts[..] else {
            return Err(CoreError::OpenFailed(format!(
                "a compact JWE has 5 parts, this has {}",
                parts.len()
            )));
        };
        let decode = |part: &str, what: &str| {
            B64.decode(part)
                .map_err(|_| CoreError::OpenFailed(format!("the {what} is not base64url")))
        };
        let header_json = decode(header, "header")?;
        let parsed: serde_json::Value = serde_json::from_slice(&header_json)
            .map_err(|_| CoreError::OpenFailed("the header is not JSON".into()))?;
        if parsed.get("alg").and_then(|v| v.as_str()) != Some("dir")
            || parsed.get("enc").and_then(|v| v.as_str()) != Some("A256GCM")
        {
            return Err(CoreError::OpenFailed(format!(
                "unsupported header {}",
                String::from_utf8_lossy(&header_json)
            )));
        }
        if !encrypted_key.is_empty() {
            return Err(CoreError::OpenFailed(
                "`dir` JWEs have an empty encrypted-key part".into(),
            ));
        }
        let iv = decode(iv, "IV")?;
        if iv.len() != 12 {
            return Err(CoreError::OpenFailed(format!(
                "the IV is {} bytes, not 12",
                iv.len()
            )));
        }
        let mut message = decode(ciphertext, "ciphertext")?;
        let tag = decode(tag, "tag")?;
        if tag.len() != 16 {
            return Err(CoreError::OpenFailed(format!(
                "the tag is {} bytes, not 16",
                tag.len()
            )));
        }
        message.extend_from_slice(&tag);
        let plaintext = self
            .cipher
            .decrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &message,
                    aad: header.as_bytes(),
                },
            )
            .map_err(|_| {
                CoreError::OpenFailed("wrong key, or the value was tampered with".into())
            })?;
        String::from_utf8(plaintext)
            .map_err(|_| CoreError::OpenFailed("the plaintext is not UTF-8".into()))
    }
}

/// Seal one value.
///
/// ```
/// use hcal_core::{model::OrgKey, seal};
/// let key = OrgKey { key_url: "kms://kms.example.com/keys/1".into(), key: vec![7; 32] };
/// let sealed = seal::seal("Board meeting", &key).unwrap();
/// assert!(sealed.jwe.starts_with("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0.."));
/// assert_eq!(seal::open(&sealed, &key).unwrap(), "Board meeting");
/// ```
pub fn seal(plaintext: &str, key: &OrgKey) -> Result<Sealed, CoreError> {
    Sealer::new(key)?.seal(plaintext)
}

/// Open one sealed value.
pub fn open(value: &Sealed, key: &OrgKey) -> Result<String, CoreError> {
    Sealer::new(key)?.open(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> OrgKey {
        OrgKey {
            key_url: "kms://kms.example.com/keys/k1".into(),
            key: vec![byte; 32],
        }
    }

    #[test]
    fn each_seal_uses_a_fresh_iv() {
        let a = seal("x", &key(1)).unwrap();
        let b = seal("x", &key(1)).unwrap();
        assert_ne!(a.jwe, b.jwe);
    }

    #[test]
    fn ivs_from_the_pool_are_never_reused() {
        let sealer = Sealer::new(&key(1)).unwrap();
        let count = 3 * IVS_PER_FETCH + 5; // across several refills
        let ivs: std::collections::BTreeSet<String> = (0..count)
            .map(|i| {
                let sealed = sealer.seal(&format!("value {i}")).unwrap();
                assert_eq!(sealer.open(&sealed).unwrap(), format!("value {i}"));
                sealed.jwe.split('.').nth(2).unwrap().to_string()
            })
            .collect();
        assert_eq!(ivs.len(), count);
    }

    #[test]
    fn wrong_key_and_tampering_are_typed_errors() {
        let sealed = seal("secret", &key(1)).unwrap();
        assert!(matches!(
            open(&sealed, &key(2)),
            Err(CoreError::OpenFailed(_))
        ));
        let mut parts: Vec<String> = sealed.jwe.split('.').map(str::to_string).collect();
        parts[3] = B64.encode(b"other bytes");
        let tampered = Sealed {
            jwe: parts.join("."),
            key_url: sealed.key_url.clone(),
        };
        assert!(matches!(
            open(&tampered, &key(1)),
            Err(CoreError::OpenFailed(_))
        ));
        let truncated = Sealed {
            jwe: "abc.def".into(),
            key_url: sealed.key_url,
        };
        assert!(matches!(
            open(&truncated, &key(1)),
            Err(CoreError::OpenFailed(_))
        ));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(matches!(
            seal(
                "x",
                &OrgKey {
                    key_url: "kms://a/keys/b".into(),
                    key: vec![0; 16]
                }
            ),
            Err(CoreError::InvalidKey(_))
        ));
        assert!(matches!(
            seal(
                "x",
                &OrgKey {
                    key_url: "https://a".into(),
                    key: vec![0; 32]
                }
            ),
            Err(CoreError::InvalidKey(_))
        ));
    }
}
