//! The lfc command as a process: a closed stdout pipe, and the shell
//! completions `lfc gen completions` prints, loaded into the real shells.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn lfc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lfc"))
}

/// `lfc ... | head`: the reader is gone before lfc writes. lfc must end
/// by SIGPIPE (what cat does; the shell stays quiet about it), without a
/// panic message or any other output on stderr.
#[test]
fn cli_closed_stdout_pipe_ends_quietly() {
    for args in [
        &["gen", "completions", "bash"][..],
        &[
            "inspect",
            "examples/aurora/aurora.onnx",
            "--calibration",
            "examples/aurora/representative_dataset.npy",
        ][..],
    ] {
        let mut child = lfc()
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the only read end
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?} {stderr}",
            out.status
        );
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

fn completions(shell: &str, dir: &Path) -> std::path::PathBuf {
    let out = lfc().args(["gen", "completions", shell]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = dir.join(format!("lfc.{shell}"));
    std::fs::write(&p, &out.stdout).unwrap();
    p
}

fn shell(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (scripts/install-deps.sh installs zsh and fish)")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?}: {text}");
    text
}

/// Each shell loads lfc's completions and then completes `lfc co` to the
/// subcommand `compile` (bash through the completion function it
/// registered, zsh through its compsys, fish through `complete -C`).
#[test]
fn cli_completions_load_and_complete_in_bash_zsh_fish() {
    let d = tempfile::tempdir().unwrap();
    let bash = completions("bash", d.path());
    let out = shell(Command::new("bash").arg("-c").arg(format!(
        "source {}; COMP_WORDS=(lfc co); COMP_CWORD=1; COMP_LINE='lfc co'; \
         COMP_POINT=6; _lfc lfc co lfc; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bash.display()
    )));
    assert!(out.lines().any(|l| l == "compile"), "bash: {out}");

    let zsh = completions("zsh", d.path());
    shell(Command::new("zsh").arg("-n").arg(&zsh));
    // compsys loads the file as the autoloaded function _lfc.
    std::fs::copy(&zsh, d.path().join("_lfc")).unwrap();
    let out = shell(Command::new("zsh").arg("-f").arg("-c").arg(format!(
        "fpath=({} $fpath); autoload -Uz compinit; compinit -u -D; \
         autoload -Uz _lfc; whence -w _lfc; print -r -- $_comps[lfc]",
        d.path().display()
    )));
    assert!(
        out.contains("_lfc: function") && out.trim_end().ends_with("_lfc"),
        "zsh: {out}"
    );

    let fish = completions("fish", d.path());
    shell(Command::new("fish").arg("--no-execute").arg(&fish));
    let out = shell(
        Command::new("fish")
            .arg("--no-config")
            .arg("-c")
            .arg(format!("source {}; complete -C 'lfc co'", fish.display())),
    );
    assert!(out.lines().any(|l| l.starts_with("compile")), "fish: {out}");
}
