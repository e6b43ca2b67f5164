//! An action's form fields as data: their description, parsing into typed values, and the values' storage form.
//!
//! Limits are written once, here in each field's [`Kind`]: the parser enforces them and the form
//! renders them (`maxlength`, `min`, `max`) from the same value.

use serde_json::{Map, Value as Json, json};

use crate::actions::input::{FieldErrors, RawForm};
use crate::domain::{CorpId, Imei};

/// What a secret is shown and stored as.
pub const REDACTED: &str = "[redacted]";

/// How a field is entered and what it accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Free text of `min..=max` characters; `rows > 0` is a multi-line box (newlines allowed).
    Text { min: usize, max: usize, rows: u8 },
    /// A status code chosen from Sentinel's list (`get_possible_statuses`).
    Status,
    /// Another device group the user may open (a list when the token names them, else typed).
    DeviceGroup,
    /// MB, or "No limit" (a `{name}None` box).
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
    /// A write-only secret of `min..=max` characters: optional, never echoed, never stored.
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

    pub fn limit(&self, name: &str) -> Option<f64> {
        match self.get(name) {
            Some(FieldValue::Limit(v)) => *v,
            _ => None,
        }
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

    /// The values as stored (jobs) and audited: secrets are `"[redacted]"` when set, `null` when not.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        for (name, v) in &self.0 {
            let j = match v {
                FieldValue::Text(s) => json!(s),
                FieldValue::Absent => Json::Null,
                FieldValue::Limit(l) => json!(l),
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

fn limit(form: &RawForm, e: &mut FieldErrors, f: &Field) -> Option<f64> {
    let (name, noun) = (f.name, f.noun);
    if form.flag(&format!("{name}None")) {
        return None;
    }
    let raw = form.value(name).trim();
    if raw.is_empty() {
        e.add(name, format!("Enter a {noun} in MB, or tick “No limit”."));
        return None;
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=100_000_000.0).contains(&v) => Some(v),
        Ok(v) if v < 0.0 => {
            e.add(name, format!("The {noun} cannot be negative."));
            None
        }
        _ => {
            e.add(
                name,
                format!("“{raw}” is not a number of MB (for example 10240)."),
            );
            None
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
        Kind::Limit => FieldValue::Limit(limit(form, e, f)),
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
