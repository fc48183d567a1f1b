//! Sealing sensitive fields: each value becomes a compact JWE with protected
//! header `{"alg":"dir","enc":"A256GCM"}`, an empty encrypted-key part, a
//! random 96-bit IV and a 128-bit tag — the format Webex clients use, which
//! any JOSE library opens with the key. The key's `kms://` URL travels beside
//! the value, not in the header.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::aes::cipher::BlockCipherEncrypt;
use aes_gcm::aes::cipher::array::Array;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ghash::GHash;
use ghash::universal_hash::UniversalHash;

use crate::base64url;
use crate::error::CoreError;
use crate::model::{OrgKey, Sealed};

type Block = aes_gcm::aes::Block;
type Nonce = aes_gcm::aead::Nonce<Aes256Gcm>;

/// The protected header, base64url: the additional authenticated data of
/// every value.
const HEADER_B64: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0";

/// Counter blocks encrypted in one call when sealing many values: many of
/// the cipher's parallel batches, few enough to stay in cache.
const BATCH_BLOCKS: usize = 256;

/// The counter blocks one value takes: J0 for the tag, then its keystream.
fn blocks_for(plaintext: &[u8]) -> usize {
    1 + plaintext.len().div_ceil(16)
}

/// A key ready to seal and open many values.
///
/// Sealing is AES-256-GCM composed from RustCrypto's `aes` block cipher and
/// `ghash`, so that the values of a whole page share the work `aes-gcm` would
/// repeat per value: their counter blocks are encrypted together (the
/// bitsliced cipher does several blocks per pass, and a short value alone
/// leaves most of a pass empty), and the GHASH of the protected header is
/// computed once per key. The output is exactly what `aes-gcm` produces for
/// the same IV (tested on random values against it); opening goes through
/// `aes-gcm` itself.
pub struct Sealer {
    aes: Aes256,
    gcm: Aes256Gcm,
    /// GHASH with the protected header absorbed, cloned for each value.
    after_header: GHash,
    key_url: String,
    /// Random bytes for IVs, fetched from the system in bulk: one call into
    /// the host for a whole page's values instead of one per value (in the
    /// component, each call crosses to the host). Every IV is still system
    /// randomness.
    iv_pool: std::cell::RefCell<Vec<u8>>,
}

/// IVs fetched beyond those asked for, for the values that follow.
const IVS_PER_FETCH: usize = 128;

/// `len` bytes of system randomness, in one call into the host. getrandom's
/// WASI 0.2 backend asks for 8 bytes per call (`get-random-u64`): a page's
/// IVs were ~9,000 calls, which under jco (each import call is a JS task)
/// were half of a sealed page's time in Node.
fn random_bytes(len: usize) -> Result<Vec<u8>, CoreError> {
    #[cfg(all(target_arch = "wasm32", target_os = "wasi", target_env = "p2"))]
    {
        let bytes = wasip2::random::random::get_random_bytes(len as u64);
        if bytes.len() != len {
            return Err(CoreError::InvalidKey(format!(
                "no randomness for the IVs: the host gave {} bytes of {len}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "wasi", target_env = "p2")))]
    {
        let mut bytes = vec![0; len];
        getrandom::fill(&mut bytes)
            .map_err(|e| CoreError::InvalidKey(format!("no randomness for the IVs: {e}")))?;
        Ok(bytes)
    }
}

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
        let aes =
            Aes256::new_from_slice(&key.key).map_err(|e| CoreError::InvalidKey(e.to_string()))?;
        // One key schedule for both: opening goes through aes-gcm.
        let gcm = Aes256Gcm::from(aes.clone());
        // GCM's hash key H is the encryption of the zero block.
        let mut h = Block::default();
        aes.encrypt_block(&mut h);
        let mut after_header = GHash::new(&h);
        after_header.update_padded(HEADER_B64.as_bytes());
        Ok(Sealer {
            aes,
            gcm,
            after_header,
            key_url: key.key_url.clone(),
            iv_pool: std::cell::RefCell::new(Vec::new()),
        })
    }

    /// `count` fresh random 96-bit IVs, from the pool, refilled in one
    /// fetch when it runs short.
    fn take_ivs(&self, count: usize) -> Result<Vec<[u8; 12]>, CoreError> {
        let mut pool = self.iv_pool.borrow_mut();
        if pool.len() < 12 * count {
            // Enough for all of them and a pool's worth more.
            let fetched = random_bytes(12 * (count + IVS_PER_FETCH))?;
            pool.extend_from_slice(&fetched);
        }
        let rest = pool.len() - 12 * count;
        let ivs = pool[rest..]
            .chunks_exact(12)
            .map(|iv| iv.try_into().expect("twelve bytes"))
            .collect();
        // Used bytes leave the pool: no IV is ever handed out twice.
        pool.truncate(rest);
        Ok(ivs)
    }

    /// Seal one value under a fresh random IV.
    pub fn seal(&self, plaintext: &str) -> Result<Sealed, CoreError> {
        let ivs = self.take_ivs(1)?;
        Ok(self.seal_with_ivs(&[plaintext], &ivs).remove(0))
    }

    /// Seal many values, each under a fresh random IV.
    ///
    /// ```
    /// use hcal_core::{model::OrgKey, seal::Sealer};
    /// let key = OrgKey { key_url: "kms://kms.example.com/keys/1".into(), key: vec![7; 32] };
    /// let sealer = Sealer::new(&key).unwrap();
    /// let sealed = sealer.seal_many(&["Board meeting", "", "Room 4"]).unwrap();
    /// assert_eq!(sealer.open(&sealed[1]).unwrap(), "");
    /// assert_eq!(sealer.open(&sealed[2]).unwrap(), "Room 4");
    /// ```
    pub fn seal_many<S: AsRef<str>>(&self, plaintexts: &[S]) -> Result<Vec<Sealed>, CoreError> {
        let ivs = self.take_ivs(plaintexts.len())?;
        Ok(self.seal_with_ivs(plaintexts, &ivs))
    }

    /// Seal `plaintexts[i]` under `ivs[i]`; the IVs must never repeat under
    /// this key (GCM's one rule), which is why only tests choose them.
    pub(crate) fn seal_with_ivs<S: AsRef<str>>(
        &self,
        plaintexts: &[S],
        ivs: &[[u8; 12]],
    ) -> Vec<Sealed> {
        debug_assert_eq!(plaintexts.len(), ivs.len());
        let mut sealed = Vec::with_capacity(plaintexts.len());
        let mut blocks: Vec<Block> = Vec::with_capacity(BATCH_BLOCKS);
        // The values whose counter blocks are in `blocks`: plaintexts[first..next].
        let mut first = 0;
        for (next, (plaintext, iv)) in plaintexts.iter().zip(ivs).enumerate() {
            let needed = blocks_for(plaintext.as_ref().as_bytes());
            if !blocks.is_empty() && blocks.len() + needed > BATCH_BLOCKS {
                self.finish(
                    &mut blocks,
                    &plaintexts[first..next],
                    &ivs[first..next],
                    &mut sealed,
                );
                first = next;
            }
            // J0 = IV || 1 masks the tag; the keystream counts on from 2.
            // A wasm32 value is below 2^32 bytes, so the counter never wraps.
            blocks.extend((1..=needed as u32).map(|counter| {
                let mut block = Block::default();
                block[..12].copy_from_slice(iv);
                block[12..].copy_from_slice(&counter.to_be_bytes());
                block
            }));
        }
        self.finish(
            &mut blocks,
            &plaintexts[first..],
            &ivs[first..],
            &mut sealed,
        );
        sealed
    }

    /// Encrypt the counter blocks gathered for `plaintexts`, then XOR, hash
    /// and write each one's JWE.
    fn finish<S: AsRef<str>>(
        &self,
        blocks: &mut Vec<Block>,
        plaintexts: &[S],
        ivs: &[[u8; 12]],
        sealed: &mut Vec<Sealed>,
    ) {
        self.aes.encrypt_blocks(blocks);
        let mut at = 0;
        for (plaintext, iv) in plaintexts.iter().zip(ivs) {
            let plaintext = plaintext.as_ref().as_bytes();
            let needed = blocks_for(plaintext);
            let (mask, keystream) = blocks[at..at + needed].split_first_mut().expect("J0");
            at += needed;
            // The ciphertext is the keystream XORed with the plaintext in place.
            let ciphertext = &mut Array::slice_as_flattened_mut(keystream)[..plaintext.len()];
            for (c, p) in ciphertext.iter_mut().zip(plaintext) {
                *c ^= p;
            }
            let mut ghash = self.after_header.clone();
            ghash.update_padded(ciphertext);
            let mut lengths = Block::default();
            lengths[..8].copy_from_slice(&(HEADER_B64.len() as u64 * 8).to_be_bytes());
            lengths[8..].copy_from_slice(&(plaintext.len() as u64 * 8).to_be_bytes());
            ghash.update(&[lengths]);
            let mut tag = ghash.finalize();
            for (t, m) in tag.iter_mut().zip(mask.iter()) {
                *t ^= m;
            }
            sealed.push(Sealed {
                jwe: compact_jwe(iv, ciphertext, &tag),
                key_url: self.key_url.clone(),
            });
        }
        blocks.clear();
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
        let Ok(iv) = <[u8; 12]>::try_from(iv.as_slice()) else {
            return Err(CoreError::OpenFailed(format!(
                "the IV is {} bytes, not 12",
                iv.len()
            )));
        };
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
            .gcm
            .decrypt(
                &Nonce::from(iv),
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

/// `header..iv.ciphertext.tag`, base64url written straight into the one
/// allocation the value needs (`encode_string` zeroed a 1 KiB buffer per
/// call, three calls per value: 19 MB of memset for a page).
fn compact_jwe(iv: &[u8; 12], ciphertext: &[u8], tag: &[u8]) -> String {
    const IV_B64: usize = 16;
    const TAG_B64: usize = 22;
    let body = base64url::encoded_len(ciphertext.len());
    let start = HEADER_B64.len() + 2;
    let len = start + IV_B64 + 1 + body + 1 + TAG_B64;
    let mut jwe = Vec::with_capacity(len);
    jwe.extend_from_slice(HEADER_B64.as_bytes());
    // The separators are the bytes the encodings do not overwrite.
    jwe.resize(len, b'.');
    base64url::encode_into(iv, &mut jwe[start..start + IV_B64]);
    base64url::encode_into(
        ciphertext,
        &mut jwe[start + IV_B64 + 1..start + IV_B64 + 1 + body],
    );
    base64url::encode_into(tag, &mut jwe[len - TAG_B64..]);
    // SAFETY: the header, the separators and base64url are all ASCII.
    unsafe { String::from_utf8_unchecked(jwe) }
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

    /// splitmix64: reproducible random bytes and lengths for the tests.
    struct Random(u64);
    impl Random {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn text(&mut self, len: usize) -> String {
            // Any UTF-8: ASCII mostly, some two- and three-byte characters.
            let mut text = String::with_capacity(len);
            while text.len() < len {
                let c = match self.below(10) {
                    0 => 'é',
                    1 if len - text.len() >= 3 => '€',
                    _ => char::from(b' ' + self.below(95) as u8),
                };
                if text.len() + c.len_utf8() <= len {
                    text.push(c);
                } else {
                    text.push('x');
                }
            }
            text
        }
    }

    /// What `aes-gcm` itself makes of `plaintext` under `iv`, as a compact JWE.
    fn aes_gcm_jwe(key: &OrgKey, plaintext: &str, iv: [u8; 12]) -> String {
        let gcm = Aes256Gcm::new_from_slice(&key.key).unwrap();
        let mut sealed = gcm
            .encrypt(
                &Nonce::from(iv),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: HEADER_B64.as_bytes(),
                },
            )
            .unwrap();
        let tag = sealed.split_off(sealed.len() - 16);
        format!(
            "{HEADER_B64}..{}.{}.{}",
            B64.encode(iv),
            B64.encode(&sealed),
            B64.encode(tag)
        )
    }

    #[test]
    fn the_header_is_the_protected_header() {
        assert_eq!(HEADER_B64, B64.encode(r#"{"alg":"dir","enc":"A256GCM"}"#));
    }

    #[test]
    fn batches_seal_exactly_what_aes_gcm_does() {
        let mut random = Random(0x6863_616c);
        let key = OrgKey {
            key_url: "kms://kms.example.com/keys/k1".into(),
            key: (0..32).map(|_| random.next() as u8).collect(),
        };
        let sealer = Sealer::new(&key).unwrap();
        // Every length up to a few batches' worth of blocks, then random
        // lengths up to 10,000 bytes, in one batch and one by one.
        let mut lengths: Vec<usize> = (0..=600).collect();
        lengths.extend((0..200).map(|_| random.below(10_001)));
        lengths.push(10_000);
        let texts: Vec<String> = lengths.iter().map(|&n| random.text(n)).collect();
        let ivs: Vec<[u8; 12]> = texts
            .iter()
            .map(|_| std::array::from_fn(|_| random.next() as u8))
            .collect();
        let batch = sealer.seal_with_ivs(&texts, &ivs);
        assert_eq!(batch.len(), texts.len());
        for ((text, iv), sealed) in texts.iter().zip(&ivs).zip(&batch) {
            assert_eq!(
                sealed.jwe,
                aes_gcm_jwe(&key, text, *iv),
                "{} bytes",
                text.len()
            );
            assert_eq!(sealed.key_url, key.key_url);
            assert_eq!(&sealer.open(sealed).unwrap(), text);
        }
        // Shuffled into other batch boundaries, and alone.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, random.below(i + 1));
        }
        let shuffled: Vec<&str> = order.iter().map(|&i| texts[i].as_str()).collect();
        let shuffled_ivs: Vec<[u8; 12]> = order.iter().map(|&i| ivs[i]).collect();
        for (sealed, &i) in sealer
            .seal_with_ivs(&shuffled, &shuffled_ivs)
            .iter()
            .zip(&order)
        {
            assert_eq!(sealed.jwe, batch[i].jwe);
        }
        for i in [0, 1, 15, 16, 17, 255, 256, 257, 600, texts.len() - 1] {
            let one = sealer.seal_with_ivs(&[texts[i].as_str()], &[ivs[i]]);
            assert_eq!(one[0].jwe, batch[i].jwe);
        }
        assert!(sealer.seal_with_ivs::<&str>(&[], &[]).is_empty());
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
