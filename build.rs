//! Build script: records the commit postdesk is built from, for
//! `postdesk --version`. Taken from `POSTDESK_COMMIT` when set (builds from
//! a source tarball), else from `git rev-parse --short=12 HEAD`, else
//! "unknown". And lists the shipped mail templates
//! (`mail-templates/<lang>/<name>.txt|html`) for `notify::shipped`, so a
//! new template ships by adding its files. And packs a release binary's
//! relative relocations when the C library can read them.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Write `$OUT_DIR/shipped_templates.rs`: a slice of (language, file
/// name, `include_str!` of the file), sorted.
fn shipped_templates() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mail-templates");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    for lang in std::fs::read_dir(&root).expect("mail-templates/ is part of the source") {
        let lang = lang.expect("mail-templates/ is readable").path();
        if !lang.is_dir() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", lang.display());
        for f in std::fs::read_dir(&lang).expect("a language folder is readable") {
            let f = f.expect("a language folder is readable").path();
            let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
            if f.is_file() && (ext == "txt" || ext == "html") {
                files.push(f);
            }
        }
    }
    files.sort();
    let mut out = String::from("&[\n");
    for f in files {
        let lang = f
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str());
        let name = f.file_name().and_then(|n| n.to_str());
        if let (Some(lang), Some(name)) = (lang, name) {
            out.push_str(&format!(
                "    ({lang:?}, {name:?}, include_str!({:?})),\n",
                f.display().to_string()
            ));
        }
    }
    out.push_str("]\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("shipped_templates.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Release builds for glibc: pack the binary's relative relocations
/// (`DT_RELR`). Without it the dynamic loader reads a 1.9 MB table of them
/// at every start, and those pages stay in the daemon's resident set
/// (BENCHMARKS.md, "Memory, a third time"). Only when the C library linked
/// against reads packed relocations (glibc 2.36+, which names the version
/// `GLIBC_ABI_DT_RELR`): the binary then requires that version, so an older
/// glibc refuses it at start instead of running it unrelocated.
fn packed_relocations() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("PROFILE") != "release"
    {
        return;
    }
    // The C library asked about is the build machine's: a cross build
    // links against another one, which this cannot see.
    if var("HOST") != var("TARGET") {
        println!(
            "cargo:warning=cross build: relative relocations left unpacked (add -C link-arg=-Wl,-z,pack-relative-relocs when the target's glibc is 2.36 or later)"
        );
        return;
    }
    let libc = Command::new("cc")
        .arg("-print-file-name=libc.so.6")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|p| p.trim().to_string())
        .filter(|p| p.starts_with('/'));
    let Some(libc) = libc else {
        return;
    };
    println!("cargo:rerun-if-changed={libc}");
    let reads_relr = std::fs::read(&libc)
        .is_ok_and(|bytes| bytes.windows(17).any(|w| w == b"GLIBC_ABI_DT_RELR"));
    if reads_relr {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

fn main() {
    shipped_templates();
    packed_relocations();
    println!("cargo:rerun-if-env-changed=POSTDESK_COMMIT");
    let commit = match std::env::var("POSTDESK_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => {
            // Rebuild when HEAD moves: HEAD itself (a branch switch), the
            // branch's ref (a commit) and packed refs. `--git-path` finds
            // them in worktrees too.
            let head_ref = git(&["symbolic-ref", "-q", "HEAD"]);
            let watched = ["HEAD", "packed-refs"]
                .into_iter()
                .map(String::from)
                .chain(head_ref);
            for name in watched {
                if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
                    if std::path::Path::new(&path).exists() {
                        println!("cargo:rerun-if-changed={path}");
                    }
                }
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into())
        }
    };
    println!("cargo:rustc-env=POSTDESK_COMMIT={commit}");
}
