//! Requests served without a login, by method and path: `GET /public/*` public while a
//! `POST` there still needs a login.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An HTTP method, as public-request rules name it (upper case on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `HEAD` (not implied by `GET`: list it when wanted).
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS` (CORS preflights have their own rule).
    Options,
}

impl HttpMethod {
    /// The method as it appears in a request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}

/// These methods on these path prefixes need no login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublicRequest {
    /// The methods (exact, case-sensitive as HTTP says).
    pub methods: Vec<HttpMethod>,
    /// Path prefixes, matched on segment boundaries; only paths every parser reads the
    /// same way match (see `outpost::path`).
    #[schemars(inner(pattern(r"^/")))]
    pub paths: Vec<String>,
}

impl PublicRequest {
    /// Whether `method` is one of ours.
    pub fn allows(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m.as_str() == method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_a_closed_upper_case_vocabulary() {
        let r: PublicRequest =
            serde_yaml::from_str("{methods: [GET, HEAD], paths: [/public]}").unwrap();
        assert!(r.allows("GET") && r.allows("HEAD"));
        assert!(!r.allows("POST") && !r.allows("get"));
        for bad in [
            "{methods: [get], paths: [/p]}",
            "{methods: [CONNECT], paths: [/p]}",
            "{methods: [GET], paths: [/p], extra: 1}",
        ] {
            assert!(serde_yaml::from_str::<PublicRequest>(bad).is_err(), "{bad}");
        }
    }
}
