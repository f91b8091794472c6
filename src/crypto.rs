//! The instance key and what is derived from it: the session cookie key and the AEAD that
//! encrypts secrets at rest (API tokens, client secrets entered in the browser).

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("instance key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("instance key file {0} is damaged (expected 64 random bytes, base64url); restore it from a backup")]
    Damaged(PathBuf),
    #[error("the instance key file {key} is missing, but the database {database} holds data sealed with its key (API tokens, client secrets). Restore the key file from your backup to {key} (`teamportal backup DEST` keeps it as DEST.key) and start again; no new key was made, because it could not open that data")]
    Missing { key: PathBuf, database: PathBuf },
    #[error("the instance key file {key} is not the key that sealed the data in the database {database}. Put back the key file that belongs to this database (from its backup: DEST.key beside DEST) and start again; with this key its API tokens and client secrets cannot be opened")]
    Wrong { key: PathBuf, database: PathBuf },
    #[error("cannot check the instance key against the database: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// 64 random bytes generated on first start; never a shipped default.
#[derive(Clone)]
pub struct InstanceKey {
    bytes: [u8; 64],
}

impl std::fmt::Debug for InstanceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstanceKey(***)")
    }
}

/// The key file lives next to the database: `teamportal.db` -> `teamportal.db.key`.
pub fn key_path(database: &Path) -> PathBuf {
    let mut p = database.as_os_str().to_owned();
    p.push(".key");
    PathBuf::from(p)
}

impl InstanceKey {
    /// Reads the key file, or creates it (mode 0600) when it does not exist. Only for a key
    /// that guards nothing yet (unit tests); the program goes through [`crate::keyguard`],
    /// which never replaces the key of a database that holds sealed data.
    pub fn load_or_create(path: &Path) -> Result<InstanceKey, KeyError> {
        match Self::load(path)? {
            Some(key) => Ok(key),
            None => Self::create(path),
        }
    }

    /// Reads the key file; `None` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<InstanceKey>, KeyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let raw = URL_SAFE_NO_PAD
                    .decode(text.trim())
                    .map_err(|_| KeyError::Damaged(path.to_path_buf()))?;
                let bytes: [u8; 64] = raw
                    .try_into()
                    .map_err(|_| KeyError::Damaged(path.to_path_buf()))?;
                Ok(Some(InstanceKey { bytes }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Generates a new key and writes it to a new file (mode 0600); an existing file is an
    /// error, never overwritten.
    pub fn create(path: &Path) -> Result<InstanceKey, KeyError> {
        let mut bytes = [0u8; 64];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = InstanceKey { bytes };
        key.write_new(path)?;
        tracing::info!(path = %path.display(), "generated a new instance key");
        Ok(key)
    }

    /// Writes this key to a new file (mode 0600): the key file itself, or a backup's copy.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(path).map_err(io)?;
        file.write_all(URL_SAFE_NO_PAD.encode(self.bytes).as_bytes())
            .map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(())
    }

    /// A keyed hash that identifies this key without revealing it: the database stores it
    /// to recognise the key that sealed its secrets.
    pub fn check_value(&self) -> [u8; 32] {
        let d = self.derive("teamportal key check");
        let mut out = [0u8; 32];
        out.copy_from_slice(&d[..32]);
        out
    }

    fn derive(&self, label: &str) -> [u8; 64] {
        let mut h = Sha512::new();
        h.update(label.as_bytes());
        h.update([0u8]);
        h.update(self.bytes);
        h.finalize().into()
    }

    /// 64 bytes for signing/encrypting the session cookie.
    pub fn cookie_key(&self) -> actix_web::cookie::Key {
        actix_web::cookie::Key::from(&self.derive("teamportal cookie"))
    }

    pub fn sealer(&self) -> Sealer {
        let k = self.derive("teamportal aead");
        Sealer {
            aead: XChaCha20Poly1305::new_from_slice(&k[..32]).expect("32-byte key"),
        }
    }

    /// A key for test-only or demo signing material derived from the instance key.
    pub fn derive_bytes(&self, label: &str) -> [u8; 64] {
        self.derive(label)
    }
}

/// Authenticated encryption of small secrets with the instance key.
#[derive(Clone)]
pub struct Sealer {
    aead: XChaCha20Poly1305,
}

impl Sealer {
    /// nonce (24 bytes) || ciphertext; `context` is bound as associated data.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                chacha20poly1305::aead::Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ct);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Option<Vec<u8>> {
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(24);
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                chacha20poly1305::aead::Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .ok()
    }
}

/// `n` random bytes, base64url without padding.
pub fn random_string(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

pub const TOKEN_PREFIX: &str = "tp_";

/// A new API token secret: `tp_` and 256 random bits in base64url (43 characters).
pub fn new_token_secret() -> String {
    format!("{TOKEN_PREFIX}{}", random_string(32))
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Constant-time string comparison for secrets such as CSRF tokens.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_secrets_have_the_documented_shape() {
        let s = new_token_secret();
        assert!(s.starts_with("tp_"));
        assert_eq!(s.len(), 3 + 43);
        assert!(s[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(s, new_token_secret());
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = InstanceKey::load_or_create(&dir.path().join("a.key")).expect("key a");
        let b = InstanceKey::load_or_create(&dir.path().join("b.key")).expect("key b");
        let sealed = a.sealer().seal(b"tp_secret", "token:1");
        assert_eq!(
            a.sealer().open(&sealed, "token:1").as_deref(),
            Some(&b"tp_secret"[..])
        );
        assert_eq!(a.sealer().open(&sealed, "token:2"), None);
        assert_eq!(b.sealer().open(&sealed, "token:1"), None);
    }
}
