//! The facts machines' mail and the loop caps need, read from the store
//! (part of the facts stage; reads only): the ticket a report is about, the
//! addresses already bouncing, the automatic mail already sent within the
//! caps' windows, and the mail's language (the customer's known one,
//! Content-Language, or detected in the new text).

use chrono::{DateTime, Utc};

use super::facts::{Facts, Lookup, Original};
use super::plan::LanguageChoice;
use crate::mail::{InboundMail, MailClass};
use crate::store::{machines, records, safeguards, Db, StoreError};
use crate::threading;

/// Fill the machines', caps' and language facts of `f`.
pub(super) fn gather(
    db: &Db,
    mail: &InboundMail,
    l: &Lookup,
    f: &mut Facts,
) -> Result<(), StoreError> {
    let reports = matches!(
        mail.class.class,
        MailClass::DeliveryReport | MailClass::ReadReceipt | MailClass::FeedbackReport
    );
    if reports {
        f.original = original(db, mail, l)?;
    }
    for (address, _) in super::machines::failed_recipients(mail) {
        if machines::bouncing(db, &address)?.is_some() {
            f.already_bouncing.push(address);
        }
    }
    f.sender_bouncing = machines::bouncing(db, &mail.from.address)?.map(|b| {
        format!(
            "{} is bouncing since {} (bounces: {}, the last: {}); see `postdesk address list --bouncing`",
            b.address, b.first_seen, b.count, b.last_reason
        )
    });

    // The loop caps: automatic mail within the longest window, at most
    // the largest count (more cannot change the decision).
    let longest = l.loop_caps.iter().map(|c| c.window_secs).max().unwrap_or(0);
    let most = l.loop_caps.iter().map(|c| c.max).max().unwrap_or(0);
    if most > 0 {
        let since = stamp(f.received_at - chrono::Duration::seconds(longest));
        f.automatic_to_sender = times(machines::automatic_mail_to(
            db,
            &mail.from.address,
            &since,
            most,
        )?);
        if let Some(t) = &f.thread {
            f.automatic_on_ticket =
                times(machines::automatic_mail_on(db, t.ticket.id, &since, most)?);
        }
    }

    (f.language, f.language_with_templates) = language(db, mail, l)?;
    Ok(())
}

/// The mail's language and the first one with templates: the sender's
/// known one, Content-Language, detection (also asked for a forward's
/// original, whose sender is the customer).
pub(super) fn language(
    db: &Db,
    mail: &InboundMail,
    l: &Lookup,
) -> Result<(Option<LanguageChoice>, Option<String>), StoreError> {
    let known = machines::customer_language(db, &mail.from.address)?;
    let detected = l
        .detected_language
        .unwrap_or_else(|| super::language::detect(mail.new_text()))
        .map(str::to_string);
    let chain = [
        (known, "customer"),
        (mail.language.clone(), "content-language"),
        (detected, "detected"),
    ];
    let language = chain.iter().find_map(|(code, source)| {
        code.as_ref().map(|c| LanguageChoice {
            code: c.clone(),
            source,
        })
    });
    let with_templates = chain
        .into_iter()
        .filter_map(|(code, _)| code)
        .find(|c| (l.has_language)(c));
    Ok((language, with_templates))
}

/// The ticket of the message a report is about: its Message-ID (ours),
/// the ticket number in its subject, then its references.
fn original(db: &Db, mail: &InboundMail, l: &Lookup) -> Result<Option<Original>, StoreError> {
    let Some(o) = &mail.class.original else {
        return Ok(None);
    };
    if let Some(mid) = &o.message_id {
        if let Some(ticket) = records::ticket_by_message_ids(db, std::slice::from_ref(mid))? {
            let which = match machines::our_article(db, mid)? {
                Some((id, kind)) => format!(" (our {kind}, article {id})"),
                None => String::new(),
            };
            return Ok(Some(Original {
                ticket,
                by: format!("the returned Message-ID <{mid}>{which}"),
            }));
        }
    }
    if let Some(subject) = &o.subject {
        for n in l.numbering.numbers_in_subject(subject) {
            let (current, legacy) = (threading::is_valid(&n), threading::is_legacy_valid(&n));
            if let Some(ticket) = safeguards::ticket_by_tagged_number(db, &n, current, legacy)? {
                return Ok(Some(Original {
                    ticket,
                    by: format!("ticket number {n} in the returned subject"),
                }));
            }
        }
    }
    for id in &o.references {
        if let Some(ticket) = records::ticket_by_message_ids(db, std::slice::from_ref(id))? {
            return Ok(Some(Original {
                ticket,
                by: format!("the returned message's References <{id}>"),
            }));
        }
    }
    Ok(None)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Stored times back as instants (a malformed one is skipped: it cannot
/// be placed in a window).
fn times(stored: Vec<String>) -> Vec<DateTime<Utc>> {
    stored
        .iter()
        .filter_map(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .collect()
}
