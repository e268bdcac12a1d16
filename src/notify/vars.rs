//! The strict variable check: every variable a template names, in every
//! branch (also those a sample render does not take, such as an `{% elif %}`
//! after a true `{% if %}`), must exist in the [`Context`](super::Context).
//! Tera itself only fails on a missing variable it prints; one tested by
//! `{% if %}` is silently false, so a misspelt condition would never show.
//!
//! Walks the template's syntax tree: loop variables, `{% set %}` names and
//! macro arguments are the template's own; `x is defined` tests are a
//! template's way of saying a variable is optional and are not checked.

use tera::ast::{Expr, ExprVal, Node};
use tera::Value;

/// The variables `source` names that `ctx` does not have, each once, in
/// the order they appear. Err when `source` does not parse.
pub fn undefined_variables(source: &str, ctx: &Value) -> Result<Vec<String>, tera::Error> {
    let t = tera::Template::new("checked", None, source)?;
    let mut w = Walker {
        ctx,
        locals: vec!["loop".to_string(), "__tera_context".to_string()],
        missing: Vec::new(),
    };
    w.nodes(&t.ast);
    Ok(w.missing)
}

struct Walker<'a> {
    ctx: &'a Value,
    locals: Vec<String>,
    missing: Vec<String>,
}

impl Walker<'_> {
    fn nodes(&mut self, nodes: &[Node]) {
        for n in nodes {
            self.node(n);
        }
    }

    fn node(&mut self, n: &Node) {
        match n {
            Node::VariableBlock(_, e) => self.expr(e),
            Node::Set(_, s) => {
                self.expr(&s.value);
                self.locals.push(s.key.clone());
            }
            Node::Forloop(_, f, _) => {
                self.expr(&f.container);
                let before = self.locals.len();
                self.locals.extend(f.key.iter().cloned());
                self.locals.push(f.value.clone());
                self.nodes(&f.body);
                self.locals.truncate(before);
                if let Some(empty) = &f.empty_body {
                    self.nodes(empty);
                }
            }
            Node::If(i, _) => {
                for (_, cond, body) in &i.conditions {
                    self.expr(cond);
                    self.nodes(body);
                }
                if let Some((_, body)) = &i.otherwise {
                    self.nodes(body);
                }
            }
            Node::FilterSection(_, f, _) => {
                for e in f.filter.args.values() {
                    self.expr(e);
                }
                self.nodes(&f.body);
            }
            Node::Block(_, b, _) => self.nodes(&b.body),
            Node::MacroDefinition(_, m, _) => {
                let before = self.locals.len();
                self.locals.extend(m.args.keys().cloned());
                self.nodes(&m.body);
                self.locals.truncate(before);
            }
            _ => {}
        }
    }

    fn expr(&mut self, e: &Expr) {
        self.val(&e.val);
        for f in &e.filters {
            for a in f.args.values() {
                self.expr(a);
            }
        }
    }

    fn val(&mut self, v: &ExprVal) {
        match v {
            ExprVal::Ident(name) => self.ident(name),
            ExprVal::Math(m) => {
                self.expr(&m.lhs);
                self.expr(&m.rhs);
            }
            ExprVal::Logic(l) => {
                self.expr(&l.lhs);
                self.expr(&l.rhs);
            }
            ExprVal::In(i) => {
                self.expr(&i.lhs);
                self.expr(&i.rhs);
            }
            // `x is defined` and the like: the template checks for itself.
            ExprVal::Test(t) => {
                for a in &t.args {
                    self.expr(a);
                }
            }
            ExprVal::MacroCall(m) => {
                for a in m.args.values() {
                    self.expr(a);
                }
            }
            ExprVal::FunctionCall(f) => {
                for a in f.args.values() {
                    self.expr(a);
                }
            }
            ExprVal::Array(items) => {
                for i in items {
                    self.expr(i);
                }
            }
            ExprVal::StringConcat(s) => {
                for v in &s.values {
                    self.val(v);
                }
            }
            _ => {}
        }
    }

    fn ident(&mut self, name: &str) {
        let parts: Vec<&str> = name
            .split(['.', '['])
            .map(|p| p.trim_end_matches(']').trim_matches(['"', '\'']))
            .collect();
        if self.locals.iter().any(|l| l == parts[0]) {
            return;
        }
        let mut at = self.ctx;
        for p in &parts {
            match at {
                Value::Object(map) => match map.get(*p) {
                    Some(next) => at = next,
                    None => {
                        if !self.missing.iter().any(|m| m == name) {
                            self.missing.push(name.to_string());
                        }
                        return;
                    }
                },
                // An index into a list (or a variable index): the list
                // exists, its items are the data's business.
                Value::Array(_) => return,
                _ => {
                    if !self.missing.iter().any(|m| m == name) {
                        self.missing.push(name.to_string());
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Context;

    fn check(source: &str, missing: &[&str]) {
        let ctx = tera::to_value(Context::sample()).unwrap();
        assert_eq!(
            undefined_variables(source, &ctx).unwrap(),
            missing,
            "{source}"
        );
    }

    #[test]
    fn names_what_the_context_lacks_in_every_branch() {
        check("{{ ticket.number }} {{ article.from }}", &[]);
        check("{% if ticket.nope %}x{% endif %}", &["ticket.nope"]);
        check(
            "{% if ticket.number %}a{% elif artcle.from %}b{% else %}{{ nope | upper }}{% endif %}",
            &["artcle.from", "nope"],
        );
        check("{{ ticket.number.deeper }}", &["ticket.number.deeper"]);
        check(
            "{{ article.attachments.0 }} {{ article.attachments[1] }}",
            &[],
        );
        check("{{ article.attachments | join(sep=sep) }}", &["sep"]);
    }

    #[test]
    fn the_templates_own_names_are_not_missing() {
        check(
            "{% for a in article.attachments %}{{ a }} {{ loop.index }}{% endfor %}",
            &[],
        );
        check("{% set x = ticket.tag %}{{ x }}", &[]);
        check(
            "{% if custom is defined %}{{ custom }}{% endif %}",
            &["custom"],
        );
        check(
            "{% for k, v in ticket %}{{ k }}={{ v }}{% endfor %}{{ v }}",
            &["v"],
        );
    }

    #[test]
    fn every_shipped_template_uses_only_what_the_context_provides() {
        let ctx = tera::to_value(Context::sample()).unwrap();
        for s in super::super::shipped::sources() {
            let missing = undefined_variables(&s.text, &ctx)
                .unwrap_or_else(|e| panic!("{}: {e}", s.path.display()));
            assert!(
                missing.is_empty(),
                "{} uses {missing:?}, which the notification context does not provide \
                 (add them to notify::Context and mail-templates/README.md, or fix the template)",
                s.path.display()
            );
        }
    }
}
