//! A small, careful HTML form parser: enough to find the IdP's login, consent and
//! logout forms and submit them as a browser would. Comments, `<script>` and `<style>`
//! bodies are skipped; attribute values are entity-decoded.

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Element: `input`, `button`, `textarea` or `select`.
    pub element: String,
    /// `type` attribute, lowercase (`text` for inputs without one, `submit` for buttons).
    pub kind: String,
    /// `name` attribute (`None` for unnamed elements, which are never submitted).
    pub name: Option<String>,
    /// Current value.
    pub value: String,
    /// `checked` (checkboxes and radios).
    pub checked: bool,
    /// `id` attribute.
    pub id: Option<String>,
}

impl Field {
    /// Whether this element submits the form when clicked.
    pub fn is_submit(&self) -> bool {
        (self.element == "button" && self.kind == "submit")
            || (self.element == "input" && matches!(self.kind.as_str(), "submit" | "image"))
    }
}

/// A parsed `<form>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// `action` as written (empty means the page's own URL).
    pub action: String,
    /// `GET` or `POST`.
    pub method: String,
    /// `id` attribute.
    pub id: Option<String>,
    /// Fields in document order.
    pub fields: Vec<Field>,
}

impl Form {
    /// Whether a named field exists.
    pub fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.name.as_deref() == Some(name))
    }

    /// Set a named field's value; false when there is no such field.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        let mut found = false;
        for f in &mut self.fields {
            if f.name.as_deref() == Some(name) && !f.is_submit() {
                f.value = value.to_owned();
                found = true;
            }
        }
        found
    }

    /// The name/value pairs a browser sends when `submitter` (index into `fields`, or the
    /// first submit button when `None`) is clicked.
    pub fn pairs(&self, submitter: Option<usize>) -> Vec<(String, String)> {
        let submitter = submitter.or_else(|| self.fields.iter().position(Field::is_submit));
        self.fields
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                if f.is_submit() {
                    Some(*i) == submitter
                } else if matches!(f.kind.as_str(), "checkbox" | "radio") {
                    f.checked
                } else {
                    !matches!(f.kind.as_str(), "reset" | "button" | "file")
                }
            })
            .filter_map(|(_, f)| f.name.clone().map(|n| (n, f.value.clone())))
            .collect()
    }
}

/// All forms in `html`, in document order.
pub fn parse_forms(html: &str) -> Vec<Form> {
    let mut forms: Vec<Form> = Vec::new();
    let mut open: Option<Form> = None;
    let mut pos = 0;
    while let Some(rel) = html[pos..].find('<') {
        let start = pos + rel;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            pos = rest.find("-->").map_or(html.len(), |e| start + e + 3);
            continue;
        }
        let Some(end) = tag_end(rest) else { break };
        let tag = &rest[1..end];
        pos = start + end + 1;
        let (name, attrs) = parse_tag(tag);
        match name.as_str() {
            "script" | "style" => {
                let close = format!("</{name}");
                pos = find_ci(&html[pos..], &close).map_or(html.len(), |e| pos + e);
            }
            "form" => {
                if let Some(f) = open.take() {
                    forms.push(f);
                }
                open = Some(Form {
                    action: attr(&attrs, "action").unwrap_or_default(),
                    method: attr(&attrs, "method")
                        .map(|m| m.to_ascii_uppercase())
                        .filter(|m| m == "POST")
                        .unwrap_or_else(|| "GET".into()),
                    id: attr(&attrs, "id"),
                    fields: Vec::new(),
                });
            }
            "/form" => {
                if let Some(f) = open.take() {
                    forms.push(f);
                }
            }
            "input" | "button" | "textarea" | "select" => {
                let Some(form) = open.as_mut() else { continue };
                let default_kind = match name.as_str() {
                    "input" => "text",
                    "button" => "submit",
                    other => other,
                };
                let mut value = attr(&attrs, "value").unwrap_or_default();
                if name == "textarea" {
                    let body_end = find_ci(&html[pos..], "</textarea").unwrap_or(0);
                    value = decode_entities(&html[pos..pos + body_end]);
                }
                form.fields.push(Field {
                    element: name.clone(),
                    kind: attr(&attrs, "type")
                        .map(|t| t.to_ascii_lowercase())
                        .unwrap_or_else(|| default_kind.into()),
                    name: attr(&attrs, "name"),
                    value,
                    checked: attrs.iter().any(|(k, _)| k == "checked"),
                    id: attr(&attrs, "id"),
                });
            }
            _ => {}
        }
    }
    if let Some(f) = open.take() {
        forms.push(f);
    }
    forms
}

/// Index of the `>` closing a tag that starts at `s[0] == '<'`, honouring quotes.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.to_ascii_lowercase().find(&needle.to_ascii_lowercase())
}

/// Tag name (lowercase, `/name` for end tags) and attributes (lowercase keys).
fn parse_tag(tag: &str) -> (String, Vec<(String, String)>) {
    let tag = tag.trim_end_matches('/');
    let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
    let name = tag[..name_end].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let chars: Vec<char> = tag[name_end..].chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        let key_start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' {
            i += 1;
        }
        let key: String = chars[key_start..i]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let q = chars[i];
                i += 1;
                let vs = i;
                while i < chars.len() && chars[i] != q {
                    i += 1;
                }
                value = chars[vs..i].iter().collect();
                i += 1;
            } else {
                let vs = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                value = chars[vs..i].iter().collect();
            }
        }
        if !key.is_empty() {
            attrs.push((key, decode_entities(&value)));
        }
    }
    (name, attrs)
}

fn attr(attrs: &[(String, String)], key: &str) -> Option<String> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// Decode the character references that appear in attribute values.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
