//! `postdesk templates list [--json]`: every template file in use — per
//! template and language, its parts (`txt`, `html`) and whether the
//! operator's file or the shipped one wins. `postdesk templates render
//! EVENT --ticket NUMBER [--lang L] [--html] [--json]`: one notification
//! rendered for a real ticket (its last inbound article as `article.*`), as it would
//! be sent; nothing is sent or written. A template folder that does not
//! load exits 78 (EX_CONFIG) naming the file; an unknown event 64 listing
//! the known ones; an unknown ticket 66.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use postdesk::notify::{self, Kind, Origin, Templates};
use postdesk::store::views;
use postdesk::threading::Numbering;

use super::exit::{failure, USAGE};
use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List every template: each event (and named auto-reply, and the
    /// layouts), its languages and parts, and which file is used — the
    /// operator's (`[paths] templates`) or the shipped one.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Render one notification for a ticket as it would be sent (the
    /// ticket's last inbound article as `article.*`); prints the Subject and the
    /// text, and the HTML part with --html. Nothing is sent or written.
    Render(RenderArgs),
}

#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    /// The event: auto_reply, agent_new_ticket, agent_reply, … (see
    /// `postdesk templates list`), or a named auto-reply such as
    /// auto_reply_after_hours.
    pub event: String,
    /// The ticket's number (with or without its tag).
    #[arg(long, value_name = "NUMBER")]
    pub ticket: String,
    /// The language to render in (default: the ticket's); a language
    /// without the template falls back as mail does.
    #[arg(long, value_name = "L")]
    pub lang: Option<String>,
    /// Also print the HTML part (when the template has one).
    #[arg(long)]
    pub html: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

impl Command {
    pub fn json(&self) -> bool {
        match self {
            Command::List { json } => *json,
            Command::Render(a) => a.json,
        }
    }
}

pub fn run(cli: &Cli, cmd: &Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.config)?;
    let templates = Templates::load(&config.templates_dir, &config.system.default_language)?;
    match cmd {
        Command::List { json } => list(&config, &templates, *json),
        Command::Render(args) => render(&config, &templates, args),
    }
}

/// What a listed template is.
fn role(name: &str) -> &'static str {
    if name == "layout" {
        "layout"
    } else if Kind::ALL.iter().any(|k| k.name() == name) {
        "event"
    } else {
        "named"
    }
}

fn list(
    config: &postdesk::config::Config,
    templates: &Templates,
    json: bool,
) -> anyhow::Result<ExitCode> {
    #[derive(Serialize)]
    struct Row {
        name: String,
        role: &'static str,
        lang: String,
        part: String,
        origin: Origin,
        path: String,
    }
    let rows: Vec<Row> = templates
        .list()
        .into_iter()
        .map(|l| Row {
            role: role(&l.name),
            name: l.name,
            lang: l.lang,
            part: l.part,
            origin: l.origin,
            path: l.path.display().to_string(),
        })
        .collect();
    let mut out = super::output::stdout();
    if json {
        out.json(&serde_json::json!({
            "dir": config.templates_dir.display().to_string(),
            "default_language": config.system.default_language,
            "events": Kind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>(),
            "templates": rows,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<26} {:<7} {:<5} {:<5} {:<9} FILE",
        "TEMPLATE", "ROLE", "LANG", "PART", "FROM"
    )?;
    for r in &rows {
        let origin = match r.origin {
            Origin::Operator => "operator",
            Origin::Shipped => "shipped",
        };
        writeln!(
            out,
            "{:<26} {:<7} {:<5} {:<5} {:<9} {}",
            r.name, r.role, r.lang, r.part, origin, r.path
        )?;
    }
    let own = rows.iter().filter(|r| r.origin == Origin::Operator).count();
    writeln!(
        out,
        "{} file(s), {own} from {} (the operator's win over the shipped ones, file by file)",
        rows.len(),
        config.templates_dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn render(
    config: &postdesk::config::Config,
    templates: &Templates,
    args: &RenderArgs,
) -> anyhow::Result<ExitCode> {
    if args.event == "layout" || !templates.has_template(&args.event) {
        let mut known: Vec<String> = Kind::ALL.iter().map(|k| k.name().to_string()).collect();
        for l in templates.list() {
            if l.part == "txt" && l.name != "layout" && !known.contains(&l.name) {
                known.push(l.name);
            }
        }
        return Err(failure(
            USAGE,
            format!(
                "unknown event {:?}; the known ones: {}",
                args.event,
                known.join(", ")
            ),
        ));
    }
    let mut store = super::open_store_read_only(config)?;
    let ticket = super::ticket::detail(config, &mut store, &args.ticket)?;
    let ctx = context(config, &ticket);
    let lang = args.lang.clone().unwrap_or_else(|| ticket.language.clone());
    let parts = templates.render_parts(&args.event, &lang, &ctx)?;
    let origin = |part: &str| {
        templates
            .list()
            .into_iter()
            .find(|l| l.lang == parts.lang && l.name == args.event && l.part == part)
            .map(|l| l.path.display().to_string())
    };
    let mut out = super::output::stdout();
    if args.json {
        out.json(&serde_json::json!({
            "event": args.event,
            "ticket": ticket.number,
            "lang": parts.lang,
            "subject": parts.subject,
            "body": parts.body,
            "html": if args.html { parts.html.clone() } else { None },
            "has_html": parts.html.is_some(),
            "text_file": origin("txt"),
            "html_file": origin("html"),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "Subject: {}", parts.subject)?;
    writeln!(out)?;
    write!(out, "{}", parts.body)?;
    if args.html {
        match &parts.html {
            Some(html) => {
                writeln!(out, "\n----- text/html -----")?;
                write!(out, "{html}")?;
            }
            None => writeln!(
                out,
                "\n(no HTML part: {}/{}.html does not exist; the mail is plain text)",
                parts.lang, args.event
            )?,
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the templates see for `ticket`, its last inbound article as `article.*`
/// (names and subjects clipped as for real mail).
fn context(config: &postdesk::config::Config, t: &views::TicketDetail) -> notify::Context {
    let numbering = Numbering::new(&config.system.ticket_tag, config.system.system_id);
    // The mail a notification answers: the last one that came in (the
    // last articles are often our own notifications about it).
    let last = (t.articles.iter().rev())
        .find(|a| a.direction == "in" && !a.internal)
        .or(t.articles.last());
    let own = config.own_addresses();
    let customer_name = notify::clip(t.customer_name.as_deref().unwrap_or_default());
    let article = match last {
        Some(a) => {
            let text = match a.new_text_end {
                Some(end) if a.text.is_char_boundary(end) => &a.text[..end],
                _ => a.text.as_str(),
            };
            notify::ArticleCtx {
                from: a.from.clone(),
                from_name: if a.from == t.customer {
                    customer_name.clone()
                } else {
                    String::new()
                },
                subject: notify::clip(&a.subject),
                text: text.to_string(),
                attachments: a
                    .attachments
                    .iter()
                    .map(|x| notify::clip(&x.filename))
                    .collect(),
                unverified_sender: a.unverified.is_some(),
                from_our_address: own.contains(&a.from),
                agents_side: false,
                quoted_ticket: String::new(),
                bouncing: String::new(),
                bouncing_reason: String::new(),
                refusal: String::new(),
                other_ticket: String::new(),
            }
        }
        None => notify::ArticleCtx {
            from: t.customer.clone(),
            from_name: customer_name.clone(),
            subject: notify::clip(&t.subject),
            ..Default::default()
        },
    };
    let support_name = config
        .mailboxes
        .iter()
        .find(|m| m.address.eq_ignore_ascii_case(&t.support_address))
        .and_then(|m| m.display_name.clone())
        .unwrap_or_else(|| t.support_address.clone());
    notify::Context {
        ticket: notify::TicketCtx {
            number: t.number.clone(),
            tag: numbering.subject_tag(&t.number),
            subject: notify::clip(&t.subject),
            state: t.state.clone(),
            queue: t.queue.clone(),
            customer: t.customer.clone(),
            customer_name,
        },
        article,
        support_address: t.support_address.clone(),
        support_name,
        // What `command_reference` lists; a transcript's lines exist only
        // for the mail that had them.
        commands: notify::CommandsCtx {
            states: (config.lifecycle.states().iter())
                .map(|d| d.name.clone())
                .collect(),
            ..Default::default()
        },
    }
}
