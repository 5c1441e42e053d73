//! The 403 page a signed-in user sees when a policy denies them: which rule failed, who
//! they are signed in as, and a request id to quote to whoever runs the route.
//! Everything interpolated is HTML-escaped; the page loads nothing external.

use crate::reason::Reason;

/// What the denied page shows.
#[derive(Clone, Copy, Debug)]
pub struct DeniedPage<'a> {
    /// The HTTP status the page is sent with (decides the title with the reason).
    pub status: u16,
    /// The reason code (e.g. `policy_denied_group`).
    pub reason: Reason,
    /// The rule that failed, in words (from [`super::policy::Decision::Deny`]).
    pub rule: &'a str,
    /// Who the user is signed in as.
    pub user: &'a str,
    /// The request id (also in the log line).
    pub request_id: &'a str,
    /// Where "sign out" and "sign in as someone else" go (the sign-out URL), when known.
    pub sign_out_url: Option<&'a str>,
    /// Where "start again" goes (a fresh `/oauth2/start`), when known.
    pub start_url: Option<&'a str>,
}

/// The page's title: what happened, in words, by reason and status.
fn title(status: u16, reason: Reason) -> &'static str {
    match reason {
        r if r.is_policy_denial() => "Access denied",
        Reason::LoginLoop => "Sign-in keeps repeating",
        Reason::SessionCookieDuplicated => "Conflicting sign-in cookies",
        Reason::SessionTooLarge => "Your sign-in is too large",
        Reason::SessionStoreUnavailable => "Your session cannot be checked right now",
        Reason::RefreshRefused => "Your identity provider ended your session",
        Reason::RefreshGraceExpired => "Your identity provider cannot be reached",
        Reason::RateLimited => "Too many sign-in attempts",
        _ if status >= 502 => "The sign-in service did not answer",
        _ if status == 403 => "Sign-in refused",
        _ if status >= 500 => "Something went wrong on our side",
        _ => "Sign-in could not be completed",
    }
}

/// "Rule" for a policy denial, "Details" for everything else.
fn detail_label(reason: Reason) -> &'static str {
    if reason.is_policy_denial() {
        "Rule"
    } else {
        "Details"
    }
}

/// Escapes the five HTML-significant characters, so text is safe in element content
/// and in quoted attribute values.
pub(crate) fn html_escape(text: &str) -> String {
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

/// Renders the page as a complete HTML document: works without JavaScript, loads
/// nothing external, readable at any width.
pub fn render(page: &DeniedPage<'_>) -> String {
    let link = |href: &str, text: &str| {
        format!(
            "<a class=\"button\" href=\"{}\">{text}</a>",
            html_escape(href)
        )
    };
    let mut actions = Vec::new();
    if let Some(u) = page.start_url {
        actions.push(link(u, "Start again"));
    }
    if let Some(u) = page.sign_out_url {
        actions.push(link(u, "Sign out"));
        if !page.user.is_empty() {
            actions.push(link(u, "Sign in as someone else"));
        }
    }
    let actions = if actions.is_empty() {
        String::new()
    } else {
        format!("<p class=\"actions\">{}</p>\n", actions.join(" "))
    };
    let title = title(page.status, page.reason);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n\
<style>body{{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;background:#f5f6f8;color:#1d2330;margin:0;line-height:1.5}}\
main{{max-width:40rem;margin:4rem auto;padding:2rem 2.5rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}}\
h1{{font-size:1.6rem;margin:0 0 .5rem}}h2{{font-size:1.1rem;margin:1.5rem 0 .3rem}}\
code{{background:#eef0f4;padding:.1rem .35rem;border-radius:4px;font-size:.9em}}dl{{margin:1.5rem 0 0}}dt{{font-weight:600;margin-top:.8rem}}dd{{margin:0;word-break:break-word}}\
.actions{{margin-top:1.5rem}}.button{{display:inline-block;margin:0 .5rem .5rem 0;padding:.5rem 1rem;border-radius:6px;background:#2a5bd7;color:#fff;text-decoration:none}}\
.button:focus,.button:hover{{background:#1d44a8;outline:3px solid #9db5f0}}</style>\n\
</head>\n<body>\n<main>\n<h1>{title}</h1>\n<p>{explanation}</p>\n{fix}{actions}<dl>\n\
<dt>{label}</dt><dd>{rule}</dd>\n{user}\
<dt>Reason code</dt><dd><code>{reason}</code></dd>\n<dt>Request id</dt><dd><code>{request_id}</code> (quote it to whoever runs this site)</dd>\n\
</dl>\n</main>\n</body>\n</html>\n",
        explanation = html_escape(page.reason.explain()),
        fix = page
            .reason
            .fix()
            .map(|f| format!("<h2>What to do</h2>\n<p>{}</p>\n", html_escape(f)))
            .unwrap_or_default(),
        label = detail_label(page.reason),
        rule = html_escape(page.rule),
        user = if page.user.is_empty() {
            String::new()
        } else {
            format!("<dt>Signed in as</dt><dd>{}</dd>\n", html_escape(page.user))
        },
        reason = page.reason.code(),
        request_id = html_escape(page.request_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page<'a>(rule: &'a str, user: &'a str, id: &'a str) -> DeniedPage<'a> {
        DeniedPage {
            status: 403,
            reason: Reason::PolicyDeniedGroup,
            rule,
            user,
            request_id: id,
            sign_out_url: None,
            start_url: None,
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
        assert!(html.contains(Reason::PolicyDeniedGroup.explain()));
        assert!(!html.contains("Sign in as someone else"));
    }

    #[test]
    fn each_status_has_its_own_title_and_the_page_says_what_to_do() {
        let mut p = page("r", "", "id-1");
        p.start_url = Some("/oauth2/start?rd=%2F");
        p.sign_out_url = Some("/oauth2/sign_out");
        for (status, reason, title) in [
            (403, Reason::PolicyDeniedGroup, "Access denied"),
            (400, Reason::StateInvalid, "Sign-in could not be completed"),
            (400, Reason::LoginLoop, "Sign-in keeps repeating"),
            (
                400,
                Reason::SessionCookieDuplicated,
                "Conflicting sign-in cookies",
            ),
            (500, Reason::SessionTooLarge, "Your sign-in is too large"),
            (
                502,
                Reason::IdpUnreachable,
                "The sign-in service did not answer",
            ),
            (
                503,
                Reason::SessionStoreUnavailable,
                "Your session cannot be checked right now",
            ),
            (
                503,
                Reason::ProviderNotReady,
                "The sign-in service did not answer",
            ),
        ] {
            p.status = status;
            p.reason = reason;
            let html = render(&p);
            assert!(
                html.contains(&format!("<title>{title}</title>")),
                "{reason}: {html}"
            );
            assert!(html.contains(&format!("<h1>{title}</h1>")), "{reason}");
            assert!(
                html.contains("href=\"/oauth2/start?rd=%2F\">Start again</a>"),
                "{reason}"
            );
            assert!(html.contains(">Sign out</a>"), "{reason}");
            assert!(html.contains("<code>id-1</code>"));
        }
        // An unknown user is not shown as an empty "Signed in as".
        assert!(!render(&p).contains("Signed in as"));
        p.user = "ada";
        assert!(render(&p).contains("Signed in as"));
        assert!(render(&p).contains(">Sign in as someone else</a>"));
    }

    #[test]
    fn everything_is_escaped() {
        let evil = "<script>alert('x')</script>&\"";
        let html = render(&DeniedPage {
            status: 403,
            start_url: None,
            reason: Reason::PolicyDeniedGroup,
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
            3,
            "rule, user and request id (the reason is a code, never input)"
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
