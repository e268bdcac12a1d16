//! `postdesk completions SHELL` and `postdesk manpages DIR`: shell
//! completions (clap_complete) and man pages (clap_mangen) generated from
//! the clap definitions themselves, so they never drift from the CLI.
//! `scripts/manpages.sh` and `scripts/package-deb.sh` call these.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory;

use super::Cli;

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManpagesArgs {
    /// Folder to write the pages into (created if missing): postdesk.1
    /// and one page per subcommand (postdesk-quarantine-release.1, …).
    pub dir: PathBuf,
    /// Machine-readable output: the list of files written.
    #[arg(long)]
    pub json: bool,
}

/// Print the completion script for `args.shell` on standard output.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitCode> {
    // Into memory first: clap_complete panics when its writer fails, and
    // a closed stdout must end quietly like every other command.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "postdesk", &mut script);
    let mut out = super::output::stdout();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Write the man pages into `args.dir`; prints the files written.
pub fn manpages(args: &ManpagesArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = Vec::new();
    write_page(&cmd, &args.dir, &mut written)?;
    let mut out = super::output::stdout();
    if args.json {
        out.json(&written)?;
        return Ok(ExitCode::SUCCESS);
    }
    for p in written {
        writeln!(out, "{}", p.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One page for `cmd`, then one per subcommand (not `help`). After
/// `build`, clap names each subcommand's page `postdesk-db-backup` (its
/// display name) and its synopsis `postdesk db backup` (its bin name).
fn write_page(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .source(format!("postdesk {}", super::version()))
        .render(&mut roff)
        .with_context(|| format!("rendering the man page of {name}"))?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, roff).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands() {
        if sub.get_name() != "help" && !sub.is_hide_set() {
            write_page(sub, dir, written)?;
        }
    }
    Ok(())
}
