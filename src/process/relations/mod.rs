//! Merging, linking and transferring tickets (issue 11, items 7 and 8):
//! the relations helper's module. On this branch only the agreed seam the
//! commands dispatcher calls for `#merge`, `#link` and `#transfer`; each
//! refuses, saying the feature is not in this build. The lead takes the
//! relations branch's file at merge.

use super::decide::Settings;
use super::facts::Facts;
use super::plan::Plan;
use crate::commands::LinkKind;

/// Merge the plan's ticket into ticket `into`: Ok is the transcript's
/// line, Err why not.
pub fn merge(
    _plan: &mut Plan,
    _f: &Facts,
    _s: &Settings,
    _agent: &str,
    _into: &str,
) -> Result<String, String> {
    Err("#merge is not available in this build".into())
}

/// Link the plan's ticket to ticket `other`.
pub fn link(
    _plan: &mut Plan,
    _f: &Facts,
    _s: &Settings,
    _agent: &str,
    _kind: LinkKind,
    _other: &str,
) -> Result<String, String> {
    Err("#link is not available in this build".into())
}

/// Transfer the plan's ticket to `address`.
pub fn transfer(
    _plan: &mut Plan,
    _f: &Facts,
    _s: &Settings,
    _agent: &str,
    _address: &str,
) -> Result<String, String> {
    Err("#transfer is not available in this build".into())
}
