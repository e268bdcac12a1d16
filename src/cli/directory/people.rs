//! `postdesk agent …` and `postdesk customer-user …`: add, list, show,
//! update, remove, and the links to groups (both) and services
//! (customer users).

use std::process::ExitCode;

use postdesk::directory::{Access, Agent, CustomerUser};
use postdesk::store::directory::people;

use super::{done, exists, missing, parse_access, read, set_access, show, table, write};
use crate::cli::Cli;

#[derive(clap::Args, Debug)]
pub struct AgentSet {
    /// A mail address of the agent (repeatable; the first gets the
    /// notifications; replaces the list).
    #[arg(long = "address")]
    addresses: Vec<String>,
    /// The agent's language (e.g. en, de); "" for the default.
    #[arg(long)]
    language: Option<String>,
    /// Active agents get notifications and access.
    #[arg(long)]
    active: Option<bool>,
}

#[derive(clap::Args, Debug)]
pub struct UserSet {
    /// A mail address of the customer user (repeatable; the first names
    /// them; replaces the list).
    #[arg(long = "address")]
    addresses: Vec<String>,
    /// Their name ("" for none).
    #[arg(long = "name", id = "full_name")]
    full_name: Option<String>,
    /// Their language (e.g. en, de); "" for the default.
    #[arg(long)]
    language: Option<String>,
    /// The customer (organisation) they belong to; "" for none.
    #[arg(long)]
    customer: Option<String>,
}

/// What to link or unlink.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// A group.
    #[arg(long, required_unless_present = "service", conflicts_with = "service")]
    group: Option<String>,
    /// rw (may write, be assigned) or ro (may follow); with --group.
    #[arg(long, value_parser = parse_access, default_value = "rw")]
    access: Access,
    /// A service (customer users only).
    #[arg(long)]
    service: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command<S: clap::Args> {
    /// Add one.
    Add {
        /// Agents: the name; customer users: their (first) address.
        name: String,
        #[command(flatten)]
        set: S,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// List them all.
    List {
        /// Customer users of this customer only.
        #[arg(long)]
        customer: Option<String>,
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
        set: S,
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
    /// Give access to a group (--group G --access rw|ro) or a service
    /// (--service S).
    Link {
        name: String,
        #[command(flatten)]
        link: Target,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Take access to a group or a service away.
    Unlink {
        name: String,
        #[command(flatten)]
        link: Target,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

impl<S: clap::Args> Command<S> {
    pub fn json(&self) -> bool {
        match self {
            Command::Add { json, .. }
            | Command::List { json, .. }
            | Command::Show { json, .. }
            | Command::Update { json, .. }
            | Command::Remove { json, .. }
            | Command::Link { json, .. }
            | Command::Unlink { json, .. } => *json,
        }
    }
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

fn set_agent(a: &mut Agent, s: &AgentSet) {
    if !s.addresses.is_empty() {
        a.addresses = s.addresses.clone();
    }
    if let Some(l) = &s.language {
        a.language = opt(l);
    }
    if let Some(x) = s.active {
        a.active = x;
    }
}

fn no_services(link: &Target) -> anyhow::Result<()> {
    if link.service.is_some() {
        return Err(crate::cli::exit::failure(
            crate::cli::exit::USAGE,
            "agents have no services: use --group",
        ));
    }
    Ok(())
}

pub fn agent(cli: &Cli, cmd: &Command<AgentSet>) -> anyhow::Result<ExitCode> {
    let change = |name: &str, f: &dyn Fn(&mut Agent) -> anyhow::Result<()>| {
        write(cli, |tx| {
            let mut a = people::agent(tx, name)?.ok_or_else(|| missing("agent", name))?;
            f(&mut a)?;
            people::put_agent(tx, &a)?;
            Ok(people::agent(tx, name)?.unwrap_or(a))
        })
    };
    match cmd {
        Command::Add { name, set, json } => {
            let a = write(cli, |tx| {
                if people::agent(tx, name)?.is_some() {
                    return Err(exists("agent", name));
                }
                let mut a = Agent {
                    name: name.trim().to_string(),
                    addresses: Vec::new(),
                    language: None,
                    active: true,
                    rw: Vec::new(),
                    ro: Vec::new(),
                };
                set_agent(&mut a, set);
                people::put_agent(tx, &a)?;
                Ok(people::agent(tx, &a.name)?.unwrap_or(a))
            })?;
            done(*json, "agent", &format!("added agent {}", a.name), Some(&a))
        }
        Command::Update { name, set, json } => {
            let a = change(name, &|a| {
                set_agent(a, set);
                Ok(())
            })?;
            done(*json, "agent", &format!("updated agent {name}"), Some(&a))
        }
        Command::Link { name, link, json } | Command::Unlink { name, link, json } => {
            no_services(link)?;
            let on = matches!(cmd, Command::Link { .. });
            let group = link.group.clone().unwrap_or_default();
            let a = change(name, &|a| {
                set_access(&mut a.rw, &mut a.ro, &group, on.then_some(link.access));
                Ok(())
            })?;
            let said = if on {
                format!("agent {name}: {} on group {group}", link.access.as_str())
            } else {
                format!("agent {name}: no access to group {group}")
            };
            done(*json, "agent", &said, Some(&a))
        }
        Command::Remove { name, json } => {
            write(cli, |tx| Ok(people::remove_agent(tx, name)?))?;
            done::<()>(*json, "agent", &format!("removed agent {name}"), None)
        }
        Command::List { json, .. } => {
            let all = read(cli, |c| Ok(people::agents(c)?))?;
            let mut out = crate::cli::output::stdout();
            if *json {
                return out.json(&all).map(|_| ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|a| {
                    vec![
                        a.name.clone(),
                        a.addresses.join(","),
                        if a.active { "yes" } else { "no" }.into(),
                        a.rw.join(","),
                        a.ro.join(","),
                    ]
                })
                .collect();
            table(
                &mut out,
                &["NAME", "ADDRESSES", "ACTIVE", "RW", "RO"],
                &rows,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name, json } => {
            let a = read(cli, |c| {
                people::agent(c, name)?.ok_or_else(|| missing("agent", name))
            })?;
            show(&mut crate::cli::output::stdout(), *json, "agent", &a)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn set_user(u: &mut CustomerUser, s: &UserSet) {
    if !s.addresses.is_empty() {
        u.addresses = s.addresses.clone();
    }
    if let Some(n) = &s.full_name {
        u.name = opt(n);
    }
    if let Some(l) = &s.language {
        u.language = opt(l);
    }
    if let Some(c) = &s.customer {
        u.customer = opt(c);
    }
}

pub fn customer_user(cli: &Cli, cmd: &Command<UserSet>) -> anyhow::Result<ExitCode> {
    const KIND: &str = "customer-user";
    let change = |name: &str, f: &dyn Fn(&mut CustomerUser)| {
        write(cli, |tx| {
            let mut u = people::customer_user(tx, name)?.ok_or_else(|| missing(KIND, name))?;
            let was = u.key().to_string();
            f(&mut u);
            people::put_customer_user(tx, &u, Some(&was))?;
            Ok(people::customer_user(tx, u.key())?.unwrap_or(u))
        })
    };
    match cmd {
        Command::Add { name, set, json } => {
            let u = write(cli, |tx| {
                if people::customer_user(tx, name)?.is_some() {
                    return Err(exists(KIND, name));
                }
                let mut u = CustomerUser::default();
                set_user(&mut u, set);
                // The address given first names the customer user.
                u.addresses.retain(|a| !a.eq_ignore_ascii_case(name.trim()));
                u.addresses.insert(0, name.trim().to_string());
                people::put_customer_user(tx, &u, None)?;
                Ok(people::customer_user(tx, name)?.unwrap_or(u))
            })?;
            done(
                *json,
                "customer_user",
                &format!("added customer user {}", u.key()),
                Some(&u),
            )
        }
        Command::Update { name, set, json } => {
            let u = change(name, &|u| set_user(u, set))?;
            done(
                *json,
                "customer_user",
                &format!("updated customer user {}", u.key()),
                Some(&u),
            )
        }
        Command::Link { name, link, json } | Command::Unlink { name, link, json } => {
            let on = matches!(cmd, Command::Link { .. });
            let u = change(name, &|u| {
                if let Some(g) = &link.group {
                    set_access(&mut u.rw, &mut u.ro, g, on.then_some(link.access));
                }
                if let Some(s) = &link.service {
                    u.services.retain(|x| x != s);
                    if on {
                        u.services.push(s.clone());
                    }
                }
            })?;
            let what = match (&link.group, &link.service) {
                (Some(g), _) if on => format!("{} on group {g}", link.access.as_str()),
                (Some(g), _) => format!("no access to group {g}"),
                (_, Some(s)) if on => format!("entitled to service {s}"),
                (_, s) => format!("not entitled to service {}", s.as_deref().unwrap_or("")),
            };
            done(
                *json,
                "customer_user",
                &format!("customer user {}: {what}", u.key()),
                Some(&u),
            )
        }
        Command::Remove { name, json } => {
            write(cli, |tx| Ok(people::remove_customer_user(tx, name)?))?;
            done::<()>(
                *json,
                "customer_user",
                &format!("removed customer user {name}"),
                None,
            )
        }
        Command::List { customer, json } => {
            let all = read(cli, |c| Ok(people::customer_users(c, customer.as_deref())?))?;
            let mut out = crate::cli::output::stdout();
            if *json {
                return out.json(&all).map(|_| ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|u| {
                    vec![
                        u.key().to_string(),
                        u.name.clone().unwrap_or_default(),
                        u.customer.clone().unwrap_or_else(|| "-".into()),
                        u.rw.join(","),
                        u.ro.join(","),
                    ]
                })
                .collect();
            table(
                &mut out,
                &["ADDRESS", "NAME", "CUSTOMER", "RW", "RO"],
                &rows,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name, json } => {
            let u = read(cli, |c| {
                people::customer_user(c, name)?.ok_or_else(|| missing(KIND, name))
            })?;
            show(
                &mut crate::cli::output::stdout(),
                *json,
                "customer_user",
                &u,
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
