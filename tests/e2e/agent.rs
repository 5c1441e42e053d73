//! A scripted, browser-like HTTP client: own cookie jar, manual redirects with a hop log
//! and loop detection, `Accept: text/html` by default, and form submission (login,
//! consent, logout) the way a person with a browser would do it.

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::cookies::CookieJar;
use super::form::{Form, parse_forms};
use super::{HarnessError, Result};

/// The `Accept` header a browser sends for a navigation.
pub const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// One request/response in a navigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Request method.
    pub method: String,
    /// Request URL.
    pub url: String,
    /// Response status.
    pub status: u16,
    /// `Location` header, if any.
    pub location: Option<String>,
}

/// The final response of a navigation.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status of the final response.
    pub status: u16,
    /// URL of the final response.
    pub url: Url,
    /// Headers of the final response.
    pub headers: HeaderMap,
    /// Body as text.
    pub body: String,
    /// Every hop of the navigation, the final one included.
    pub hops: Vec<Hop>,
}

impl Response {
    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .map_err(|e| HarnessError::Unexpected(format!("body of {} is not JSON: {e}", self.url)))
    }

    /// Forms on the page.
    pub fn forms(&self) -> Vec<Form> {
        parse_forms(&self.body)
    }

    /// The `Location` of the final hop (for non-followed redirects).
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

/// The user agent.
#[derive(Debug)]
pub struct UserAgent {
    http: reqwest::Client,
    /// The cookie jar (public so tests can inspect or tamper with it).
    pub jar: CookieJar,
    /// Most redirects followed in one navigation before it counts as a loop.
    pub max_hops: usize,
    default_headers: HeaderMap,
    last: Option<Response>,
}

impl Default for UserAgent {
    fn default() -> Self {
        Self::new()
    }
}

impl UserAgent {
    /// A fresh agent with an empty jar.
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("build reqwest client");
        let mut default_headers = HeaderMap::new();
        default_headers.insert("accept", HeaderValue::from_static(BROWSER_ACCEPT));
        default_headers.insert(
            "user-agent",
            HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64) portcullis-e2e"),
        );
        Self {
            http,
            jar: CookieJar::new(),
            max_hops: 20,
            default_headers,
            last: None,
        }
    }

    /// Replace or add a header sent on every request (e.g. `accept: application/json`).
    pub fn set_default_header(&mut self, name: &'static str, value: &str) {
        self.default_headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("valid header value"),
        );
    }

    /// The last navigation's final response.
    pub fn last(&self) -> Option<&Response> {
        self.last.as_ref()
    }

    /// GET `url`, following redirects.
    pub async fn get(&mut self, url: &str) -> Result<Response> {
        self.navigate(Method::GET, url, HeaderMap::new(), None, true)
            .await
    }

    /// GET `url` without following redirects (one hop).
    pub async fn get_no_follow(&mut self, url: &str) -> Result<Response> {
        self.navigate(Method::GET, url, HeaderMap::new(), None, false)
            .await
    }

    /// POST an urlencoded form to `url`, following redirects.
    pub async fn post_form(&mut self, url: &str, pairs: &[(String, String)]) -> Result<Response> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.navigate(Method::POST, url, headers, Some(body), true)
            .await
    }

    /// Any request, with extra headers, optionally following redirects.
    pub async fn request(
        &mut self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<String>,
        follow: bool,
    ) -> Result<Response> {
        self.navigate(method, url, headers, body, follow).await
    }

    /// Submit `form` found on `page`, as if its first submit button were clicked.
    pub async fn submit(&mut self, page: &Response, form: &Form) -> Result<Response> {
        let action = page
            .url
            .join(&form.action)
            .map_err(|e| HarnessError::Unexpected(format!("bad form action: {e}")))?;
        let pairs = form.pairs(None);
        if form.method == "POST" {
            let origin = page.url.origin().ascii_serialization();
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            let mut headers = HeaderMap::new();
            headers.insert(
                "content-type",
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            if let Ok(v) = HeaderValue::from_str(&origin) {
                headers.insert("origin", v);
            }
            self.navigate(Method::POST, action.as_str(), headers, Some(body), true)
                .await
        } else {
            let mut target = action;
            target.query_pairs_mut().clear().extend_pairs(&pairs);
            self.get(target.as_str()).await
        }
    }

    /// On the last page, fill the login form (a form with `username` and `password`
    /// fields) and submit it; then get through a consent form ("Allow") if one follows.
    /// Returns the page where the flow lands (often the app, after the callback).
    pub async fn login(&mut self, username: &str, password: &str) -> Result<Response> {
        let page = self
            .last
            .clone()
            .ok_or_else(|| HarnessError::Unexpected("login() before any page".into()))?;
        self.login_from(&page, username, password).await
    }

    /// Like [`UserAgent::login`], starting from `page`.
    pub async fn login_from(
        &mut self,
        page: &Response,
        username: &str,
        password: &str,
    ) -> Result<Response> {
        let mut form = page
            .forms()
            .into_iter()
            .find(|f| f.has_field("username") && f.has_field("password"))
            .ok_or_else(|| {
                HarnessError::Unexpected(format!("no login form at {} ({})", page.url, page.status))
            })?;
        form.set("username", username);
        form.set("password", password);
        let mut next = self.submit(page, &form).await?;
        if let Some(consent) = next
            .forms()
            .into_iter()
            .find(|f| f.fields.iter().any(|x| x.id.as_deref() == Some("allow")))
        {
            next = self.submit(&next.clone(), &consent).await?;
        }
        Ok(next)
    }

    async fn navigate(
        &mut self,
        method: Method,
        url: &str,
        extra: HeaderMap,
        body: Option<String>,
        follow: bool,
    ) -> Result<Response> {
        let mut url =
            Url::parse(url).map_err(|e| HarnessError::Unexpected(format!("bad URL {url}: {e}")))?;
        let (mut method, mut extra, mut body) = (method, extra, body);
        let mut hops: Vec<Hop> = Vec::new();
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            let mut headers = self.default_headers.clone();
            headers.extend(extra.clone());
            if let Some(cookie) = self.jar.header_for(&url)
                && let Ok(v) = HeaderValue::from_str(&cookie)
            {
                headers.insert("cookie", v);
            }
            req = req.headers(headers);
            if let Some(b) = &body {
                req = req.body(b.clone());
            }
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            for sc in resp.headers().get_all("set-cookie") {
                if let Ok(sc) = sc.to_str() {
                    // A refused cookie is what a browser would refuse too; tests see the
                    // effect (no session), so it is not an error here.
                    let _ = self.jar.store(&url, sc);
                }
            }
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let hop = Hop {
                method: method.to_string(),
                url: url.to_string(),
                status,
                location: location.clone(),
            };
            if hops.contains(&hop) {
                hops.push(hop);
                return Err(HarnessError::RedirectLoop(describe(&hops)));
            }
            hops.push(hop);
            let is_redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
            if !(follow && is_redirect && location.is_some()) {
                let headers = resp.headers().clone();
                let text = resp.text().await?;
                let out = Response {
                    status,
                    url,
                    headers,
                    body: text,
                    hops,
                };
                self.last = Some(out.clone());
                return Ok(out);
            }
            if hops.len() > self.max_hops {
                return Err(HarnessError::RedirectLoop(describe(&hops)));
            }
            let next = url
                .join(location.as_deref().unwrap_or_default())
                .map_err(|e| HarnessError::Unexpected(format!("bad Location: {e}")))?;
            // 303 always, and 301/302 after POST, turn into a GET without a body (as
            // browsers do); 307/308 repeat the request.
            if status == 303 || (matches!(status, 301 | 302) && method == Method::POST) {
                method = Method::GET;
                body = None;
                extra.remove("content-type");
                extra.remove("origin");
            }
            url = next;
        }
    }
}

fn describe(hops: &[Hop]) -> String {
    hops.iter()
        .map(|h| format!("{} {} -> {}", h.method, redact(&h.url), h.status))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Drop query values that may carry codes or tokens before a URL reaches an error.
fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.query().is_some() => {
            let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
            u.query_pairs_mut()
                .clear()
                .extend_pairs(keys.iter().map(|k| (k.as_str(), "…")));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
