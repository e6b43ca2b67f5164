//! Token encryption at rest: XChaCha20-Poly1305 (AEAD) keyed by `TOKEN_ENCRYPTION_KEY` or a
//! generated key file, every value bound to the row it is stored in.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// A fresh random token (256 bits, URL-safe).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Compares without leaking, through timing, how much of the value matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Name of the generated key file, in the data directory.
pub const KEY_FILE: &str = "token-encryption.key";
/// Prefix of every sealed value (the format's version): its additional data names its row.
const PREFIX: &str = "v2.";
/// The first format, whose additional data was one constant: only re-sealed at start-up.
const LEGACY_PREFIX: &str = "v1.";
const LEGACY_AAD: &[u8] = b"sentinel-console token v1";
const NONCE_LEN: usize = 24;

/// Where a sealed value is stored, bound into its ciphertext as additional data: a value copied
/// to another row (or put to another use) does not open there.
#[derive(Debug, Clone, Copy)]
pub enum Row<'a> {
    /// A session record, by its id.
    Session(&'a str),
    /// A kept sign-in, by its id.
    Grant(uuid::Uuid),
    /// A running job's one secret (a SmartSpot change's Wi-Fi password), by the job's id.
    JobSecret(uuid::Uuid),
    /// The database's key check value.
    KeyCheck,
}

impl Row<'_> {
    fn aad(&self) -> Vec<u8> {
        match self {
            Row::Session(id) => format!("sentinel-console v2 session {id}"),
            Row::Grant(id) => format!("sentinel-console v2 grant {id}"),
            Row::JobSecret(id) => format!("sentinel-console v2 job secret {id}"),
            Row::KeyCheck => "sentinel-console v2 key-check".to_owned(),
        }
        .into_bytes()
    }
}

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

    /// `plain` sealed for `row` with a fresh random nonce: `v2.` + base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plain: &str, row: Row<'_>) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = row.aad();
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: &aad,
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

    /// Opens a value [`TokenCipher::seal`]ed for the same `row` with the same key.
    pub fn open(&self, sealed: &str, row: Row<'_>) -> Result<String, DecryptError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(DecryptError)?;
        self.open_with(body, &row.aad())
    }

    /// Is `sealed` in the first format (bound to no row), which [`TokenCipher::reseal`] replaces?
    pub fn is_legacy(sealed: &str) -> bool {
        sealed.starts_with(LEGACY_PREFIX)
    }

    /// A first-format value sealed again for `row`; `None` when it does not open with this key.
    pub fn reseal(&self, legacy: &str, row: Row<'_>) -> Option<String> {
        let body = legacy.strip_prefix(LEGACY_PREFIX)?;
        let plain = self.open_with(body, LEGACY_AAD).ok()?;
        Some(self.seal(&plain, row))
    }

    fn open_with(&self, body: &str, aad: &[u8]) -> Result<String, DecryptError> {
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| DecryptError)?;
        if bytes.len() < NONCE_LEN {
            return Err(DecryptError);
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| DecryptError)?;
        String::from_utf8(plain).map_err(|_| DecryptError)
    }

    /// A first-format value, as versions before row binding wrote it (for tests of the re-sealing).
    #[doc(hidden)]
    pub fn seal_legacy(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: LEGACY_AAD,
        };
        let mut out = nonce.to_vec();
        out.extend_from_slice(
            &self
                .aead
                .encrypt(XNonce::from_slice(&nonce), payload)
                .unwrap_or_default(),
        );
        format!("{LEGACY_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
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
    narrow_to_owner(&path)?;
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_key(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// A file holding secrets that others may read or write is narrowed to 0600; when that is not
/// possible, start-up stops, saying why.
pub fn narrow_to_owner(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading the permissions of {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).with_context(
                || {
                    format!(
                        "{} is open to other users (mode {:o}) and cannot be narrowed to 0600: \
                         refusing to use it. Make it private (chmod 600, owned by the console's \
                         user) and start again",
                        path.display(),
                        mode & 0o777
                    )
                },
            )?;
            tracing::warn!(path = %path.display(), was = %format!("{:o}", mode & 0o777), "narrowed a private file to mode 0600");
        }
    }
    Ok(())
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
        let row = Row::Session("abc");
        let sealed = a.seal("access-abc", row);
        assert!(!sealed.contains("access-abc"));
        assert_ne!(sealed, a.seal("access-abc", row), "fresh nonce each time");
        assert_eq!(a.open(&sealed, row).unwrap(), "access-abc");
        assert!(TokenCipher::new(&[8; 32]).open(&sealed, row).is_err());
        assert!(a.open("access-abc", row).is_err());
        assert!(a.open("v2.AAAA", row).is_err());
    }

    #[test]
    fn a_value_opens_in_its_own_row_only() {
        let a = TokenCipher::new(&[7; 32]);
        let (g1, g2) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let sealed = a.seal("tokens", Row::Grant(g1));
        assert_eq!(a.open(&sealed, Row::Grant(g1)).unwrap(), "tokens");
        assert!(a.open(&sealed, Row::Grant(g2)).is_err());
        assert!(a.open(&sealed, Row::Session(&g1.to_string())).is_err());
        assert!(a.open(&sealed, Row::KeyCheck).is_err());
        // The first format opens only to be re-sealed for its row.
        let legacy = a.seal_legacy("tokens");
        assert!(TokenCipher::is_legacy(&legacy));
        assert!(a.open(&legacy, Row::Grant(g1)).is_err());
        let resealed = a.reseal(&legacy, Row::Grant(g2)).unwrap();
        assert_eq!(a.open(&resealed, Row::Grant(g2)).unwrap(), "tokens");
        assert!(
            TokenCipher::new(&[8; 32])
                .reseal(&legacy, Row::KeyCheck)
                .is_none()
        );
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
        assert_eq!(
            b.open(&a.seal("x", Row::KeyCheck), Row::KeyCheck).unwrap(),
            "x"
        );
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

    /// A data directory whose key file (of `[3; 32]`) anyone may read (0644): (dir, key file).
    #[cfg(unix)]
    fn loose_key_file() -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sc-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = key_file_path(&dir);
        std::fs::write(&path, STANDARD.encode([3u8; 32])).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        (dir, path)
    }

    #[cfg(unix)]
    #[test]
    fn a_loose_key_file_is_narrowed() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, path) = loose_key_file();
        let c = TokenCipher::from_config(None, &dir).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let same = TokenCipher::new(&[3u8; 32]);
        assert_eq!(
            same.open(&c.seal("x", Row::KeyCheck), Row::KeyCheck)
                .unwrap(),
            "x"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A loose key file that cannot be changed (immutable: even root's chmod fails) stops start-up.
    #[cfg(unix)]
    #[test]
    fn a_loose_key_file_that_cannot_be_narrowed_stops_start_up() {
        let (dir, path) = loose_key_file();
        let chattr = |flag: &str| {
            std::process::Command::new("chattr")
                .arg(flag)
                .arg(&path)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !chattr("+i") {
            eprintln!("skipped: this file system cannot make a file immutable (chattr +i)");
            let _ = std::fs::remove_dir_all(dir);
            return;
        }
        let result = TokenCipher::from_config(None, &dir);
        chattr("-i");
        let _ = std::fs::remove_dir_all(&dir);
        let err = format!("{:#}", result.unwrap_err());
        assert!(
            err.contains("open to other users (mode 644)")
                && err.contains("cannot be narrowed to 0600")
                && err.contains("chmod 600"),
            "{err}"
        );
    }
}
