//! Build script: records the commit postdesk is built from, for
//! `postdesk --version`. Taken from `POSTDESK_COMMIT` when set (builds from
//! a source tarball), else from `git rev-parse --short=12 HEAD`, else
//! "unknown".

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

fn main() {
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
