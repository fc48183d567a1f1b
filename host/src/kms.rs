//! The embedded KMS: organisation keys (what the core seals fields with),
//! kept in the store only wrapped (AES-256-GCM) under a master key that
//! lives outside it, in `HCAL_MASTER_KEY` or a file. Rotation makes a new
//! active key and keeps the old ones, so data sealed before still opens.
//!
//! ```
//! use hcal::kms::{Kms, MasterKey};
//! use hcal::store::SqliteStore;
//! let store = SqliteStore::in_memory().unwrap();
//! let master = MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
//! let kms = Kms::new(&store, master);
//! let key = kms.active_key().unwrap();
//! assert!(key.key_url.starts_with("kms://local/keys/"));
//! assert_eq!(kms.key(&key.key_url).unwrap().key, key.key);
//! ```

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hcal_core::model::OrgKey;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::store::{Store, StoreError, WrappedKey};

/// The key that wraps the org keys. Never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error(
        "no master key: set HCAL_MASTER_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) or kms.master_key_file"
    )]
    NoMasterKey,
    #[error("the master key {0} is not base64 of 32 bytes")]
    BadMasterKey(String),
    #[error("cannot read the master key file {path}: {message}")]
    MasterKeyFile { path: String, message: String },
    #[error(
        "org key {key_url} does not open with this master key (a different HCAL_MASTER_KEY than the one that wrapped it?)"
    )]
    WrongMasterKey { key_url: String },
    #[error("no org key {0} in the store")]
    UnknownKey(String),
    #[error("the system random generator failed")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MasterKey {
    /// From base64 text (where it came from goes in errors, never the text).
    pub fn from_base64(text: &str) -> Result<MasterKey, KmsError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| KmsError::BadMasterKey("given".into()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KmsError::BadMasterKey("given".into()))?;
        Ok(MasterKey(key))
    }

    /// A fresh random key (for a store that lives as long as the process).
    pub fn random() -> Result<MasterKey, KmsError> {
        let mut key = [0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| KmsError::Random)?;
        Ok(MasterKey(key))
    }

    /// `HCAL_MASTER_KEY`, else the file, else an error that says how to make one.
    pub fn load(file: Option<&Path>) -> Result<MasterKey, KmsError> {
        if let Ok(text) = std::env::var("HCAL_MASTER_KEY")
            && !text.trim().is_empty()
        {
            return MasterKey::from_base64(&text)
                .map_err(|_| KmsError::BadMasterKey("in HCAL_MASTER_KEY".into()));
        }
        match file {
            Some(path) => MasterKey::load_file(path),
            None => Err(KmsError::NoMasterKey),
        }
    }

    /// From a file holding the base64 text (not the environment).
    pub fn load_file(path: &Path) -> Result<MasterKey, KmsError> {
        let text = std::fs::read_to_string(path).map_err(|e| KmsError::MasterKeyFile {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        MasterKey::from_base64(&text)
            .map_err(|_| KmsError::BadMasterKey(format!("in {}", path.display())))
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.0).expect("32 bytes is an AES-256 key"),
        )
    }
}

/// Org keys over a store.
pub struct Kms<'a, S: Store + ?Sized> {
    store: &'a S,
    master: MasterKey,
    random: SystemRandom,
    /// Keys opened by this handle: a list names the same few keys in every
    /// sealed field, and a key never changes under its URL.
    opened: std::sync::Mutex<std::collections::HashMap<String, OrgKey>>,
}

impl<'a, S: Store + ?Sized> Kms<'a, S> {
    pub fn new(store: &'a S, master: MasterKey) -> Kms<'a, S> {
        Kms {
            store,
            master,
            random: SystemRandom::new(),
            opened: Default::default(),
        }
    }

    /// The key new data is sealed with (made on first use).
    pub fn active_key(&self) -> Result<OrgKey, KmsError> {
        match self.store.keys()?.into_iter().find(|k| k.active) {
            Some(wrapped) => self.unwrap(&wrapped),
            None => self.rotate(),
        }
    }

    /// Make a new active key; the old ones stay for opening old data.
    pub fn rotate(&self) -> Result<OrgKey, KmsError> {
        let mut key = vec![0u8; 32];
        self.random.fill(&mut key).map_err(|_| KmsError::Random)?;
        let mut id = [0u8; 16];
        self.random.fill(&mut id).map_err(|_| KmsError::Random)?;
        id[6] = (id[6] & 0x0f) | 0x40;
        id[8] = (id[8] & 0x3f) | 0x80;
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let key_url = format!(
            "kms://local/keys/{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        let wrapped = self.wrap(&self.master, &key_url, &key)?;
        self.store.put_key(&WrappedKey {
            key_url: key_url.clone(),
            wrapped,
            created_at: jiff::Timestamp::now().as_second(),
            active: true,
        })?;
        Ok(OrgKey { key_url, key })
    }

    /// The key with this URL (to open data sealed under an older key).
    pub fn key(&self, key_url: &str) -> Result<OrgKey, KmsError> {
        let opened = || self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = opened().get(key_url) {
            return Ok(key.clone());
        }
        let wrapped = self
            .store
            .keys()?
            .into_iter()
            .find(|k| k.key_url == key_url)
            .ok_or_else(|| KmsError::UnknownKey(key_url.to_string()))?;
        let key = self.unwrap(&wrapped)?;
        opened().insert(key_url.to_string(), key.clone());
        Ok(key)
    }

    /// `key` sealed under `master` (a fresh nonce, the URL as associated
    /// data, so a wrapped key cannot be passed off under another URL).
    fn wrap(&self, master: &MasterKey, key_url: &str, key: &[u8]) -> Result<Vec<u8>, KmsError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| KmsError::Random)?;
        let mut sealed = key.to_vec();
        master
            .aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key_url.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| KmsError::Random)?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&sealed);
        Ok(wrapped)
    }

    /// Wrap every org key under `new` instead of this handle's master key,
    /// all in one transaction: every key opens with the old master key
    /// first (one that does not stops it all, nothing changed), and after
    /// it every key opens with the new one and no longer with the old.
    /// Returns how many keys were re-wrapped.
    pub fn rewrap(&self, new: &MasterKey) -> Result<usize, KmsError> {
        if new.0 == self.master.0 {
            return Err(KmsError::BadMasterKey(
                "given as the new one is the current one".into(),
            ));
        }
        let stored = self.store.keys()?;
        let mut rewrapped = Vec::with_capacity(stored.len());
        for wrapped in &stored {
            let key = self.unwrap(wrapped)?;
            rewrapped.push(WrappedKey {
                wrapped: self.wrap(new, &key.key_url, &key.key)?,
                ..wrapped.clone()
            });
        }
        self.store.rewrap_keys(&rewrapped)?;
        self.opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(rewrapped.len())
    }

    fn unwrap(&self, wrapped: &WrappedKey) -> Result<OrgKey, KmsError> {
        let wrong = || KmsError::WrongMasterKey {
            key_url: wrapped.key_url.clone(),
        };
        if wrapped.wrapped.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, sealed) = wrapped.wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut buffer = sealed.to_vec();
        let key = self
            .master
            .aead()
            .open_in_place(nonce, Aad::from(wrapped.key_url.as_bytes()), &mut buffer)
            .map_err(|_| wrong())?;
        if key.len() != 32 {
            return Err(wrong());
        }
        Ok(OrgKey {
            key_url: wrapped.key_url.clone(),
            key: key.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn rewrapping_keeps_every_key_and_moves_it_to_the_new_master_key() {
        let store = SqliteStore::in_memory().unwrap();
        let old = MasterKey::random().unwrap();
        let new = MasterKey::random().unwrap();
        let kms = Kms::new(&store, old.clone());
        let first = kms.rotate().unwrap();
        let second = kms.rotate().unwrap();
        // A wrong "current" master key re-wraps nothing.
        let stranger = Kms::new(&store, MasterKey::random().unwrap());
        assert!(matches!(
            stranger.rewrap(&new),
            Err(KmsError::WrongMasterKey { .. })
        ));
        assert_eq!(
            Kms::new(&store, old.clone()).key(&first.key_url).unwrap(),
            first
        );

        // The same master key as the new one: refused, not a silent no-op.
        assert!(matches!(kms.rewrap(&old), Err(KmsError::BadMasterKey(_))));
        assert_eq!(kms.rewrap(&new).unwrap(), 2);
        let after = Kms::new(&store, new);
        assert_eq!(after.key(&first.key_url).unwrap(), first);
        assert_eq!(after.key(&second.key_url).unwrap(), second);
        assert_eq!(
            after.active_key().unwrap(),
            second,
            "the active key stays active"
        );
        let before = Kms::new(&store, old);
        assert!(matches!(
            before.key(&first.key_url),
            Err(KmsError::WrongMasterKey { .. })
        ));
    }
}
