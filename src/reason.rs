//! The vocabulary of decision reason codes. Every outpost decision carries one: in the
//! log line, as a metric label, on the denied page and in `portcullis reasons`. A code is
//! a [`Reason`] variant, so a code without an explanation does not compile and the
//! reference table (`docs/reference/reasons.md`) lists every code the outpost can emit.
//! Codes are stable lower snake case and never contain user input (safe metric labels).

use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

/// Why a request was answered the way it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, IntoStaticStr, serde::Serialize)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A logged-in user with a valid session (or bearer token) passed the policy.
    Authenticated,
    /// The path is configured as public.
    PublicPath,
    /// The method is configured as public.
    PublicMethod,
    /// A CORS preflight passed through without a login.
    CorsPreflight,
    /// No session cookie was sent.
    NoSession,
    /// The session passed its absolute lifetime.
    SessionExpired,
    /// The session was unused for longer than the idle timeout.
    SessionIdle,
    /// The session cookie could not be decrypted or parsed.
    SessionInvalid,
    /// The session cookie came twice with different values.
    SessionCookieDuplicated,
    /// A second completed login for one target within seconds, the session cookie not kept.
    LoginLoop,
    /// The session does not fit the proxy's response buffer even trimmed.
    SessionTooLarge,
    /// The session was ended on the server (sign-out, revocation, back-channel logout).
    SessionRevoked,
    /// The session id is not in the session store (emptied, or the entry expired there).
    SessionUnknown,
    /// The session store (Redis) did not answer; nobody is let in or sent to sign in.
    SessionStoreUnavailable,
    /// The IdP refused to renew the session (refresh token grant refused).
    RefreshRefused,
    /// The IdP stayed unreachable past the session's tokens and the refresh grace.
    RefreshGraceExpired,
    /// The session's tokens expired while the IdP is unreachable; served within the grace.
    IdpUnreachableGrace,
    /// Too many sign-in requests from one client address.
    RateLimited,
    /// At sign-in, the session's tokens were renewed instead; the browser went back.
    SessionRefreshed,
    /// A back-channel logout token was refused (signature, issuer, audience, times,
    /// events, nonce, sub/sid, or an issuer no provider has).
    LogoutTokenInvalid,
    /// A back-channel logout token came a second time (same `jti` while it is fresh).
    LogoutTokenReplayed,
    /// A back-channel logout came for a provider none of whose routes keeps sessions in
    /// Redis: cookie sessions cannot be ended from the server.
    BackchannelLogoutUnsupported,
    /// A back-channel logout was accepted (it ended zero or more sessions).
    BackchannelLogout,
    /// A form post to the sessions page came from another site (Origin, Sec-Fetch-Site).
    CrossSiteRequest,
    /// A form post to the sessions page lacked the token bound to the poster's session.
    FormTokenInvalid,
    /// The cookie key ring is empty or a secret is too short.
    SessionKeyConfig,
    /// The session cookie name or domain is not usable in a cookie.
    SessionCookieConfig,
    /// Sealing or serialising a session failed.
    SessionSealFailed,
    /// The browser was sent on to the route's external URL, where the cookies live.
    ExternalUrl,
    /// The browser was sent to the IdP to sign in.
    LoginStarted,
    /// The session was ended by signing out.
    SignedOut,
    /// The email address is neither listed nor in an allowed domain.
    PolicyDeniedEmail,
    /// The user is in none of the allowed groups.
    PolicyDeniedGroup,
    /// A required claim is missing or has none of the accepted values.
    PolicyDeniedClaim,
    /// A required `resource:action` permission is not granted.
    PolicyDeniedPermission,
    /// The request carries an underscore spelling of one of the route's identity headers.
    IdentityHeaderSpoofed,
    /// The route's policy lists no allow rule and does not admit anyone explicitly.
    PolicyDeniedNoRule,
    /// The bearer token was refused.
    BearerInvalid,
    /// No route is configured for the requested host and path.
    RouteNotFound,
    /// Forwarded headers came from a peer outside the trusted CIDRs and were ignored.
    UntrustedForwardedHeaders,
    /// A trusted proxy sent forwarded headers that could not be parsed.
    MalformedForwardedHeaders,
    /// A redirect target was refused and replaced by the route's base URL.
    RedirectRefused,
    /// The login state cookie is missing, expired or does not match `state`.
    StateInvalid,
    /// The IdP answered the authorization request with an error.
    IdpError,
    /// The callback carried neither a `code` nor an `error`.
    MissingCode,
    /// The token response carried no ID token.
    MissingIdToken,
    /// The route's provider has not finished discovery yet.
    ProviderNotReady,
    /// The provider's configuration cannot be used.
    ProviderConfig,
    /// The IdP could not be reached.
    IdpUnreachable,
    /// The IdP answered with something that is not what the protocol says.
    IdpInvalidResponse,
    /// Discovery advertises another issuer than the configured one.
    DiscoveryIssuerMismatch,
    /// The token is not a well-formed JWT.
    MalformedToken,
    /// The token is signed with an algorithm that is not allowed.
    AlgNotAllowed,
    /// The token names a key id absent from the provider's JWKS.
    UnknownKid,
    /// The key the token names is for another algorithm.
    KeyAlgMismatch,
    /// The token's signature does not verify.
    BadSignature,
    /// The token's `iss` is not the configured issuer.
    IssuerMismatch,
    /// The token's `aud` contains no accepted audience.
    AudienceMismatch,
    /// The token's `azp` names another client.
    AzpMismatch,
    /// The bearer token names untrusted audiences besides ours and no `azp`.
    MultipleAudiencesWithoutAzp,
    /// The token's `exp` has passed.
    TokenExpired,
    /// The token's `nbf` is in the future.
    TokenNotYetValid,
    /// The token's `iat` is in the future.
    IatInFuture,
    /// A required claim is missing from the token.
    MissingClaim,
    /// A claim in the token has the wrong type or value.
    InvalidClaim,
    /// The ID token's `nonce` is not the one this login sent.
    NonceMismatch,
    /// The ID token's `at_hash` does not match the access token.
    AtHashMismatch,
    /// The callback's `iss` parameter names another issuer (mix-up defence).
    CallbackIssMismatch,
    /// A refreshed ID token names another subject than the session's.
    SubjectChanged,
    /// The IdP refused the client's credentials.
    InvalidClient,
    /// The IdP refused the authorization code or refresh token.
    InvalidGrant,
    /// The token endpoint failed otherwise.
    TokenExchangeFailed,
}

impl Reason {
    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        self.into()
    }

    /// The code for a string, if it is one (for `portcullis reasons CODE`).
    pub fn from_code(code: &str) -> Option<Self> {
        Self::iter().find(|r| r.code() == code)
    }

    /// Every code, in declaration order.
    pub fn all() -> impl Iterator<Item = Self> {
        Self::iter()
    }

    /// A denial by the route's policy (the user is signed in but not allowed).
    pub fn is_policy_denial(self) -> bool {
        matches!(
            self,
            Self::PolicyDeniedEmail
                | Self::PolicyDeniedGroup
                | Self::PolicyDeniedClaim
                | Self::PolicyDeniedPermission
                | Self::PolicyDeniedNoRule
        )
    }

    /// The one-line human explanation, for the denied page, logs and docs.
    pub fn explain(self) -> &'static str {
        use Reason::*;
        match self {
            Authenticated => "Signed in and allowed by the route's policy.",
            PublicPath => "The path is public on this route; no sign-in needed.",
            PublicMethod => "The request method is public on this route; no sign-in needed.",
            CorsPreflight => "A CORS preflight request was let through without sign-in.",
            NoSession => "No session cookie was sent; sign-in is required.",
            SessionExpired => "The session reached its maximum lifetime; sign in again.",
            SessionIdle => "The session was unused longer than the idle timeout; sign in again.",
            SessionInvalid => {
                "The session cookie could not be read (tampered, truncated or from a rotated key)."
            }
            SessionCookieDuplicated => {
                "Your browser sent the session cookie twice with different values, usually because it was set for two domains (example.com and app.example.com) or two paths; which session is meant cannot be known, so neither is used."
            }
            LoginLoop => {
                "You signed in twice for this page within seconds, but your browser did not keep the session cookie, so signing in again would only repeat."
            }
            SessionTooLarge => {
                "Your identity (groups, claims, tokens) is too large for the session cookie the proxy in front of this site can pass on."
            }
            SessionRevoked => {
                "This session was ended (signed out here, at the sign-in service, or by an administrator); sign in again."
            }
            SessionUnknown => {
                "The session is no longer known to the session store (it was emptied or the entry expired); sign in again."
            }
            SessionStoreUnavailable => {
                "The session store did not answer, so your session cannot be checked right now; try again in a moment."
            }
            RefreshRefused => {
                "Your identity provider refused to renew your session (the account may be disabled, or access or consent revoked), so it ended; sign in again."
            }
            RefreshGraceExpired => {
                "Your identity provider could not be reached to renew your session for longer than this site allows, so it ended; try again once the identity provider is back."
            }
            IdpUnreachableGrace => {
                "Your session's tokens expired while the identity provider is unreachable; you are let in on your last known identity for a limited time."
            }
            RateLimited => {
                "Too many sign-in requests came from your address in a short time; wait a moment and try again."
            }
            SessionRefreshed => {
                "The session's tokens were renewed at the identity provider; no new sign-in was needed."
            }
            LogoutTokenInvalid => {
                "The identity provider's back-channel logout token was refused (bad signature, wrong issuer or audience, too old, not a logout token); no session was ended."
            }
            LogoutTokenReplayed => {
                "The same back-channel logout token (jti) came again; it was already acted on."
            }
            BackchannelLogoutUnsupported => {
                "A back-channel logout came for a provider whose routes keep sessions only in cookies, which cannot be ended from the server."
            }
            BackchannelLogout => {
                "The identity provider signed a user out; their sessions here were ended."
            }
            CrossSiteRequest => {
                "The form was sent from another site; sessions can only be ended from this site's own sessions page."
            }
            FormTokenInvalid => {
                "The form is stale or was not issued to this browser's session; open the sessions page again and retry."
            }
            SessionKeyConfig => {
                "The outpost has no usable cookie key, so it cannot read or write sessions."
            }
            SessionCookieConfig => {
                "The route's session cookie name or domain cannot be used in a cookie."
            }
            SessionSealFailed => "The session could not be sealed into a cookie.",
            ExternalUrl => "Sent on to the route's external URL, where its cookies are set.",
            LoginStarted => "Sent to the identity provider to sign in.",
            SignedOut => "Signed out; the session cookies were cleared.",
            PolicyDeniedEmail => "Your email address is not on the route's allow-list.",
            PolicyDeniedGroup => "You are not a member of any group this route allows.",
            PolicyDeniedClaim => {
                "A claim this route requires is missing or has a value it does not accept."
            }
            PolicyDeniedPermission => "You lack a permission this route requires.",
            IdentityHeaderSpoofed => {
                "The request carries a header that spells one of this site's identity headers with underscores, which some applications would read as the signed-in user; it is refused."
            }
            PolicyDeniedNoRule => "This route does not say who may pass, so nobody is let through.",
            BearerInvalid => "The bearer token was refused.",
            RouteNotFound => "No route is configured for this host and path.",
            UntrustedForwardedHeaders => {
                "Forwarded headers came from a peer that is not a trusted proxy and were ignored; add its address range with --trusted-proxy (Helm: outpost.trustedProxies)."
            }
            MalformedForwardedHeaders => "The proxy's forwarded headers could not be parsed.",
            RedirectRefused => {
                "The requested redirect target is not allowed; the route's home page is used instead."
            }
            StateInvalid => "The sign-in attempt is unknown or expired; start again.",
            IdpError => "The identity provider refused the sign-in and said why.",
            MissingCode => "The identity provider sent the browser back without a result.",
            MissingIdToken => "The identity provider's token answer carried no ID token.",
            ProviderNotReady => {
                "The identity provider's configuration is not loaded yet; try again in a moment."
            }
            ProviderConfig => "The identity provider's configuration cannot be used.",
            IdpUnreachable => "The identity provider could not be reached.",
            IdpInvalidResponse => {
                "The identity provider answered with something the protocol does not allow."
            }
            DiscoveryIssuerMismatch => {
                "The identity provider's discovery document names another issuer than the one configured."
            }
            MalformedToken => "The token is not a well-formed JWT.",
            AlgNotAllowed => "The token was signed with an algorithm that is not allowed.",
            UnknownKid => "The token was signed with a key the provider does not publish.",
            KeyAlgMismatch => "The token names a key that is meant for another algorithm.",
            BadSignature => "The token's signature does not verify.",
            IssuerMismatch => "The token was issued by a different issuer than the one configured.",
            AudienceMismatch => "The token was issued for a different audience.",
            AzpMismatch => "The token was issued to another client (azp).",
            MultipleAudiencesWithoutAzp => {
                "The token was issued for several services, some of them not this one, and does not say which client it was issued to; ask for a token for this service only, or set bearer.allowMultipleAudiences on the route."
            }
            TokenExpired => "The token has expired.",
            TokenNotYetValid => "The token is not valid yet (nbf in the future).",
            IatInFuture => "The token claims to be issued in the future; check the clocks.",
            MissingClaim => "The token lacks a claim that is required.",
            InvalidClaim => "A claim in the token has the wrong type or value.",
            NonceMismatch => "The ID token does not belong to this sign-in attempt (nonce).",
            AtHashMismatch => "The ID token does not match the access token (at_hash).",
            CallbackIssMismatch => {
                "The sign-in answer names another identity provider than the one asked (iss)."
            }
            SubjectChanged => {
                "The identity provider's refreshed token names another user than this session's; sign in again."
            }
            InvalidClient => "The identity provider refused this client's credentials.",
            InvalidGrant => {
                "The identity provider refused the sign-in code or refresh token (used, expired or revoked)."
            }
            TokenExchangeFailed => "The identity provider's token endpoint failed.",
        }
    }

    /// What to do about a code, for the page's "What to do", the reference and
    /// `portcullis reasons`. Exhaustive, so a new code needs a decision here: every
    /// refusal and failure names a fix; only answers that are not failures (let through,
    /// sent on, signed out, a duplicate logout delivery already acted on) have none.
    pub fn fix(self) -> Option<&'static str> {
        use Reason::*;
        Some(match self {
            Authenticated | PublicPath | PublicMethod | CorsPreflight | SessionRefreshed
            | ExternalUrl | LoginStarted | SignedOut | BackchannelLogout | LogoutTokenReplayed => {
                return None;
            }
            NoSession => {
                "Sign in. If you are sent back here right after signing in, your browser did not keep the session cookie: allow cookies for this site. Whoever runs the site: see login_loop (portcullis reasons login_loop)."
            }
            SessionExpired => {
                "Sign in again. Whoever runs the site: the session lifetime is spec.session.lifetime on the ForwardAuthRoute (default 12h)."
            }
            SessionIdle => {
                "Sign in again. Whoever runs the site: the idle timeout is spec.session.idleTimeout on the ForwardAuthRoute."
            }
            SessionInvalid => {
                "Sign in again; the unreadable cookie is replaced. Whoever runs the site: if everybody gets this at once, the outpost's cookie secret was replaced without keeping the previous one; keep the old secret in the key ring (a second --cookie-secret-file, newest first) while sessions sealed with it are alive."
            }
            SessionRevoked => {
                "Sign in again. If you did not sign out, an administrator or your identity provider ended the session."
            }
            SessionUnknown => {
                "Sign in again. Whoever runs the site: if this happens to everybody at once, the Redis session store was emptied (a restart without persistence, a flush, or maxmemory eviction); enable persistence and the noeviction policy on it."
            }
            IdpUnreachableGrace => {
                "Nothing to do on your side. Whoever runs the site: the outpost cannot reach the identity provider's token endpoint (the outpost log names the error); sessions are served on their last identity for spec.session.refreshGrace, then end."
            }
            CrossSiteRequest => {
                "End sessions from this site's own sessions page (/oauth2/sessions), not from a link or form on another site."
            }
            FormTokenInvalid => {
                "Open the sessions page (/oauth2/sessions) again in this browser and send the form from there."
            }
            SessionKeyConfig => {
                "Whoever runs the site: give the outpost a cookie secret of at least 16 bytes (--cookie-secret-file, PORTCULLIS_COOKIE_SECRETS, or the keys Secret the operator manages, --keys-secret); its log at start-up names what is wrong."
            }
            SessionCookieConfig => {
                "Whoever runs the site: set spec.session.cookieName to letters, digits, '_' and '-' only, and spec.session.cookieDomain to a parent domain of every host of the ForwardAuthRoute."
            }
            SessionSealFailed => {
                "Try again. Whoever runs the site: the outpost log line with this request id names the error."
            }
            PolicyDeniedEmail => {
                "Sign in with an account whose address is allowed, or ask whoever runs the site to add your address (spec.policy.emails) or its domain (spec.policy.emailDomains) to the ForwardAuthRoute."
            }
            PolicyDeniedGroup => {
                "Ask whoever runs your identity provider to add you to one of the allowed groups, then sign out and in again (groups are read at sign-in). Whoever runs the site: if the user is in the group, check that the OIDCProvider's spec.claims.groups names the claim the IdP puts groups in, and that spec.scopes requests the scope that carries it."
            }
            PolicyDeniedClaim => {
                "Ask whoever runs your identity provider to give your account the claim value the route requires, then sign in again. Whoever runs the site: the IdP must put the claim in the ID token; request the scope that carries it in the OIDCProvider's spec.scopes."
            }
            PolicyDeniedPermission => {
                "Ask whoever grants permissions at your identity provider for the one named above, then sign in again. Whoever runs the site: the OIDCProvider's spec.claims.permissions names the claim permissions are read from."
            }
            BearerInvalid => {
                "Send a current access token the route's provider issued for this service (Authorization: Bearer <JWT>); the outpost log line with this request id says which check failed."
            }
            RouteNotFound => {
                "Whoever runs the site: add the host to a ForwardAuthRoute's spec.hosts (and the path to spec.paths), or make the proxy send the original host in the auth request (X-Forwarded-Host, X-Original-URL; see docs/ingress.md)."
            }
            MalformedForwardedHeaders => {
                "Whoever runs the site: the proxy's X-Forwarded-* or X-Original-URL headers do not parse (the outpost log names the header); use the auth-request configuration of docs/ingress.md."
            }
            RedirectRefused => {
                "Nothing to do on your side: you are sent to the site's home page instead. Whoever runs the site: links that start a sign-in (rd=) must point at a host of the ForwardAuthRoute (spec.hosts), over https when the site is https."
            }
            IdpError => {
                "Read the identity provider's message above: usually you declined consent, or your account may not use this application. Whoever runs the site: check the client's registration at the IdP (redirect URI, allowed users, scopes)."
            }
            MissingCode => {
                "Open the page you wanted again to start a new sign-in. Whoever runs the site: the IdP sent the browser back without a code or an error; check that the client is registered for the authorization code flow with this redirect URI."
            }
            MissingIdToken => {
                "Whoever runs the site: the IdP must return an ID token: keep openid in the OIDCProvider's spec.scopes and register the client for OpenID Connect, not plain OAuth 2.0."
            }
            ProviderNotReady => {
                "Reload in a moment. Whoever runs the site: if it persists, kubectl describe oidcprovider says why the provider is not Ready."
            }
            ProviderConfig => {
                "Whoever runs the site: kubectl describe oidcprovider names the field at fault in its Ready condition (portcullis render shows it without a cluster)."
            }
            IdpUnreachable => {
                "Try again shortly. Whoever runs the site: check that the outpost can reach the identity provider: DNS, egress NetworkPolicy, HTTP proxy, and TLS trust (spec.caBundleRef on the OIDCProvider for a private CA)."
            }
            IdpInvalidResponse => {
                "Whoever runs the site: the outpost log names what the IdP answered; check that the OIDCProvider's spec.issuerURL points at the identity provider itself, not at a login page or a proxy in front of it."
            }
            MalformedToken => {
                "Send the token the identity provider issued, unchanged: a JWT of three dot-separated base64url parts (opaque access tokens are not accepted here)."
            }
            AlgNotAllowed => {
                "Whoever runs the site: add the IdP's signing algorithm to the OIDCProvider's spec.allowedAlgorithms, or have the IdP sign with an allowed one (HS* and none are never accepted)."
            }
            UnknownKid => {
                "Retry in a minute: the outpost fetches the provider's keys again when a token names a new key. Whoever runs the site: if it persists, the token was issued by another issuer or tenant than spec.issuerURL."
            }
            KeyAlgMismatch => {
                "Whoever runs the site: the IdP publishes the key for another algorithm than it signs with; fix the key's alg in the IdP's signing key settings."
            }
            BadSignature => {
                "Get a fresh token from the identity provider; do not alter it. Whoever runs the site: a token that does not verify was changed in transit or signed by another issuer's keys."
            }
            AudienceMismatch => {
                "Request the token for this service: its aud must be the route's client id, one of the ForwardAuthRoute's spec.bearer.audiences, or one of the OIDCProvider's spec.audiences."
            }
            AzpMismatch => {
                "Request the token with this route's client. Whoever runs the site: the token's azp names another client of the identity provider."
            }
            TokenExpired => {
                "Get a new token from the identity provider (in a browser: sign in again). Whoever runs the site: if fresh tokens are refused, synchronise the clocks of the IdP and the outpost (NTP), or raise spec.clockSkew on the OIDCProvider."
            }
            MissingClaim => {
                "Whoever runs the site: have the IdP put the claim in its tokens (request the scope that carries it in the OIDCProvider's spec.scopes, or add a claim mapping to the client at the IdP)."
            }
            InvalidClaim => {
                "Whoever runs the site: the outpost log names the claim; have the IdP send it with the type OpenID Connect gives it (groups as a list of strings, email_verified as a boolean)."
            }
            NonceMismatch => {
                "Open the page you wanted again and sign in once, in one tab. Whoever runs the site: if it repeats, the IdP does not return the nonce it was sent, which OpenID Connect requires."
            }
            AtHashMismatch => {
                "Sign in again. Whoever runs the site: the IdP's ID token does not match the access token it came with; a proxy in between mixing responses or an IdP bug."
            }
            CallbackIssMismatch => {
                "Open the page you wanted again and sign in once more. If it repeats, tell whoever runs the site: another identity provider answered this sign-in (a mix-up attack, or two providers sharing one redirect URI)."
            }
            SubjectChanged => {
                "Sign in again. Whoever runs the site: the IdP now names the user by another subject; check whether its subject type (public or pairwise) or the user's account changed."
            }
            InvalidGrant => {
                "Open the page you wanted again to start a new sign-in: a sign-in code is used once and expires within minutes. Whoever runs the site: if it repeats, check the clocks and that the callback is not followed twice (a proxy retrying it)."
            }
            TokenExchangeFailed => {
                "Try again shortly. Whoever runs the site: the outpost log line with this request id names the token endpoint's answer."
            }
            SessionTooLarge => {
                "Whoever runs the site: raise nginx.ingress.kubernetes.io/proxy-buffer-size on the Ingress (e.g. \"16k\") and spec.session.maxHeaderBytes on the ForwardAuthRoute to match, or name in the route's policy only the groups it needs (the session then keeps only those)."
            }
            LoginLoop => {
                "The usual causes: the cookie's Domain does not cover the app's host (set spec.session.cookieDomain to a parent domain of both the app and the sign-in host); a Secure cookie for an app served over plain http (serve it over https); the browser blocks this site's cookies (privacy settings, an embedded frame); a proxy drops Set-Cookie or its response headers are too large (ingress-nginx: raise nginx.ingress.kubernetes.io/proxy-buffer-size). Fix the cause, then sign out and open the page again."
            }
            SessionCookieDuplicated => {
                "Sign out (the link below): it expires every copy this site can name. If this page comes back, delete this site's cookies in your browser (site settings, cookies), including those of its parent domain, then sign in again. Whoever runs the site: set the session cookie for one domain only (ForwardAuthRoute spec.session.cookieDomain) and do not reuse its name on other hosts."
            }
            SessionStoreUnavailable => {
                "Nothing to do on your side: reload the page shortly. Whoever runs the site: the outpost cannot reach its Redis session store (its /readyz on the admin port says which and why); bring Redis back and sessions resume, nobody has to sign in again."
            }
            RefreshRefused => {
                "Sign in again. If the identity provider refuses you there too, your account or your access to this application was disabled: ask whoever runs your identity provider."
            }
            RefreshGraceExpired => {
                "Wait until the identity provider is reachable again, then start again. Whoever runs the site: check the IdP's token endpoint from the outpost (the outpost log names the error), or raise spec.session.refreshGrace on the ForwardAuthRoute."
            }
            RateLimited => {
                "Wait for the time the page names and try again. Whoever runs the site: if many people share one address (an office NAT), raise spec.loginRateLimit on the ForwardAuthRoute; if every client shows the proxy's address, trust the proxy with --trusted-proxy."
            }
            BackchannelLogoutUnsupported => {
                "Keep the provider's routes' sessions in Redis (spec.session.store.redis on the ForwardAuthRoute), or remove backchannel_logout_uri from the client registration at the IdP."
            }
            LogoutTokenInvalid => {
                "Whoever runs the site: the outpost log line with this reason says which check failed (issuer, audience = the client id, signing keys); check the IdP's issuer and the route's client id."
            }
            MultipleAudiencesWithoutAzp => {
                "Request a token whose audience is only this service, or have the IdP add azp; if the IdP cannot, set spec.bearer.allowMultipleAudiences on the route."
            }
            DiscoveryIssuerMismatch | IssuerMismatch => {
                "Set the OIDCProvider's spec.issuerURL to exactly the issuer the IdP advertises, trailing slash included (kubectl describe oidcprovider shows both)."
            }
            InvalidClient => {
                "Whoever runs the site: check the client id and secret the OAuthClient publishes against the IdP's registration (kubectl describe oauthclient)."
            }
            UntrustedForwardedHeaders => {
                "Whoever runs the site: add the ingress controller's pod range with --trusted-proxy (Helm: outpost.trustedProxies)."
            }
            IdentityHeaderSpoofed => {
                "Whoever runs the site: keep the proxy from passing headers with underscores (nginx: underscores_in_headers off, the default; ingress-nginx: enable-underscores-in-headers: \"false\")."
            }
            PolicyDeniedNoRule => {
                "Whoever runs the site: list who may pass in the route's spec.policy (emails, emailDomains, groups, claims, permissions), or set spec.policy.allowAnyAuthenticated: true."
            }
            StateInvalid => {
                "Open the page you wanted again and sign in once more; do not use the browser's back button into the sign-in."
            }
            IatInFuture | TokenNotYetValid => {
                "Whoever runs the site: synchronise the clocks of the IdP and the outpost (NTP), or raise spec.clockSkew on the OIDCProvider."
            }
        })
    }
}

/// What kind of answer a request got (the decision line's `result`, a metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    /// Let through (2xx with identity headers, or a public path).
    Allow,
    /// Not signed in (401, or a redirect to sign in).
    Unauthenticated,
    /// Signed in but not allowed, or refused by the IdP (403).
    Denied,
    /// The request itself was malformed (400).
    BadRequest,
    /// Sent elsewhere as part of the flow (302 to the IdP or the external URL).
    Redirect,
    /// Signed out.
    SignOut,
    /// Something on our side or the IdP's failed (5xx).
    Error,
}

impl Outcome {
    /// The stable snake_case label.
    pub fn label(self) -> &'static str {
        self.into()
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The reason reference as Markdown: `docs/reference/reasons.md` (`scripts/regen docs`).
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "<!-- Generated by `portcullis reasons --markdown` (scripts/regen docs); do not edit. -->\n\
         # Reason codes\n\n\
         Every answer of the outpost carries one reason code: in the decision log line \
         (`reason`), in the `portcullis_outpost_decisions_total` metric's `reason` label and on the \
         page a person sees. `portcullis reasons CODE` prints one entry.\n\n\
         | code | meaning | what to do |\n|---|---|---|\n",
    );
    for reason in Reason::all() {
        let cell = |text: &str| text.replace('|', "\\|");
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            reason.code(),
            cell(reason.explain()),
            cell(reason.fix().unwrap_or("")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn codes_are_unique_metric_safe_and_round_trip() {
        let mut seen = BTreeSet::new();
        for reason in Reason::all() {
            let code = reason.code();
            assert!(seen.insert(code), "duplicate code {code}");
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code} is not lower snake case"
            );
            assert_eq!(Reason::from_code(code), Some(reason));
            let text = reason.explain();
            assert!(!text.is_empty() && !text.contains('\n') && text.ends_with('.'));
            if let Some(fix) = reason.fix() {
                assert!(!fix.contains('\n') && fix.ends_with('.'), "{code}");
            }
        }
        assert_eq!(Reason::from_code("no_such_code"), None);
    }

    #[test]
    fn codes_are_the_documented_snake_case_names() {
        assert_eq!(Reason::PolicyDeniedGroup.code(), "policy_denied_group");
        assert_eq!(
            Reason::MultipleAudiencesWithoutAzp.code(),
            "multiple_audiences_without_azp"
        );
        assert_eq!(Reason::AtHashMismatch.to_string(), "at_hash_mismatch");
    }

    #[test]
    fn the_reference_has_one_row_per_code_and_escapes_pipes() {
        let md = reference_markdown();
        let rows = md.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(rows, Reason::all().count());
        for line in md.lines().filter(|l| l.starts_with("| `")) {
            assert_eq!(line.matches(" | ").count(), 2, "{line}");
        }
    }
}
