// Build script:
// - makes cargo rebuild when templates or runtime-kmod change (askama reads
//   templates at compile time);
// - embeds runtime-kmod's sources (lf_kernel.ko, the slot manager) into the
//   binary as a generated file list, so `lfc compile -o X.ko` can build the
//   slot manager's Module.symvers for any kernel tree without a checkout;
// - records the git revision.
use std::path::{Path, PathBuf};

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            collect(root, &p, out);
        } else if name.ends_with(".c")
            || name.ends_with(".h")
            || name == "Kbuild"
            || name == "Makefile"
        {
            if name.ends_with(".mod.c") {
                continue;
            }
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=runtime-kmod");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("runtime-kmod");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    let mut src = String::from("/// runtime-kmod sources: (path relative to runtime-kmod/, contents).\npub const RUNTIME_FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        let abs = root.join(f);
        println!("cargo:rerun-if-changed={}", abs.display());
        src.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            f.to_string_lossy(),
            abs.to_string_lossy()
        ));
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("runtime_files.rs");
    std::fs::write(out, src).unwrap();

    let rev = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=LFC_GIT_REV={rev}");
    println!(
        "cargo:rustc-env=LFC_TARGET={}",
        std::env::var("TARGET").unwrap()
    );
}
