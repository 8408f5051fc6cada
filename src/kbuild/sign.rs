//! Module signing (`lfc compile … --sign-key KEY.pem --sign-cert CERT`):
//! the kernel tree's own `scripts/sign-file`, with the hash the target
//! kernel verifies (`CONFIG_MODULE_SIG_HASH` of its `auto.conf`).
//!
//! A signed module ends with the PKCS#7 signature, a 12-byte
//! `struct module_signature` (`include/linux/module_signature.h`: algo,
//! hash, id_type, signer_len, key_id_len, 3 pad bytes, big-endian sig_len)
//! and the marker `~Module signature appended~\n`. After signing, that
//! trailer is checked here before the module is handed out.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Error;
use crate::Result;

/// The marker the kernel looks for at the end of a signed module.
pub const SIG_MAGIC: &[u8] = b"~Module signature appended~\n";
/// `PKEY_ID_PKCS7`: the only signature type the kernel accepts.
pub const PKEY_ID_PKCS7: u8 = 2;
const SIG_STRUCT_LEN: usize = 12;

/// A private key and its X.509 certificate (DER or PEM, as sign-file reads
/// them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKey {
    pub key: PathBuf,
    pub cert: PathBuf,
}

impl SigningKey {
    /// Both files are readable (checked before anything is built).
    pub fn check(&self) -> Result<()> {
        for (what, p) in [("--sign-key", &self.key), ("--sign-cert", &self.cert)] {
            std::fs::File::open(p)
                .map_err(|e| Error::option(what, format!("{}: {e}", p.display())))?;
        }
        Ok(())
    }
}

/// The appended signature of a module, as the kernel reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trailer {
    pub id_type: u8,
    /// Byte range of the PKCS#7 (DER) signature in the file.
    pub sig_start: usize,
    pub sig_len: usize,
}

/// Parses the signature trailer of a module, or `None` when it is not
/// signed (or the trailer is malformed).
pub fn trailer(ko: &[u8]) -> Option<Trailer> {
    let body = ko.strip_suffix(SIG_MAGIC)?;
    let st = body.len().checked_sub(SIG_STRUCT_LEN)?;
    let ms = &body[st..];
    let sig_len = u32::from_be_bytes([ms[8], ms[9], ms[10], ms[11]]) as usize;
    let sig_start = st.checked_sub(sig_len)?;
    if sig_len == 0 {
        return None;
    }
    Some(Trailer {
        id_type: ms[2],
        sig_start,
        sig_len,
    })
}

/// `CONFIG_MODULE_SIG_HASH` of the kernel tree at `kdir`.
pub fn sig_hash(kdir: &Path) -> Result<String> {
    let conf = kdir.join("include/config/auto.conf");
    let text = std::fs::read_to_string(&conf).map_err(|e| Error::io(&conf, e))?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    if value("CONFIG_MODULE_SIG").as_deref() != Some("y") {
        return Err(Error::Build {
            tool: "sign-file".into(),
            output: format!(
                "the kernel at {} has no module signature support \
                 (CONFIG_MODULE_SIG is not set in {}): it would ignore a signature",
                kdir.display(),
                conf.display()
            ),
        });
    }
    value("CONFIG_MODULE_SIG_HASH").ok_or_else(|| Error::Build {
        tool: "sign-file".into(),
        output: format!("{} has no CONFIG_MODULE_SIG_HASH", conf.display()),
    })
}

/// Signs `ko` in place with `kdir`'s `scripts/sign-file` and checks the
/// result carries a PKCS#7 signature trailer.
pub fn sign_module(kdir: &Path, key: &SigningKey, ko: &Path) -> Result<()> {
    key.check()?;
    let hash = sig_hash(kdir)?;
    let tool = kdir.join("scripts/sign-file");
    let out = Command::new(&tool)
        .arg(&hash)
        .arg(&key.key)
        .arg(&key.cert)
        .arg(ko)
        .output()
        .map_err(|e| Error::Build {
            tool: "sign-file".into(),
            output: format!("cannot run {}: {e}", tool.display()),
        })?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err(Error::Build {
            tool: format!(
                "sign-file ({} {hash} {} {})",
                tool.display(),
                key.key.display(),
                key.cert.display()
            ),
            output: text,
        });
    }
    let bytes = std::fs::read(ko).map_err(|e| Error::io(ko, e))?;
    match trailer(&bytes) {
        Some(t) if t.id_type == PKEY_ID_PKCS7 => Ok(()),
        _ => Err(Error::Build {
            tool: "sign-file".into(),
            output: format!(
                "{} succeeded but {} carries no PKCS#7 signature trailer",
                tool.display(),
                ko.display()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_trailer_parsing() {
        let mut ko = b"\x7fELF....".to_vec();
        let sig = [0x30u8, 0x82, 1, 2, 3];
        ko.extend_from_slice(&sig);
        ko.extend_from_slice(&[0, 0, PKEY_ID_PKCS7, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        ko.extend_from_slice(SIG_MAGIC);
        let t = trailer(&ko).unwrap();
        assert_eq!(t.id_type, PKEY_ID_PKCS7);
        assert_eq!(&ko[t.sig_start..t.sig_start + t.sig_len], &sig);
        // Unsigned, truncated, or a length pointing before the file.
        assert_eq!(trailer(b"\x7fELF...."), None);
        assert_eq!(trailer(SIG_MAGIC), None);
        let mut bad = vec![0u8; 4];
        bad.extend_from_slice(&[0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
        bad.extend_from_slice(SIG_MAGIC);
        assert_eq!(trailer(&bad), None);
    }

    #[test]
    fn sign_hash_from_auto_conf() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("include/config")).unwrap();
        let conf = d.path().join("include/config/auto.conf");
        std::fs::write(
            &conf,
            "CONFIG_MODULE_SIG_ALL=y\nCONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_HASH=\"sha512\"\n",
        )
        .unwrap();
        assert_eq!(sig_hash(d.path()).unwrap(), "sha512");
        std::fs::write(&conf, "CONFIG_MODULES=y\n").unwrap();
        let e = sig_hash(d.path()).unwrap_err().to_string();
        assert!(e.contains("CONFIG_MODULE_SIG is not set"), "{e}");
    }
}
