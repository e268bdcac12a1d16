//! postdesk: an email-driven ticketing daemon.
//!
//! Mail moves one way:
//!
//! ```text
//! intake (IMAP, pipe, import) → worker → process: parse (and classify) → facts
//!        (thread, standing, counters) → decide (route, plan; rules edit it)
//!        → apply → store (one transaction per batch) → notify → outbox → SMTP
//! ```
//!
//! Modules are listed in that order. [`daemon`] is the one place that knows
//! them all and wires tasks together; the CLI lives in the binary.

pub mod auth;
pub mod backoff;
pub mod commands;
pub mod config;
pub mod crash_guard;
pub mod daemon;
pub mod directory;
pub mod import;
pub mod intake;
pub mod lock;
pub mod logging;
pub mod mail;
pub mod memory;
pub mod notify;
pub mod oauth;
pub mod ops;
pub mod outbox;
pub mod process;
pub mod reload;
pub mod retention;
pub mod rules;
pub mod scheduler;
pub mod store;
pub mod threading;
pub mod tickets;
pub mod tls;
pub mod worker;
