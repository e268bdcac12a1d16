//! `postdesk group|queue|customer|service add|list|show|update|remove`.

use std::process::ExitCode;

use postdesk::directory::{Customer, Group, Notify, Queue, Service, Strangers, UnknownSenders};
use postdesk::store::directory as dir;

use super::{done, exists, missing, read, show, table, write};
use crate::cli::Cli;

/// The commands every entity has; `A` adds the entity's own options.
#[derive(clap::Subcommand, Debug)]
pub enum Command<A: clap::Args> {
    /// Add one.
    Add {
        name: String,
        #[command(flatten)]
        set: A,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List them all.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show one (as the TOML `directory apply` takes).
    Show {
        name: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Change what is given; the rest stays.
    Update {
        name: String,
        #[command(flatten)]
        set: A,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Remove one.
    Remove {
        name: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl<A: clap::Args> Command<A> {
    pub fn json(&self) -> bool {
        match self {
            Command::Add { json, .. }
            | Command::List { json }
            | Command::Show { json, .. }
            | Command::Update { json, .. }
            | Command::Remove { json, .. } => *json,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct GroupSet {
    /// What the group is for.
    #[arg(long)]
    comment: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct QueueSet {
    /// The group whose members work the queue ("" for none).
    #[arg(long)]
    group: Option<String>,
    /// The address customers write to ("" for none).
    #[arg(long)]
    support_address: Option<String>,
    /// The address for internal notes ("" for none).
    #[arg(long)]
    comment_address: Option<String>,
    /// Where agents' notifications go: "group" (the rw members of the
    /// queue's group), "config" (the [[queue]] agents_address) or an address.
    #[arg(long, value_parser = Notify::parse)]
    notify: Option<Notify>,
    /// Whether the Cc's of a new ticket become its observers.
    #[arg(long)]
    cc_observers: Option<bool>,
    /// Mail quoting a ticket its sender has no right to: system
    /// (system.stranger_follow_up), new_ticket, record or refuse (the
    /// refusal, no ticket).
    #[arg(long, value_parser = ["system", "new_ticket", "record", "refuse"])]
    strangers: Option<String>,
    /// The service a new ticket in the queue gets when its customer user
    /// is entitled to it ("" for none; a service of the directory).
    #[arg(long)]
    service: Option<String>,
    /// A new ticket's sender the directory does not know: create (they
    /// become a customer user) or refuse (the refusal, no ticket).
    #[arg(long, value_parser = ["create", "refuse"])]
    unknown_senders: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CustomerSet {
    /// A mail domain whose senders belong to the customer (repeatable;
    /// replaces the list).
    #[arg(long = "domain")]
    domains: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ServiceSet {
    /// Whether every customer user has the service.
    #[arg(long)]
    default: Option<bool>,
}

fn blank_is_none(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

pub fn group(cli: &Cli, cmd: &Command<GroupSet>) -> anyhow::Result<ExitCode> {
    let apply = |g: &mut Group, s: &GroupSet| {
        if let Some(c) = &s.comment {
            g.comment = blank_is_none(c);
        }
    };
    match cmd {
        Command::Add { name, set, json } => {
            let g = write(cli, |tx| {
                if dir::group(tx, name)?.is_some() {
                    return Err(exists("group", name));
                }
                let mut g = Group {
                    name: name.trim().to_string(),
                    comment: None,
                };
                apply(&mut g, set);
                dir::put_group(tx, &g)?;
                Ok(g)
            })?;
            done(*json, "group", &format!("added group {}", g.name), Some(&g))
        }
        Command::Update { name, set, json } => {
            let g = write(cli, |tx| {
                let mut g = dir::group(tx, name)?.ok_or_else(|| missing("group", name))?;
                apply(&mut g, set);
                dir::put_group(tx, &g)?;
                Ok(g)
            })?;
            done(*json, "group", &format!("updated group {name}"), Some(&g))
        }
        Command::Remove { name, json } => {
            write(cli, |tx| Ok(dir::remove_group(tx, name)?))?;
            done::<()>(*json, "group", &format!("removed group {name}"), None)
        }
        Command::List { json } => {
            let all = read(cli, |c| Ok(dir::groups(c)?))?;
            let mut out = crate::cli::output::stdout();
            if *json {
                return out.json(&all).map(|_| ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|g| vec![g.name.clone(), g.comment.clone().unwrap_or_default()])
                .collect();
            table(&mut out, &["NAME", "COMMENT"], &rows)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name, json } => {
            let g = read(cli, |c| {
                dir::group(c, name)?.ok_or_else(|| missing("group", name))
            })?;
            show(&mut crate::cli::output::stdout(), *json, "group", &g)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn set_queue(q: &mut Queue, s: &QueueSet) {
    if let Some(g) = &s.group {
        q.group = blank_is_none(g);
    }
    if let Some(a) = &s.support_address {
        q.support_address = blank_is_none(a);
    }
    if let Some(a) = &s.comment_address {
        q.comment_address = blank_is_none(a);
    }
    if let Some(n) = &s.notify {
        q.notify = n.clone();
    }
    if let Some(c) = s.cc_observers {
        q.cc_observers = c;
    }
    if let Some(p) = s.strangers.as_deref().and_then(Strangers::parse) {
        q.strangers = p;
    }
    if let Some(v) = &s.service {
        q.service = blank_is_none(v);
    }
    if let Some(u) = s.unknown_senders.as_deref().and_then(UnknownSenders::parse) {
        q.unknown_senders = u;
    }
}

pub fn queue(cli: &Cli, cmd: &Command<QueueSet>) -> anyhow::Result<ExitCode> {
    use dir::queues;
    match cmd {
        Command::Add { name, set, json } => {
            let q = write(cli, |tx| {
                if queues::queue(tx, name)?.is_some() {
                    return Err(exists("queue", name));
                }
                let mut q = Queue::named(name.trim());
                set_queue(&mut q, set);
                queues::put_queue(tx, &q)?;
                Ok(q)
            })?;
            done(*json, "queue", &format!("added queue {}", q.name), Some(&q))
        }
        Command::Update { name, set, json } => {
            let q = write(cli, |tx| {
                let mut q = queues::queue(tx, name)?.ok_or_else(|| missing("queue", name))?;
                set_queue(&mut q, set);
                queues::put_queue(tx, &q)?;
                Ok(q)
            })?;
            done(*json, "queue", &format!("updated queue {name}"), Some(&q))
        }
        Command::Remove { name, json } => {
            write(cli, |tx| Ok(queues::remove_queue(tx, name)?))?;
            let said = format!(
                "removed queue {name} from the directory (its tickets keep it; it falls back \
                 to the configuration's [[queue]])"
            );
            done::<()>(*json, "queue", &said, None)
        }
        Command::List { json } => {
            let all = read(cli, |c| Ok(queues::queues(c)?))?;
            let mut out = crate::cli::output::stdout();
            if *json {
                return out.json(&all).map(|_| ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|q| {
                    vec![
                        q.name.clone(),
                        q.group.clone().unwrap_or_else(|| "-".into()),
                        q.support_address.clone().unwrap_or_else(|| "-".into()),
                        q.notify.as_text().to_string(),
                        q.strangers.as_str().to_string(),
                        q.unknown_senders.as_str().to_string(),
                        q.service.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    "NAME",
                    "GROUP",
                    "SUPPORT",
                    "NOTIFY",
                    "STRANGERS",
                    "UNKNOWN",
                    "SERVICE",
                ],
                &rows,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name, json } => {
            let q = read(cli, |c| {
                queues::queue(c, name)?.ok_or_else(|| missing("queue", name))
            })?;
            show(&mut crate::cli::output::stdout(), *json, "queue", &q)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn customer(cli: &Cli, cmd: &Command<CustomerSet>) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Add { name, set, json } => {
            let cu = write(cli, |tx| {
                if dir::customer(tx, name)?.is_some() {
                    return Err(exists("customer", name));
                }
                let cu = Customer {
                    name: name.trim().to_string(),
                    domains: set.domains.clone(),
                };
                dir::put_customer(tx, &cu)?;
                Ok(dir::customer(tx, &cu.name)?.unwrap_or(cu))
            })?;
            done(
                *json,
                "customer",
                &format!("added customer {}", cu.name),
                Some(&cu),
            )
        }
        Command::Update { name, set, json } => {
            let cu = write(cli, |tx| {
                let mut cu = dir::customer(tx, name)?.ok_or_else(|| missing("customer", name))?;
                if !set.domains.is_empty() {
                    cu.domains = set.domains.clone();
                }
                dir::put_customer(tx, &cu)?;
                Ok(dir::customer(tx, name)?.unwrap_or(cu))
            })?;
            done(
                *json,
                "customer",
                &format!("updated customer {name}"),
                Some(&cu),
            )
        }
        Command::Remove { name, json } => {
            write(cli, |tx| Ok(dir::remove_customer(tx, name)?))?;
            let said =
                format!("removed customer {name} (its customer users stay, without a customer)");
            done::<()>(*json, "customer", &said, None)
        }
        Command::List { json } => {
            let all = read(cli, |c| Ok(dir::customers(c)?))?;
            let mut out = crate::cli::output::stdout();
            if *json {
                return out.json(&all).map(|_| ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|c| vec![c.name.clone(), c.domains.join(",")])
                .collect();
            table(&mut out, &["NAME", "DOMAINS"], &rows)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name, json } => {
            let c = read(cli, |c| {
                dir::customer(c, name)?.ok_or_else(|| missing("customer", name))
            })?;
            show(&mut crate::cli::output::stdout(), *json, "customer", &c)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn service(cli: &Cli, cmd: &Command<ServiceSet>) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Add { name, set, json } => {
            let s = write(cli, |tx| {
                if dir::service(tx, name)?.is_some() {
                    return Err(exists("service", name));
                }
                let s = Service {
                    name: name.trim().to_string(),
                    default: set.default.unwrap_or(false),
                };
                dir::put_service(tx, &s)?;
                Ok(s)
            })?;
            done(
                *json,
                "service",
                &format!("added service {}", s.name),
                Some(&s),
            )
        }
        Command::Update { name, set, json } => {
            let s = write(cli, |tx| {
                let mut s = dir::service(tx, name)?.ok_or_else(|| missing("service", name))?;
                if let Some(d) = set.default {
                    s.default = d;
                }
                dir::put_service(tx, &s)?;
                Ok(s)
            })?;
            done(
                *json,
                "service",
                &format!("updated service {name}"),
                Some(&s),
            )
        }
        Command::Remove { name, json } => {
            write(cli, |tx| Ok(dir::remove_service(tx, name)?))?;
            done::<()>(*json, "service", &format!("removed service {name}"), None)
        }
        Command::List { json } => {
            let all = read(cli, |c| Ok(dir::services(c)?))?;
            let mut out = crate::cli::output::stdout();
            if *json {
                return out.json(&all).map(|_| ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|s| vec![s.name.clone(), if s.default { "yes" } else { "no" }.into()])
                .collect();
            table(&mut out, &["NAME", "DEFAULT"], &rows)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name, json } => {
            let s = read(cli, |c| {
                dir::service(c, name)?.ok_or_else(|| missing("service", name))
            })?;
            show(&mut crate::cli::output::stdout(), *json, "service", &s)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
