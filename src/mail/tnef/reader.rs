//! The TNEF attribute stream, read for attachments only ([MS-OXTNEF]):
//! a signature, a key, then attributes — level (1 message, 2 attachment),
//! id, length, data, checksum. An attachment starts at its
//! `attAttachRendData`; its data is `attAttachData`, its short name
//! `attAttachTitle`, and its long name, when there is one, the
//! `PR_ATTACH_LONG_FILENAME` property inside `attAttachment`. Everything
//! else is skipped by its length. Every read is checked against what is
//! left; nothing here can index out of bounds.
//!
//! [MS-OXTNEF]: https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxtnef/

/// `0x223E9F78`, little-endian.
const SIGNATURE: u32 = 0x223E_9F78;
const ATT_ATTACH_REND_DATA: u16 = 0x9002;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_DATA: u16 = 0x800F;
const ATT_ATTACHMENT: u16 = 0x9005;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
/// MAPI properties read from one `attAttachment` at most.
const MAX_PROPS: u32 = 10_000;

/// One file found in a wrapper.
#[derive(Debug)]
pub(super) struct File {
    pub name: String,
    pub data: Vec<u8>,
}

/// The files of a TNEF wrapper, in order; attachments without data (an
/// embedded message, an OLE object) are left out. More than `max` files
/// is an error, like a wrapper that is not TNEF or ends early.
pub(super) fn files(bytes: &[u8], max: usize) -> Result<Vec<File>, String> {
    let mut c = Cursor(bytes);
    if c.u32()? != SIGNATURE {
        return Err("not TNEF: no TNEF signature".into());
    }
    c.take(2)?; // the legacy key
    let mut out = Vec::new();
    let mut current: Option<Pending> = None;
    while !c.0.is_empty() {
        let level = c.take(1)?[0];
        let id = c.u32()?;
        let len = c.u32()? as usize;
        let data = c.take(len)?;
        c.take(2)?; // checksum: a sum of the bytes, not worth refusing a file over
        if level != 2 {
            continue;
        }
        match (id & 0xFFFF) as u16 {
            ATT_ATTACH_REND_DATA => {
                if let Some(p) = current.take() {
                    push(&mut out, p, max)?;
                }
                current = Some(Pending::default());
            }
            ATT_ATTACH_TITLE => current.get_or_insert_default().title = Some(string8(data)),
            ATT_ATTACH_DATA => current.get_or_insert_default().data = Some(data.to_vec()),
            ATT_ATTACHMENT => {
                if let Some(name) = long_filename(data) {
                    current.get_or_insert_default().long_name = Some(name);
                }
            }
            _ => {}
        }
    }
    if let Some(p) = current.take() {
        push(&mut out, p, max)?;
    }
    Ok(out)
}

#[derive(Default)]
struct Pending {
    title: Option<String>,
    long_name: Option<String>,
    data: Option<Vec<u8>>,
}

fn push(out: &mut Vec<File>, p: Pending, max: usize) -> Result<(), String> {
    let Some(data) = p.data else {
        return Ok(());
    };
    if out.len() == max {
        return Err(format!("more than {max} files in it"));
    }
    let name = p
        .long_name
        .filter(|n| !n.trim().is_empty())
        .or(p.title)
        .unwrap_or_default();
    out.push(File { name, data });
    Ok(())
}

/// An 8-bit string as TNEF stores it (NUL-terminated, in the sender's
/// code page): UTF-8 when it is, else each byte as Latin-1 — the name is
/// made safe by the caller either way.
fn string8(b: &[u8]) -> String {
    let b = b.split(|&x| x == 0).next().unwrap_or_default();
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&x| char::from(x)).collect(),
    }
}

/// `PR_ATTACH_LONG_FILENAME` from an `attAttachment` property list; None
/// when absent or when the list cannot be read as far as it.
fn long_filename(b: &[u8]) -> Option<String> {
    let mut c = Cursor(b);
    let count = c.u32().ok()?.min(MAX_PROPS);
    for _ in 0..count {
        let ptype = c.u16().ok()?;
        let pid = c.u16().ok()?;
        if pid >= 0x8000 {
            // A named property: its GUID, then a number or a name.
            c.take(16).ok()?;
            match c.u32().ok()? {
                0 => {
                    c.take(4).ok()?;
                }
                _ => {
                    let n = c.u32().ok()? as usize;
                    c.take(padded(n)?).ok()?;
                }
            }
        }
        let values = value(&mut c, ptype)?;
        if pid == PR_ATTACH_LONG_FILENAME {
            let v = values.into_iter().next()?;
            return Some(match ptype & 0x0FFF {
                0x001F => {
                    let units: Vec<u16> = v
                        .chunks_exact(2)
                        .map(|p| u16::from_le_bytes([p[0], p[1]]))
                        .take_while(|&u| u != 0)
                        .collect();
                    String::from_utf16_lossy(&units)
                }
                _ => string8(v),
            });
        }
    }
    None
}

/// A property's value(s): each variable-length value as its bytes, fixed
/// ones skipped (an empty list). None for a type it cannot size.
fn value<'a>(c: &mut Cursor<'a>, ptype: u16) -> Option<Vec<&'a [u8]>> {
    let multi = ptype & 0x1000 != 0;
    let base = ptype & 0x0FFF;
    let variable = matches!(base, 0x001E | 0x001F | 0x0102 | 0x000D);
    let fixed = match base {
        0x0001 | 0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => 4,
        0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => 8,
        0x0048 => 16,
        _ if variable => 0,
        _ => return None,
    };
    let count = if multi || variable { c.u32().ok()? } else { 1 };
    let mut out = Vec::new();
    for _ in 0..count {
        if variable {
            let n = c.u32().ok()? as usize;
            let v = c.take(n).ok()?;
            c.take(padded(n)? - n).ok()?;
            out.push(v);
        } else {
            c.take(fixed).ok()?;
        }
    }
    Some(out)
}

/// `n` rounded up to a multiple of 4 (MAPI values are 4-byte aligned).
fn padded(n: usize) -> Option<usize> {
    n.checked_add(3).map(|x| x & !3)
}

/// The bytes not read yet.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err("the wrapper ends early".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}
