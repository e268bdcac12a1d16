//! Outlook's TNEF wrapper (`winmail.dat`, `application/ms-tnef`): the
//! files a customer attached, hidden in one opaque attachment when their
//! Exchange server thinks the recipient is another Outlook. Unpacked here
//! so agents see the files themselves; a wrapper that cannot be unpacked
//! stays as it came, with a warning naming it.
//!
//! Written by hand ([`reader`]): the one TNEF crate (`tnef` 0.1) stops at
//! the first attribute id it does not know, which real Outlook wrappers
//! carry (it unpacked one of the four real files in `tests/data/tnef/`).
//! The reader walks the attribute stream, skips what it does not need,
//! and takes each attachment's data and names (the short title and the
//! long file name from its MAPI properties).
//!
//! Bounded: every length is checked against what is left; the files are
//! copies of slices of the wrapper (no more bytes than it has), at most
//! [`MAX_FILES`] of them.

mod reader;

use super::{safe_filename, Attachment};

/// Files taken out of one wrapper at most; a wrapper with more stays
/// whole.
pub const MAX_FILES: usize = 500;

/// Whether an attachment is a TNEF wrapper (by type, or by the name
/// Outlook always gives it).
fn is_tnef(a: &Attachment) -> bool {
    let t = a.content_type.to_ascii_lowercase();
    t == "application/ms-tnef"
        || t == "application/vnd.ms-tnef"
        || a.filename.eq_ignore_ascii_case("winmail.dat")
}

/// The attachments with every TNEF wrapper replaced by the files in it.
pub(super) fn expand(attachments: Vec<Attachment>, warnings: &mut Vec<String>) -> Vec<Attachment> {
    if !attachments.iter().any(is_tnef) {
        return attachments;
    }
    let mut out = Vec::with_capacity(attachments.len());
    for a in attachments {
        if !is_tnef(&a) {
            out.push(a);
            continue;
        }
        match unpack(&a.content) {
            Ok(files) if !files.is_empty() => out.extend(files),
            Ok(_) => {
                warnings.push(format!(
                    "{}: an Outlook TNEF wrapper with no files in it; kept as it came",
                    a.filename
                ));
                out.push(a);
            }
            Err(why) => {
                warnings.push(format!(
                    "{}: an Outlook TNEF wrapper that could not be unpacked ({why}); kept as it came",
                    a.filename
                ));
                out.push(a);
            }
        }
    }
    out
}

/// The files in one wrapper, named safely and typed by their extension.
fn unpack(data: &[u8]) -> Result<Vec<Attachment>, String> {
    let files = reader::files(data, MAX_FILES)?;
    Ok(files
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let filename = safe_filename(&f.name, &format!("winmail-{}", i + 1));
            let content_type = mime_guess::from_path(&filename)
                .first_raw()
                .unwrap_or("application/octet-stream")
                .to_string();
            Attachment {
                filename,
                content_type,
                content: f.data,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapper(name: &str, content: Vec<u8>) -> Attachment {
        Attachment {
            filename: name.into(),
            content_type: "application/ms-tnef".into(),
            content,
        }
    }

    fn data(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/tnef")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn real_outlook_wrappers_are_unpacked() {
        for (file, expect) in [
            ("one-file.tnef", vec![("AUTHORS", 244)]),
            ("long-filename.tnef", vec![("allproductsmar2000.dat", 279)]),
            (
                "winmail.dat",
                vec![("zappa_av1.jpg", 2937), ("bookmark.htm", 85805)],
            ),
            (
                "missing-filenames.tnef",
                vec![
                    ("generpts.src", 61210),
                    // No short titles: the names are the long file names
                    // of their MAPI properties.
                    ("TechlibDEC99.doc", 33792),
                    ("TechlibDEC99-JAN00.doc", 34304),
                    ("TechlibNOV99.doc", 33792),
                ],
            ),
        ] {
            let mut warnings = Vec::new();
            let out = expand(vec![wrapper("winmail.dat", data(file))], &mut warnings);
            let got: Vec<(&str, usize)> = out
                .iter()
                .map(|a| (a.filename.as_str(), a.content.len()))
                .collect();
            assert_eq!(got, expect, "{file}: {warnings:?}");
            assert!(warnings.is_empty(), "{file}: {warnings:?}");
            if file == "winmail.dat" {
                let types: Vec<&str> = out.iter().map(|a| a.content_type.as_str()).collect();
                assert_eq!(types, ["image/jpeg", "text/html"]);
            }
        }
        // A wrapper with only a rich-text body and no files stays whole.
        let mut warnings = Vec::new();
        let out = expand(
            vec![wrapper("winmail.dat", data("rtf.tnef"))],
            &mut warnings,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].filename, "winmail.dat");
        assert!(warnings[0].contains("no files in it"), "{warnings:?}");
    }

    #[test]
    fn a_broken_wrapper_is_kept_with_a_warning() {
        let mut whole = data("one-file.tnef");
        whole.truncate(whole.len() / 2);
        for bytes in [whole, b"not tnef at all".to_vec(), Vec::new()] {
            let mut warnings = Vec::new();
            let out = expand(vec![wrapper("winmail.dat", bytes.clone())], &mut warnings);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].content, bytes);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(
                warnings[0].starts_with("winmail.dat: an Outlook TNEF wrapper"),
                "{warnings:?}"
            );
        }
    }

    #[test]
    fn other_attachments_pass_untouched() {
        let a = Attachment {
            filename: "report.pdf".into(),
            content_type: "application/pdf".into(),
            content: b"%PDF".to_vec(),
        };
        let mut warnings = Vec::new();
        let out = expand(vec![a.clone()], &mut warnings);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].filename, a.filename);
        assert!(warnings.is_empty());
    }

    #[test]
    fn every_prefix_of_a_real_wrapper_is_safe() {
        // Hostile input: any cut of a real wrapper unpacks or warns, and
        // never panics out of here.
        let whole = data("winmail.dat");
        for cut in (0..whole.len()).step_by(97) {
            let mut warnings = Vec::new();
            let _ = expand(
                vec![wrapper("winmail.dat", whole[..cut].to_vec())],
                &mut warnings,
            );
        }
    }
}
