//! An action's form fields as data: their description, parsing into typed values, and the values' storage form.
//!
//! Limits are written once, here in each field's [`Kind`]: the parser enforces them and the form
//! renders them (`maxlength`, `min`, `max`) from the same value.

use serde_json::{Map, Value as Json, json};

use crate::actions::input::{FieldErrors, RawForm};
use crate::domain::{Column, CorpId, Imei, data_limit};

/// What a secret is shown and stored as.
pub const REDACTED: &str = "[redacted]";

/// How a limit left as each line has it is stored.
const UNCHANGED: &str = "unchanged";

/// How a field is entered and what it accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Free text of `min..=max` characters; `rows > 0` is a multi-line box (newlines allowed).
    Text { min: usize, max: usize, rows: u8 },
    /// A status code chosen from Sentinel's list (`get_possible_statuses`).
    Status,
    /// Another device group the user may open (a list when the token names them, else typed).
    DeviceGroup,
    /// A data limit: left unchanged (the field left out, or `{name}Mode=keep`), a number in
    /// `{name}Unit` (MB or GB; MB when not given), or none (empty, `{name}None`, or
    /// `{name}Mode=none`). See [`crate::domain::data_limit`].
    Limit,
    /// One of these `(value, label)` choices, as radio buttons.
    Radio(&'static [(&'static str, &'static str)]),
    /// One of these values, as a menu.
    Select(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Count { min: u32, max: u32 },
    /// A box.
    Flag,
    /// A 15-digit IMEI with its check digit.
    Imei,
    /// A write-only secret of `min..=max` characters: optional, never echoed, never stored in
    /// a payload or an audit record (a running job keeps it sealed in `job_secrets`).
    Secret { min: usize, max: usize },
}

/// One field of an action's form.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The form and upstream name (`nickname`, `monthlyLimit`).
    pub name: &'static str,
    /// The form label.
    pub label: &'static str,
    /// The noun used in messages ("Enter a nickname.").
    pub noun: &'static str,
    /// Shown after the label, muted ("up to 1000 characters; empty clears it").
    pub help: &'static str,
    /// The message when the value is missing or not one of the choices ("" = a generic one).
    pub missing: &'static str,
    pub kind: Kind,
    /// An empty text means "not given" (stored as `null`), not "set to empty".
    pub empty_is_absent: bool,
    /// The lines' own values of this column are suggested in the form and a value none of
    /// them has is named in the preview (see `actions::known`).
    pub suggest: Option<Column>,
}

impl Field {
    /// A field with no help and the generic messages.
    pub const fn new(
        name: &'static str,
        label: &'static str,
        noun: &'static str,
        kind: Kind,
    ) -> Self {
        Self {
            name,
            label,
            noun,
            help: "",
            missing: "",
            kind,
            empty_is_absent: false,
            suggest: None,
        }
    }

    pub const fn suggested_from(self, column: Column) -> Self {
        Self {
            suggest: Some(column),
            ..self
        }
    }

    pub const fn absent_when_empty(self) -> Self {
        Self {
            empty_is_absent: true,
            ..self
        }
    }

    pub const fn help(self, help: &'static str) -> Self {
        Self { help, ..self }
    }

    pub const fn missing(self, missing: &'static str) -> Self {
        Self { missing, ..self }
    }

    fn missing_or(&self, generic: String) -> String {
        if self.missing.is_empty() {
            generic
        } else {
            self.missing.to_owned()
        }
    }
}

/// A parsed field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    /// An optional text left empty.
    Absent,
    /// MB, `None` for no limit.
    Limit(Option<f64>),
    /// A limit left as each line has it.
    Unchanged,
    Count(u32),
    Flag(bool),
    Imei(Imei),
    Group(CorpId),
    /// A secret typed now; `None` keeps the current one.
    Secret(Option<String>),
}

/// An action's parsed fields, in form order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values(Vec<(&'static str, FieldValue)>);

impl Values {
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// A text, status or choice value ("" when absent).
    pub fn text(&self, name: &str) -> &str {
        match self.get(name) {
            Some(FieldValue::Text(s)) => s,
            _ => "",
        }
    }

    /// An optional text: `None` when empty.
    pub fn opt_text(&self, name: &str) -> Option<String> {
        Some(self.text(name))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// A limit's value (`None`: no limit, or left unchanged: see [`Values::limit_change`]).
    pub fn limit(&self, name: &str) -> Option<f64> {
        match self.get(name) {
            Some(FieldValue::Limit(v)) => *v,
            _ => None,
        }
    }

    /// A limit's change: `None` when it is left as each line has it.
    pub fn limit_change(&self, name: &str) -> Option<Option<f64>> {
        match self.get(name) {
            Some(FieldValue::Limit(v)) => Some(*v),
            _ => None,
        }
    }

    /// The same values with `name` set to `v` (a line's own value filled in).
    pub fn with(&self, name: &'static str, v: FieldValue) -> Self {
        let mut out = self.clone();
        match out.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => out.0.push((name, v)),
        }
        out
    }

    pub fn count(&self, name: &str) -> Option<u32> {
        match self.get(name) {
            Some(FieldValue::Count(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(FieldValue::Flag(true)))
    }

    pub fn imei(&self, name: &str) -> Option<&Imei> {
        match self.get(name) {
            Some(FieldValue::Imei(i)) => Some(i),
            _ => None,
        }
    }

    pub fn group(&self, name: &str) -> Option<&CorpId> {
        match self.get(name) {
            Some(FieldValue::Group(c)) => Some(c),
            _ => None,
        }
    }

    pub fn secret(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(FieldValue::Secret(s)) => s.as_deref(),
            _ => None,
        }
    }

    /// These values with secret field `name` set to `value` (a job's sealed secret, opened when
    /// it is sent); a name that is not a secret field of these values changes nothing.
    pub fn with_secret(mut self, name: &str, value: String) -> Self {
        if let Some((_, v)) = self.0.iter_mut().find(|(n, _)| *n == name) {
            if matches!(v, FieldValue::Secret(_)) {
                *v = FieldValue::Secret(Some(value));
            }
        }
        self
    }

    /// The form pairs that fill a form with these values again (a retry to edit); secrets never.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, v) in &self.0 {
            let name = (*name).to_owned();
            match v {
                FieldValue::Text(s) => out.push((name, s.clone())),
                FieldValue::Absent | FieldValue::Secret(_) => {}
                FieldValue::Limit(None) => out.push((format!("{name}Mode"), "none".into())),
                FieldValue::Limit(Some(mb)) => {
                    let unit = data_limit::unit_of(*mb);
                    out.push((format!("{name}Mode"), "set".into()));
                    out.push((format!("{name}Unit"), unit.as_str().into()));
                    out.push((name, data_limit::in_unit(*mb, unit)));
                }
                FieldValue::Unchanged => out.push((format!("{name}Mode"), "keep".into())),
                FieldValue::Count(n) => out.push((name, n.to_string())),
                FieldValue::Flag(b) => {
                    if *b {
                        out.push((name, "true".into()));
                    }
                }
                FieldValue::Imei(i) => out.push((name, i.to_string())),
                FieldValue::Group(c) => out.push((name, c.to_string())),
            }
        }
        out
    }

    /// The values as stored (jobs) and audited: secrets are `"[redacted]"` when set, `null` when not.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        for (name, v) in &self.0 {
            let j = match v {
                FieldValue::Text(s) => json!(s),
                FieldValue::Absent => Json::Null,
                FieldValue::Limit(l) => json!(l),
                FieldValue::Unchanged => json!(UNCHANGED),
                FieldValue::Count(n) => json!(n),
                FieldValue::Flag(b) => json!(b),
                FieldValue::Imei(i) => json!(i.as_str()),
                FieldValue::Group(c) => json!(c.as_str()),
                FieldValue::Secret(s) => json!(s.as_ref().map(|_| REDACTED)),
            };
            m.insert((*name).to_owned(), j);
        }
        Json::Object(m)
    }

    /// Values read back from [`Values::to_json`], checked again against the fields (a stored job is
    /// input too). A secret never comes back: it was never stored.
    pub fn from_json(fields: &[Field], j: &Json) -> Result<Self, String> {
        let mut out = Vec::new();
        for f in fields {
            let v = j.get(f.name).unwrap_or(&Json::Null);
            let bad = || format!("stored field {} is not valid", f.name);
            let value = match f.kind {
                Kind::Text { .. } if f.empty_is_absent && v.is_null() => FieldValue::Absent,
                Kind::Text { .. } | Kind::Status | Kind::Radio(_) | Kind::Select(_) => {
                    FieldValue::Text(v.as_str().unwrap_or_default().to_owned())
                }
                Kind::Limit if v.as_str() == Some(UNCHANGED) => FieldValue::Unchanged,
                Kind::Limit => FieldValue::Limit(v.as_f64()),
                Kind::Count { .. } => FieldValue::Count(
                    v.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(bad)?,
                ),
                Kind::Flag => FieldValue::Flag(v.as_bool().unwrap_or(false)),
                Kind::Imei => {
                    FieldValue::Imei(Imei::parse(v.as_str().ok_or_else(bad)?).map_err(|e| e.0)?)
                }
                Kind::DeviceGroup => {
                    FieldValue::Group(CorpId::parse(v.as_str().ok_or_else(bad)?).map_err(|e| e.0)?)
                }
                Kind::Secret { .. } => FieldValue::Secret(None),
            };
            out.push((f.name, value));
        }
        Ok(Self(out))
    }
}

/// What parsing needs besides the form: the device group, and the secret typed now or kept since the preview.
#[derive(Debug, Clone, Copy)]
pub struct ParseCtx<'a> {
    pub corp: &'a CorpId,
    pub secret: Option<&'a str>,
}

fn text(
    form: &RawForm,
    e: &mut FieldErrors,
    f: &Field,
    min: usize,
    max: usize,
    rows: u8,
) -> String {
    let v = form.value(f.name).trim().to_owned();
    let n = v.chars().count();
    let noun = f.noun;
    if n < min {
        e.add(f.name, f.missing_or(format!("Enter a {noun}.")));
    } else if n > max {
        e.add(
            f.name,
            format!("The {noun} may have at most {max} characters (this one has {n})."),
        );
    } else if v
        .chars()
        .any(|c| c.is_control() && !(rows > 0 && matches!(c, '\n' | '\r' | '\t')))
    {
        e.add(
            f.name,
            format!("The {noun} may not contain control characters."),
        );
    }
    v
}

fn limit(form: &RawForm, e: &mut FieldErrors, f: &Field) -> FieldValue {
    let (name, noun) = (f.name, f.noun);
    let mode = form
        .value(&format!("{name}Mode"))
        .trim()
        .to_ascii_lowercase();
    if mode == "keep"
        || (mode.is_empty() && form.first(name).is_none() && !form.flag(&format!("{name}None")))
    {
        return FieldValue::Unchanged;
    }
    if mode == "none" || form.flag(&format!("{name}None")) {
        return FieldValue::Limit(None);
    }
    let raw = form.value(name).trim();
    if raw.is_empty() {
        if mode == "set" {
            e.add(
                name,
                format!("Enter a {noun}, or choose “No limit” or “Leave unchanged”."),
            );
        }
        // No choice made and an empty value: no limit (the contract's meaning of empty).
        return FieldValue::Limit(None);
    }
    let unit = match form.first(&format!("{name}Unit")) {
        None => data_limit::Unit::Mb,
        Some(u) => match data_limit::Unit::parse(u) {
            Some(u) => u,
            None => {
                e.add(name, format!("Choose GB or MB for the {noun}."));
                return FieldValue::Limit(None);
            }
        },
    };
    match data_limit::parse_in(raw, unit) {
        Ok(v) => FieldValue::Limit(Some(v)),
        Err(why) => {
            e.add(name, why);
            FieldValue::Limit(None)
        }
    }
}

/// Parses one field; a problem is added to `e` (the value returned then is a placeholder).
fn parse_one(
    form: &RawForm,
    ctx: &ParseCtx<'_>,
    e: &mut FieldErrors,
    f: &Field,
) -> Option<FieldValue> {
    let raw = form.value(f.name).trim();
    Some(match f.kind {
        Kind::Text { min, max, rows } => match text(form, e, f, min, max, rows) {
            t if t.is_empty() && f.empty_is_absent => FieldValue::Absent,
            t => FieldValue::Text(t),
        },
        Kind::Status => {
            if raw.is_empty() {
                e.add(f.name, f.missing_or(format!("Choose the {}.", f.noun)));
            } else if raw.len() > 32 || !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                e.add(f.name, format!("“{raw}” is not a {}.", f.noun));
            }
            FieldValue::Text(raw.to_owned())
        }
        Kind::DeviceGroup => match CorpId::parse(raw) {
            Ok(c) if c == *ctx.corp => {
                e.add(
                    f.name,
                    "The lines are already in this device group; choose another.",
                );
                FieldValue::Group(c)
            }
            Ok(c) => FieldValue::Group(c),
            Err(err) => {
                e.add(
                    f.name,
                    if raw.is_empty() {
                        f.missing_or(format!("Choose the {}.", f.noun))
                    } else {
                        err.0
                    },
                );
                FieldValue::Group(ctx.corp.clone())
            }
        },
        Kind::Limit => limit(form, e, f),
        Kind::Radio(choices) => {
            if !choices.iter().any(|(v, _)| *v == raw) {
                e.add(f.name, f.missing_or(format!("Choose a {}.", f.noun)));
            }
            FieldValue::Text(raw.to_owned())
        }
        Kind::Select(choices) => {
            if !choices.contains(&raw) {
                e.add(f.name, f.missing_or(format!("Choose a {}.", f.noun)));
            }
            FieldValue::Text(raw.to_owned())
        }
        Kind::Count { min, max } => match raw.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => FieldValue::Count(n),
            _ => {
                e.add(
                    f.name,
                    f.missing_or(format!("Enter a {} from {min} to {max}.", f.noun)),
                );
                FieldValue::Count(min)
            }
        },
        Kind::Flag => FieldValue::Flag(form.flag(f.name)),
        Kind::Imei => match Imei::parse(raw) {
            Ok(i) => FieldValue::Imei(i),
            Err(err) => {
                e.add(
                    f.name,
                    if raw.is_empty() {
                        f.missing_or(format!("Enter the {}.", f.noun))
                    } else {
                        err.0
                    },
                );
                return None;
            }
        },
        Kind::Secret { min, max } => match ctx.secret.filter(|p| !p.is_empty()) {
            None => FieldValue::Secret(None),
            Some(p) => {
                if !(min..=max).contains(&p.chars().count()) {
                    e.add(
                        f.name,
                        f.missing_or(format!(
                            "The {} must have {min} to {max} characters. Type it again.",
                            f.noun
                        )),
                    );
                }
                FieldValue::Secret(Some(p.to_owned()))
            }
        },
    })
}

/// Parses every field of a form; all problems are reported at once, per field.
pub fn parse(fields: &[Field], form: &RawForm, ctx: &ParseCtx<'_>) -> Result<Values, FieldErrors> {
    let mut e = FieldErrors::default();
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        if let Some(v) = parse_one(form, ctx, &mut e, f) {
            out.push((f.name, v));
        }
    }
    let limits: Vec<&Field> = fields.iter().filter(|f| f.kind == Kind::Limit).collect();
    let all_kept = !limits.is_empty()
        && out
            .iter()
            .filter(|(n, _)| limits.iter().any(|f| f.name == *n))
            .all(|(_, v)| *v == FieldValue::Unchanged);
    if let (true, Some(first)) = (all_kept, limits.first()) {
        e.add(
            first.name,
            "Choose a new value for at least one limit; both are set to “Leave unchanged”.",
        );
    }
    if e.is_empty() {
        Ok(Values(out))
    } else {
        Err(e)
    }
}

/// The names of the secret fields (never echoed into a page).
pub fn secrets(fields: &[Field]) -> impl Iterator<Item = &'static str> + '_ {
    fields
        .iter()
        .filter(|f| matches!(f.kind, Kind::Secret { .. }))
        .map(|f| f.name)
}
