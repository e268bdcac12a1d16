//! The loaded template set: the shipped templates with the operator's
//! folder laid over them, file by file, compiled per language.
//!
//! The rule (documented in `mail-templates/README.md`): a file
//! `<lang>/<name>.<txt|html>` in the operator's folder replaces the shipped
//! file of the same language and name, and only that one; every other file
//! stays the shipped one. So an operator overriding `en/auto_reply.txt`
//! keeps the shipped `en/layout.txt` and every other template, and one
//! overriding `en/layout.txt` alone restyles every shipped template. One
//! exception keeps the two parts of a mail saying the same: an operator's
//! `<name>.txt` without a `<name>.html` beside it drops the shipped
//! `<name>.html` of that language (the mail is then plain text). Layouts
//! are frames, not mails: `layout.txt` and `layout.html` replace each
//! other's shipped counterpart independently.
//!
//! Each language is one Tera instance holding its files by file name, so
//! `{% extends "layout.txt" %}` finds that language's layout; a language
//! without its own layout gets the default language's (or English). HTML
//! files are autoescaped, text files are not. A template is picked in the
//! mail's language, else the default language, else `en`, by its `.txt`;
//! its `.html` comes from the same language or not at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{tera_message, Context, NotifyError};
use crate::mail::sanitize_line;

/// Where a template file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The operator's `templates_dir`.
    Operator,
    /// Compiled into postdesk from `mail-templates/`.
    Shipped,
}

/// One template file's text, before compiling.
pub(super) struct Source {
    pub(super) lang: String,
    /// The file name, `<name>.txt` or `<name>.html`.
    pub(super) file: String,
    /// For messages: the file, or its place among the shipped templates.
    pub(super) path: PathBuf,
    pub(super) text: String,
    pub(super) origin: Origin,
}

/// The file name the layout of each part has (not a notification itself).
const LAYOUT: &str = "layout";

/// One language's compiled files.
struct Lang {
    tera: tera::Tera,
    /// file name → (where it came from, its path for messages)
    files: BTreeMap<String, (Origin, PathBuf)>,
}

/// A rendered notification: subject and text, and the HTML alternative
/// when the language has one for this template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
    /// The language whose template was used.
    pub lang: String,
}

/// One file of the set, for `postdesk templates list`.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub lang: String,
    pub name: String,
    /// `txt` or `html`.
    pub part: String,
    pub origin: Origin,
    /// The file that is used (a shipped one as `(shipped templates)/…`).
    pub path: PathBuf,
}

/// Loaded templates for every language found.
pub struct Templates {
    langs: BTreeMap<String, Lang>,
    /// The operator's files naming variables the context does not have
    /// (quietly empty or false at render time): for `postdesk check`.
    warnings: Vec<String>,
    default_language: String,
    dir: PathBuf,
}

/// The `<lang>/<name>.<txt|html>` files under `dir`, as the operator's.
pub(super) fn read_folder(dir: &Path) -> Result<Vec<Source>, NotifyError> {
    let entries = std::fs::read_dir(dir).map_err(|e| NotifyError::Folder(dir.into(), e))?;
    let mut langs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    langs.sort();
    let mut sources = Vec::new();
    for lang_dir in langs {
        let Some(lang) = lang_dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let files =
            std::fs::read_dir(&lang_dir).map_err(|e| NotifyError::Folder(lang_dir.clone(), e))?;
        let mut files: Vec<PathBuf> = files
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "txt" || x == "html"))
            .collect();
        files.sort();
        for path in files {
            let Some(file) = path.file_name().and_then(|n| n.to_str()).map(String::from) else {
                continue;
            };
            let text =
                std::fs::read_to_string(&path).map_err(|e| NotifyError::Read(path.clone(), e))?;
            sources.push(Source {
                lang: lang.to_string(),
                file,
                path,
                text,
                origin: Origin::Operator,
            });
        }
    }
    Ok(sources)
}

/// `operator` laid over `shipped`, file by file (see the module doc).
pub(super) fn overlay(operator: Vec<Source>, shipped: Vec<Source>) -> Vec<Source> {
    let mut by_file: BTreeMap<(String, String), Source> = BTreeMap::new();
    for s in shipped {
        by_file.insert((s.lang.clone(), s.file.clone()), s);
    }
    let own: Vec<(String, String)> = operator
        .iter()
        .map(|s| (s.lang.clone(), s.file.clone()))
        .collect();
    for s in operator {
        // An operator's text without their own HTML: no shipped HTML that
        // would say something else. (Layouts are the frame of each part
        // and go separately.)
        if let Some(stem) = s.file.strip_suffix(".txt").filter(|stem| *stem != LAYOUT) {
            let html = (s.lang.clone(), format!("{stem}.html"));
            if !own.contains(&html) {
                by_file.remove(&html);
            }
        }
        by_file.insert((s.lang.clone(), s.file.clone()), s);
    }
    by_file.into_values().collect()
}

fn stem_and_part(file: &str) -> (&str, &str) {
    file.rsplit_once('.').unwrap_or((file, ""))
}

impl Templates {
    /// The shipped templates with the `<lang>/<name>.txt|html` files under
    /// `dir` laid over them. Fails when a file is unreadable or malformed
    /// (naming it), when an HTML file has no text beside it, or when a
    /// template does not render with sample values.
    pub fn load(dir: &Path, default_language: &str) -> Result<Templates, NotifyError> {
        let operator = read_folder(dir)?;
        Templates::from_sources(
            overlay(operator, super::shipped::sources()),
            default_language,
            dir,
        )
    }

    /// Compile and check templates already read; `dir` names where they
    /// came from in messages.
    pub(super) fn from_sources(
        sources: Vec<Source>,
        default_language: &str,
        dir: &Path,
    ) -> Result<Templates, NotifyError> {
        let mut per_lang: BTreeMap<String, Vec<Source>> = BTreeMap::new();
        let sample = tera::to_value(Context::sample())
            .map_err(|e| NotifyError::Build(format!("sample context: {e}")))?;
        let mut warnings = Vec::new();
        for s in sources {
            // Each file alone first, so a syntax error names its file.
            tera::Template::new(&s.file, None, &s.text).map_err(|e| NotifyError::Syntax {
                path: s.path.clone(),
                message: tera_message(&e),
            })?;
            if s.origin == Origin::Operator {
                let missing = super::vars::undefined_variables(&s.text, &sample).map_err(|e| {
                    NotifyError::Syntax {
                        path: s.path.clone(),
                        message: tera_message(&e),
                    }
                })?;
                if !missing.is_empty() {
                    warnings.push(format!(
                        "{}: no such variable {} (see mail-templates/README.md for the variables)",
                        s.path.display(),
                        missing.join(", ")
                    ));
                }
            }
            per_lang.entry(s.lang.clone()).or_default().push(s);
        }
        // A language without its own layout borrows the default
        // language's, else English's.
        for part in ["txt", "html"] {
            let layout = format!("{LAYOUT}.{part}");
            let borrowed = [default_language, "en"].into_iter().find_map(|l| {
                per_lang
                    .get(l)?
                    .iter()
                    .find(|s| s.file == layout)
                    .map(|s| (s.path.clone(), s.text.clone(), s.origin))
            });
            let Some((path, text, origin)) = borrowed else {
                continue;
            };
            for (lang, files) in per_lang.iter_mut() {
                if !files.iter().any(|s| s.file == layout) {
                    files.push(Source {
                        lang: lang.clone(),
                        file: layout.clone(),
                        path: path.clone(),
                        text: text.clone(),
                        origin,
                    });
                }
            }
        }
        let mut langs = BTreeMap::new();
        for (lang, files) in per_lang {
            langs.insert(lang.clone(), compile(&lang, files)?);
        }
        let t = Templates {
            langs,
            warnings,
            default_language: default_language.to_string(),
            dir: dir.to_path_buf(),
        };
        t.check_with_sample()?;
        Ok(t)
    }

    /// Render every template once with sample values, so a mistake (an
    /// unknown variable, a bad filter, a lost Subject line) shows at start
    /// or in `postdesk check`, not on the first customer's mail.
    fn check_with_sample(&self) -> Result<(), NotifyError> {
        let sample = tera::Context::from_serialize(Context::sample())
            .map_err(|e| NotifyError::Build(format!("sample context: {}", tera_message(&e))))?;
        for l in self.langs.values() {
            for (file, (_, path)) in &l.files {
                let (stem, part) = stem_and_part(file);
                if stem == LAYOUT {
                    continue;
                }
                if part == "html" && !l.files.contains_key(&format!("{stem}.txt")) {
                    return Err(NotifyError::HtmlAlone(path.clone()));
                }
                let out = l
                    .tera
                    .render(file, &sample)
                    .map_err(|e| NotifyError::Syntax {
                        path: path.clone(),
                        message: tera_message(&e),
                    })?;
                if part == "txt" && split_subject(&out).is_none() {
                    return Err(NotifyError::NoSubject(path.clone()));
                }
            }
        }
        Ok(())
    }

    /// The operator's files that name variables the context does not
    /// provide (in a branch the sample render did not take, or tested by
    /// `{% if %}`, where Tera takes them as false): one line per file.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Languages with at least one template.
    pub fn languages(&self) -> Vec<String> {
        self.langs.keys().cloned().collect()
    }

    /// The language whose template `name` is used for `lang`.
    fn pick(&self, name: &str, lang: &str) -> Result<String, NotifyError> {
        let file = format!("{name}.txt");
        for l in [lang, self.default_language.as_str(), "en"] {
            if self
                .langs
                .get(l)
                .is_some_and(|set| set.files.contains_key(&file))
            {
                return Ok(l.to_string());
            }
        }
        Err(NotifyError::Missing {
            name: name.to_string(),
            lang: lang.to_string(),
            dir: self.dir.clone(),
        })
    }

    /// Whether there is any template in `lang` (to pick a ticket language).
    pub fn has_language(&self, lang: &str) -> bool {
        self.langs.contains_key(lang)
    }

    /// Whether a template `name` exists in any language (a rule's
    /// `auto_reply = "name"` is checked against this).
    pub fn has_template(&self, name: &str) -> bool {
        name != LAYOUT
            && self
                .langs
                .values()
                .any(|l| l.files.contains_key(&format!("{name}.txt")))
    }

    /// Every file of the set: which language, template and part, and
    /// whether the operator's or the shipped one is used.
    pub fn list(&self) -> Vec<Listed> {
        let mut out = Vec::new();
        for (lang, l) in &self.langs {
            for (file, (origin, path)) in &l.files {
                let (stem, part) = stem_and_part(file);
                out.push(Listed {
                    lang: lang.clone(),
                    name: stem.to_string(),
                    part: part.to_string(),
                    origin: *origin,
                    path: path.clone(),
                });
            }
        }
        out
    }

    /// Render `kind` in `lang` (with fallbacks) → (subject, body).
    pub fn render(
        &self,
        kind: super::Kind,
        lang: &str,
        ctx: &Context,
    ) -> Result<(String, String), NotifyError> {
        self.render_named(kind.name(), lang, ctx)
    }

    /// Render the template `name` in `lang` (with fallbacks) → (subject,
    /// body).
    pub fn render_named(
        &self,
        name: &str,
        lang: &str,
        ctx: &Context,
    ) -> Result<(String, String), NotifyError> {
        let p = self.render_parts(name, lang, ctx)?;
        Ok((p.subject, p.body))
    }

    /// Render the template `name` in `lang` (with fallbacks): subject, text
    /// and, when that language has `<name>.html`, the HTML alternative.
    pub fn render_parts(
        &self,
        name: &str,
        lang: &str,
        ctx: &Context,
    ) -> Result<Parts, NotifyError> {
        let l = self.pick(name, lang)?;
        let err = |message: String| NotifyError::Render {
            name: name.to_string(),
            lang: l.clone(),
            message,
        };
        let set = self
            .langs
            .get(&l)
            .ok_or_else(|| err("language vanished".into()))?;
        let tctx = tera::Context::from_serialize(ctx).map_err(|e| err(tera_message(&e)))?;
        let out = set
            .tera
            .render(&format!("{name}.txt"), &tctx)
            .map_err(|e| err(tera_message(&e)))?;
        let (subject, body) = split_subject(&out).ok_or_else(|| {
            err("rendered text lost its 'Subject:' line or the blank line after it".into())
        })?;
        let html_file = format!("{name}.html");
        let html = if set.files.contains_key(&html_file) {
            Some(
                set.tera
                    .render(&html_file, &tctx)
                    .map_err(|e| err(format!("{html_file}: {}", tera_message(&e))))?,
            )
        } else {
            None
        };
        Ok(Parts {
            subject,
            body,
            html,
            lang: l,
        })
    }
}

/// Compile one language's files into one Tera (inheritance resolved).
fn compile(lang: &str, files: Vec<Source>) -> Result<Lang, NotifyError> {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    let mut listed = BTreeMap::new();
    let mut raw = Vec::new();
    for s in files {
        let text = s.text.replace("\r\n", "\n");
        listed.insert(s.file.clone(), (s.origin, s.path));
        raw.push((s.file, text));
    }
    tera.add_raw_templates(raw).map_err(|e| {
        // Name the file the error is about when Tera says which.
        let message = tera_message(&e);
        let path = listed
            .iter()
            .find(|(file, _)| message.contains(&format!("'{file}'")))
            .map(|(_, (_, p))| p.clone())
            .unwrap_or_else(|| PathBuf::from(lang));
        NotifyError::Syntax { path, message }
    })?;
    Ok(Lang {
        tera,
        files: listed,
    })
}

/// A rendered text template → (subject, body): `Subject: …`, a blank line,
/// the body. None when it does not have that shape.
fn split_subject(out: &str) -> Option<(String, String)> {
    let rest = out
        .trim_start_matches(['\n', ' '])
        .strip_prefix("Subject:")?;
    let (head, body) = rest.split_once("\n\n")?;
    Some((
        sanitize_line(head),
        body.trim_start_matches('\n').to_string(),
    ))
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
