//! The 403 page a signed-in user sees when a policy denies them: which rule failed, who
//! they are signed in as, and a request id to quote to whoever runs the route.
//! Everything interpolated is HTML-escaped; the page loads nothing external.

use super::reason;

/// What the denied page shows.
#[derive(Clone, Copy, Debug)]
pub struct DeniedPage<'a> {
    /// The reason code (e.g. `policy_denied_group`).
    pub reason: &'a str,
    /// The rule that failed, in words (from [`super::policy::Decision::Deny`]).
    pub rule: &'a str,
    /// Who the user is signed in as.
    pub user: &'a str,
    /// The request id (also in the log line).
    pub request_id: &'a str,
    /// Where "sign in as someone else" goes (the sign-out URL), when known.
    pub sign_out_url: Option<&'a str>,
}

/// "Rule" for a policy denial, "Details" for everything else.
fn detail_label(reason: &str) -> &'static str {
    if reason.starts_with("policy_denied_") {
        "Rule"
    } else {
        "Details"
    }
}

/// Escapes the five HTML-significant characters, so text is safe in element content
/// and in quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the page as a complete HTML document.
pub fn render(page: &DeniedPage<'_>) -> String {
    let sign_out = page
        .sign_out_url
        .map(|u| {
            format!(
                "<p><a href=\"{}\">Sign in as someone else</a></p>\n",
                html_escape(u)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"robots\" content=\"noindex\">\n<title>Access denied</title>\n\
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}}\
code{{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}}dt{{font-weight:600;margin-top:.8rem}}</style>\n\
</head>\n<body>\n<h1>Access denied</h1>\n<p>{explanation}</p>\n{fix}<dl>\n\
<dt>{label}</dt><dd>{rule}</dd>\n{user}\
<dt>Reason code</dt><dd><code>{reason}</code></dd>\n<dt>Request id</dt><dd><code>{request_id}</code></dd>\n\
</dl>\n{sign_out}</body>\n</html>\n",
        explanation = html_escape(reason::explain(page.reason)),
        fix = reason::fix(page.reason)
            .map(|f| format!("<h2>What to do</h2>\n<p>{}</p>\n", html_escape(f)))
            .unwrap_or_default(),
        label = detail_label(page.reason),
        rule = html_escape(page.rule),
        user = if page.user.is_empty() {
            String::new()
        } else {
            format!("<dt>Signed in as</dt><dd>{}</dd>\n", html_escape(page.user))
        },
        reason = html_escape(page.reason),
        request_id = html_escape(page.request_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page<'a>(rule: &'a str, user: &'a str, id: &'a str) -> DeniedPage<'a> {
        DeniedPage {
            reason: reason::POLICY_DENIED_GROUP,
            rule,
            user,
            request_id: id,
            sign_out_url: None,
        }
    }

    #[test]
    fn names_rule_user_and_request_id() {
        let html = render(&page(
            "member of one of the groups [\"admins\"]",
            "ada@example.com",
            "req-123",
        ));
        assert!(html.contains("<dd>member of one of the groups [&quot;admins&quot;]</dd>"));
        assert!(html.contains("<dd>ada@example.com</dd>"));
        assert!(html.contains("<code>req-123</code>"));
        assert!(html.contains("<code>policy_denied_group</code>"));
        assert!(html.contains(reason::explain(reason::POLICY_DENIED_GROUP)));
        assert!(!html.contains("Sign in as someone else"));
    }

    #[test]
    fn everything_is_escaped() {
        let evil = "<script>alert('x')</script>&\"";
        let html = render(&DeniedPage {
            reason: evil,
            rule: evil,
            user: evil,
            request_id: evil,
            sign_out_url: Some("\"><script>x</script>"),
        });
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("'x'"));
        assert_eq!(
            html.matches("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;")
                .count(),
            4
        );
        assert!(html.contains("href=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            html_escape("a&b<c>d\"e'f"),
            "a&amp;b&lt;c&gt;d&quot;e&#39;f"
        );
        assert_eq!(html_escape("José ✓"), "José ✓");
    }
}
