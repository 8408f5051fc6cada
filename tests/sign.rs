//! `lfc compile -o X.ko --sign-key --sign-cert`: a real module built for an
//! installed Debian kernel, signed with an openssl-generated test key. The
//! signature is checked by modinfo (signer, hash) and verified
//! cryptographically by openssl over the module's bytes; a flipped byte
//! must fail that verification. Enforcement (a kernel that trusts the key,
//! booted with module.sig_enforce=1) is not tested here.

use std::path::{Path, PathBuf};
use std::process::Command;

const MAGIC: &[u8] = b"~Module signature appended~\n";

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    out
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The newest installed Debian headers (scripts/install-deps.sh installs
/// them; their absence is a failure, not a skip).
fn kdir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/src")
        .expect("/usr/src")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("linux-headers-") && n.ends_with("-amd64")
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("no /usr/src/linux-headers-*-amd64: run scripts/install-deps.sh")
}

fn test_key(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (key, der, pem) = (
        dir.join("key.pem"),
        dir.join("cert.der"),
        dir.join("cert.pem"),
    );
    ok(Command::new("openssl")
        .args([
            "req", "-new", "-nodes", "-utf8", "-sha256", "-days", "2", "-batch",
        ])
        .args(["-x509", "-newkey", "rsa:2048", "-outform", "DER"])
        .args(["-subj", "/CN=lfc test signing key/"])
        .arg("-out")
        .arg(&der)
        .arg("-keyout")
        .arg(&key));
    ok(Command::new("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(&der)
        .arg("-out")
        .arg(&pem));
    (key, der, pem)
}

fn modinfo(ko: &Path, field: &str) -> String {
    ok(Command::new("modinfo").args(["-F", field]).arg(ko))
        .trim()
        .to_string()
}

/// `openssl cms -verify` of the detached PKCS#7 `sig` over `content`.
fn openssl_verifies(dir: &Path, content: &[u8], sig: &[u8], cert: &Path) -> bool {
    let (c, s) = (dir.join("content.bin"), dir.join("sig.p7s"));
    std::fs::write(&c, content).unwrap();
    std::fs::write(&s, sig).unwrap();
    run(Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
        .arg(&s)
        .arg("-content")
        .arg(&c)
        .arg("-certfile")
        .arg(cert)
        .args(["-nointern", "-noverify", "-out", "/dev/null"]))
    .status
    .success()
}

#[test]
fn sign_compiled_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("examples/aurora/aurora.onnx");
    let calib = root.join("examples/aurora/representative_dataset.npy");
    let dir = tempfile::tempdir().unwrap();
    let (key, der, pem) = test_key(dir.path());
    let kdir = kdir();
    let ko = dir.path().join("lf_model_1.ko");
    ok(Command::new(env!("CARGO_BIN_EXE_lfc"))
        .arg("compile")
        .arg(&model)
        .arg("--calibration")
        .arg(&calib)
        .arg("-o")
        .arg(&ko)
        .arg("--kdir")
        .arg(&kdir)
        .arg("--sign-key")
        .arg(&key)
        .arg("--sign-cert")
        .arg(&der)
        .env("LFC_CACHE", dir.path().join("cache")));

    // The hash the target kernel verifies with.
    let conf = std::fs::read_to_string(kdir.join("include/config/auto.conf")).unwrap();
    let hash = conf
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_MODULE_SIG_HASH="))
        .unwrap()
        .trim_matches('"');
    assert_eq!(modinfo(&ko, "signer"), "lfc test signing key");
    assert_eq!(modinfo(&ko, "sig_hashalgo"), hash);
    assert_eq!(modinfo(&ko, "sig_id"), "PKCS#7");

    // struct module_signature: id_type at 2, big-endian sig_len at 8..12.
    let bytes = std::fs::read(&ko).unwrap();
    assert!(bytes.ends_with(MAGIC));
    let ms = &bytes[bytes.len() - MAGIC.len() - 12..bytes.len() - MAGIC.len()];
    assert_eq!(ms[2], 2, "PKEY_ID_PKCS7");
    let sig_len = u32::from_be_bytes(ms[8..12].try_into().unwrap()) as usize;
    let sig_end = bytes.len() - MAGIC.len() - 12;
    let (content, sig) = (
        &bytes[..sig_end - sig_len],
        &bytes[sig_end - sig_len..sig_end],
    );
    assert!(content.starts_with(b"\x7fELF"));
    assert!(openssl_verifies(dir.path(), content, sig, &pem));
    let mut tampered = content.to_vec();
    tampered[content.len() / 2] ^= 1;
    assert!(!openssl_verifies(dir.path(), &tampered, sig, &pem));
}

#[test]
fn sign_refusals() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("examples/aurora/aurora.onnx");
    let dir = tempfile::tempdir().unwrap();
    let lfc = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_lfc"));
        c.arg("compile").arg(&model).arg("--input-range").arg("0:1");
        c
    };
    // A key without its certificate: usage error.
    let out = run(lfc().args(["-o", "x.ko", "--sign-key", "k.pem"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sign-cert"));
    // Signing C source: refused, nothing written.
    let c = dir.path().join("lf_model_1.c");
    let out = run(lfc()
        .arg("-o")
        .arg(&c)
        .args(["--sign-key", "k.pem", "--sign-cert", "c.der"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only a kernel module"));
    assert!(!c.exists());
    // A missing key file: named, before anything is built, nothing written.
    let ko = dir.path().join("lf_model_1.ko");
    let missing = dir.path().join("nokey.pem");
    let out = run(lfc()
        .arg("-o")
        .arg(&ko)
        .arg("--kdir")
        .arg(kdir())
        .arg("--sign-key")
        .arg(&missing)
        .arg("--sign-cert")
        .arg(&missing));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--sign-key") && err.contains("nokey.pem"),
        "{err}"
    );
    assert!(!ko.exists());
}
