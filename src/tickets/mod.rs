//! The ticket domain: states and what moves them ([`lifecycle`]: the
//! configured list of states, the moves each role may make, the automatic
//! moves), the priority matrix ([`priority`]), the descriptive fields
//! (type, service, category, tags: [`fields`]) and the history of changes
//! ([`history`]). Pure; the store persists what this module decides.
//!
//! A ticket's state is a configured state's name (a `String`): the
//! operator's `[lifecycle]` list, by default the Moodle tracker's (POSTED
//! … TRANSFERED). [`lifecycle::Lifecycle::resolve`] is the one place a
//! typed state (a name, a tracker spelling or an alias) becomes a name.

pub mod fields;
pub mod history;
pub mod lifecycle;
pub mod priority;

pub use fields::TicketType;
