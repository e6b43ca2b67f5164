//! Token encryption at rest: XChaCha20-Poly1305 (AEAD) keyed by `TOKEN_ENCRYPTION_KEY` or a generated key file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

/// Name of the generated key file, in the data directory.
pub const KEY_FILE: &str = "token-encryption.key";
/// Prefix of every sealed value (the format's version).
const PREFIX: &str = "v1.";
/// Bound into every ciphertext: a sealed value of another purpose does not open here.
const AAD: &[u8] = b"sentinel-console token v1";
const NONCE_LEN: usize = 24;

/// Encrypts and decrypts secrets stored in the database (session tokens, later other secrets).
#[derive(Clone)]
pub struct TokenCipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher([redacted])")
    }
}

/// A sealed value that cannot be opened: wrong key, damaged or not sealed.
#[derive(Debug, thiserror::Error)]
#[error("the value cannot be decrypted with this key (wrong key, or damaged)")]
pub struct DecryptError;

/// Parses `TOKEN_ENCRYPTION_KEY`: base64 (standard or URL-safe) of exactly 32 bytes.
pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
        .map_err(|_| {
            "TOKEN_ENCRYPTION_KEY is not base64 (generate one with `openssl rand -base64 32`)"
                .to_owned()
        })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "TOKEN_ENCRYPTION_KEY must be the base64 of 32 bytes, not {} (generate one with `openssl rand -base64 32`)",
            bytes.len()
        )
    })
}

impl TokenCipher {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// The configured key, or else the key file in `data_dir` (created, mode 0600, when missing).
    pub fn from_config(key: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        match key {
            Some(k) => Ok(Self::new(&parse_key(k).map_err(anyhow::Error::msg)?)),
            None => Ok(Self::new(&key_file(data_dir)?)),
        }
    }

    /// `plain` sealed with a fresh random nonce: `v1.` + base64url(nonce ‖ ciphertext ‖ tag).
    pub fn encrypt(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: AAD,
        };
        // Encryption only fails for messages beyond 256 GiB.
        let sealed = self
            .aead
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed by [`TokenCipher::encrypt`] with the same key.
    pub fn decrypt(&self, sealed: &str) -> Result<String, DecryptError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(DecryptError)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| DecryptError)?;
        if bytes.len() < NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: AAD })
            .map_err(|_| DecryptError)?;
        String::from_utf8(plain).map_err(|_| DecryptError)
    }
}

/// Reads `data_dir/token-encryption.key`, or creates it (mode 0600, atomically: several
/// instances starting together end up with the same key).
fn key_file(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    let path = data_dir.join(KEY_FILE);
    if !path.exists() {
        create_dir_private(data_dir)?;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let tmp = data_dir.join(format!(".{KEY_FILE}.{}", uuid::Uuid::new_v4().simple()));
        let mut f = private_file(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(STANDARD.encode(key).as_bytes())?;
        f.sync_all()?;
        drop(f);
        // A hard link fails when the file exists: whoever links first wins, the others read it.
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                "TOKEN_ENCRYPTION_KEY unset: generated a token encryption key file (set the same \
                 TOKEN_ENCRYPTION_KEY on every instance that shares the database)"
            ),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_key(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Creates `dir` (and its parents) when missing, the last one mode 0700.
pub fn create_dir_private(dir: &Path) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Creates a new file readable and writable by its owner only (0600).
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// The key file's path for `data_dir`.
pub fn key_file_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let a = TokenCipher::new(&[7; 32]);
        let sealed = a.encrypt("access-abc");
        assert!(!sealed.contains("access-abc"));
        assert_ne!(sealed, a.encrypt("access-abc"), "fresh nonce each time");
        assert_eq!(a.decrypt(&sealed).unwrap(), "access-abc");
        assert!(TokenCipher::new(&[8; 32]).decrypt(&sealed).is_err());
        assert!(a.decrypt("access-abc").is_err());
        assert!(a.decrypt("v1.AAAA").is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(parse_key(&STANDARD.encode([1u8; 32])).is_ok());
        assert!(parse_key(&URL_SAFE_NO_PAD.encode([1u8; 32])).is_ok());
        assert!(
            parse_key(&STANDARD.encode([1u8; 16]))
                .unwrap_err()
                .contains("32 bytes")
        );
        assert!(parse_key("not base64!").unwrap_err().contains("base64"));
    }

    #[test]
    fn key_file_is_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("sc-key-{}", uuid::Uuid::new_v4()));
        let a = TokenCipher::from_config(None, &dir).unwrap();
        let b = TokenCipher::from_config(None, &dir).unwrap();
        assert_eq!(b.decrypt(&a.encrypt("x")).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_file_path(&dir))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
