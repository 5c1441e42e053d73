//! The user's own sessions page (`/oauth2/sessions`): each session with when it started,
//! was last seen and expires, the device and address it signed in from, "this browser"
//! marked, and POST forms to end one, all others, or all. Works without JavaScript,
//! loads nothing external; everything interpolated is HTML-escaped.

use super::denied_page::html_escape;
use std::time::{Duration, UNIX_EPOCH};

/// One row of the page.
#[derive(Clone, Debug)]
pub struct Row<'a> {
    /// The handle the "end" form posts.
    pub handle: &'a str,
    /// Unix seconds.
    pub started: u64,
    /// Unix seconds.
    pub last_seen: u64,
    /// Unix seconds.
    pub expires: u64,
    /// The `User-Agent` at login.
    pub device: Option<&'a str>,
    /// The client address at login.
    pub client_ip: Option<&'a str>,
    /// Whether it is the session of the browser looking at the page.
    pub current: bool,
}

/// What the page shows.
#[derive(Clone, Debug)]
pub struct SessionsPage<'a> {
    /// Who is signed in.
    pub user: &'a str,
    /// The sessions, oldest first.
    pub rows: Vec<Row<'a>>,
    /// The form token (bound to this browser's session).
    pub form_token: &'a str,
    /// Where the forms post.
    pub action: &'a str,
}

/// Unix seconds as `2026-12-03 16:58:27 UTC`.
fn when(secs: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs);
    let text = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} UTC", text.trim_end_matches('Z').replace('T', " "))
}

fn form(action: &str, token: &str, end: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
<input type=\"hidden\" name=\"end\" value=\"{}\"><button type=\"submit\">{}</button></form>",
        html_escape(action),
        html_escape(token),
        html_escape(end),
        html_escape(label)
    )
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n\
<style>body{{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;background:#f5f6f8;color:#1d2330;margin:0;line-height:1.5}}\
main{{max-width:48rem;margin:4rem auto;padding:2rem 2.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}}\
h1{{font-size:1.6rem;margin:0 0 .5rem}}ul{{list-style:none;padding:0}}li{{border-top:1px solid #e3e6eb;padding:.8rem 0}}\
.current{{font-weight:600}}form{{display:inline-block;margin:.3rem .5rem 0 0}}\
button{{padding:.4rem .9rem;border-radius:6px;border:0;background:#2a5bd7;color:#fff;cursor:pointer}}\
button:focus,button:hover{{background:#1d44a8;outline:3px solid #9db5f0}}</style>\n\
</head>\n<body>\n<main>\n<h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n"
    )
}

/// The page listing the sessions.
pub fn render(page: &SessionsPage<'_>) -> String {
    let mut items = String::new();
    for row in &page.rows {
        let mark = if row.current {
            " <span class=\"current\">(this browser)</span>"
        } else {
            ""
        };
        items.push_str(&format!(
            "<li{class}><div>{device}{mark}</div><div>from {ip}; started {started}, last seen {seen}, expires {expires}</div>{end}</li>\n",
            class = if row.current { " class=\"current\"" } else { "" },
            device = html_escape(row.device.unwrap_or("Unknown device")),
            ip = html_escape(row.client_ip.unwrap_or("an unknown address")),
            started = when(row.started),
            seen = when(row.last_seen),
            expires = when(row.expires),
            end = form(page.action, page.form_token, row.handle, "End this session"),
        ));
    }
    let body = format!(
        "<p>Signed in as <b>{user}</b>: {count} session(s). Ending a session signs that browser out at once.</p>\n<ul>\n{items}</ul>\n<p>{others} {all}</p>\n",
        user = html_escape(page.user),
        count = page.rows.len(),
        others = form(
            page.action,
            page.form_token,
            "others",
            "End all other sessions"
        ),
        all = form(
            page.action,
            page.form_token,
            "all",
            "End all sessions (sign out here too)"
        ),
    );
    document("Your sessions", &body)
}

/// The page for a route whose sessions live only in cookies.
pub(crate) fn render_cookie_mode(user: &str) -> String {
    let body = format!(
        "<p>Signed in as <b>{}</b>.</p>\n<p>Sessions are not listed without Redis: this site keeps your session only in this browser's cookie, so the server cannot list or end sessions of other browsers. Sign out in each browser instead.</p>\n",
        html_escape(user)
    );
    document("Your sessions", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_escaped_marked_and_each_has_its_form() {
        let page = SessionsPage {
            user: "<alice>",
            rows: vec![
                Row {
                    handle: "h1",
                    started: 1_700_000_000,
                    last_seen: 1_700_000_100,
                    expires: 1_700_043_200,
                    device: Some("Mozilla/5.0 <script>"),
                    client_ip: Some("192.0.2.7"),
                    current: true,
                },
                Row {
                    handle: "h2",
                    started: 1_700_000_500,
                    last_seen: 1_700_000_500,
                    expires: 1_700_043_700,
                    device: None,
                    client_ip: None,
                    current: false,
                },
            ],
            form_token: "tok\"en",
            action: "/oauth2/sessions",
        };
        let html = render(&page);
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        assert!(html.contains("&lt;alice&gt;") && html.contains("2 session(s)"));
        assert_eq!(html.matches("(this browser)").count(), 1);
        assert!(html.contains("2023-11-14 22:13:20 UTC"), "{html}");
        assert!(html.contains("name=\"end\" value=\"h1\""));
        assert!(html.contains("name=\"end\" value=\"h2\""));
        assert!(html.contains("value=\"others\"") && html.contains("value=\"all\""));
        assert_eq!(html.matches("value=\"tok&quot;en\"").count(), 4);
        assert!(!html.contains("<script"), "no JavaScript");
        assert!(render_cookie_mode("bob").contains("not listed without Redis"));
    }
}
