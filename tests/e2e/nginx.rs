//! nginx in front of the app, configured the way ingress-nginx renders the
//! `nginx.ingress.kubernetes.io/auth-url` / `auth-signin` / `auth-response-headers`
//! annotations (see its nginx.tmpl), with the outpost's `/oauth2/` paths on the app host.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::process::{ManagedChild, free_port};
use super::{Result, scratch_dir};

/// The set-misc module (for `set_escape_uri`, as ingress-nginx uses on `rd=`).
pub const SET_MISC_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_set_misc_module.so";
/// The devel kit module set-misc depends on.
pub const NDK_MODULE: &str = "/usr/lib/nginx/modules/ndk_http_module.so";

/// The identity headers copied from the auth response to the app by default.
pub const IDENTITY_HEADERS: [&str; 4] = [
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
    "X-Auth-Request-Groups",
    "X-Auth-Request-Preferred-Username",
];

/// How to configure nginx.
#[derive(Debug, Clone)]
pub struct NginxOptions {
    /// The outpost, `host:port` (e.g. `127.0.0.1:4180`).
    pub outpost: String,
    /// The app, `host:port`.
    pub upstream: String,
    /// Path of the auth endpoint on the outpost (ingress `auth-url` path).
    pub auth_path: String,
    /// Where 401 sends the browser (`?rd=<escaped original URL>` is appended), like
    /// `auth-signin`. Default: `$scheme://$http_host/oauth2/start`, the app host.
    pub signin_url: Option<String>,
    /// Headers copied from the auth response to the app (`auth-response-headers`).
    pub response_headers: Vec<String>,
    /// `master_process on` (workers forked) or off (one process).
    pub master_process: bool,
    /// Keep-alive connections to the outpost (ingress `auth-keepalive`).
    pub keepalive: bool,
    /// Raw directives added inside `server { }` (e.g. more locations).
    pub extra_server: String,
    /// Raw directives added inside the protected `location / { }`.
    pub extra_location: String,
    /// Listening port on 127.0.0.1; `None` picks a free one. Set it when the URL must be
    /// known before start (e.g. for the IdP's redirect URIs).
    pub port: Option<u16>,
    /// How long to wait for the port.
    pub startup_timeout: Duration,
}

impl NginxOptions {
    /// Defaults for an outpost and an app, both `host:port`.
    pub fn new(outpost: &str, upstream: &str) -> Self {
        Self {
            outpost: outpost.to_owned(),
            upstream: upstream.to_owned(),
            auth_path: "/oauth2/auth".to_owned(),
            signin_url: None,
            response_headers: IDENTITY_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
            master_process: true,
            keepalive: true,
            extra_server: String::new(),
            extra_location: String::new(),
            port: None,
            startup_timeout: Duration::from_secs(10),
        }
    }
}

/// A running nginx; killed on drop.
#[derive(Debug)]
pub struct Nginx {
    port: u16,
    config: String,
    child: ManagedChild,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Write the config into a temp dir, start `nginx -p DIR -c nginx.conf`, wait for
    /// the port.
    pub fn start(opts: NginxOptions) -> Result<Nginx> {
        let dir = scratch_dir("nginx")?;
        std::fs::create_dir_all(dir.path().join("tmp"))?;
        let port = opts.port.unwrap_or_else(free_port);
        let config = render(&opts, dir.path(), port);
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, &config)?;
        let mut cmd = Command::new("nginx");
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"));
        let mut child = ManagedChild::spawn("nginx", cmd, dir.path().join("stdout.log"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(e) = child.wait_for_port(addr, opts.startup_timeout) {
            let errors = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            return Err(super::HarnessError::Unexpected(format!(
                "{e}\nerror.log:\n{errors}"
            )));
        }
        Ok(Nginx {
            port,
            config,
            child,
            dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The rendered nginx.conf.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// error.log plus access.log so far.
    pub fn log(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        format!(
            "{}{}\n-- access.log --\n{}",
            self.child.log(),
            read("error.log"),
            read("access.log")
        )
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Render nginx.conf. Public for tests that want to read or diff it.
pub fn render(opts: &NginxOptions, dir: &std::path::Path, port: u16) -> String {
    let d = dir.display();
    let master = if opts.master_process { "on" } else { "off" };
    // Workers forked by a root master drop to `nobody`, who cannot use the private temp
    // dir; tests are not a place to exercise that.
    let user = if running_as_root() {
        "user root root;\n"
    } else {
        ""
    };
    let keepalive = if opts.keepalive {
        "    keepalive 32;\n"
    } else {
        ""
    };
    let signin = opts
        .signin_url
        .clone()
        .unwrap_or_else(|| "$scheme://$http_host/oauth2/start".to_owned());
    let sep = if signin.contains('?') { '&' } else { '?' };

    let mut identity = String::new();
    for (i, h) in opts.response_headers.iter().enumerate() {
        let var = h.to_ascii_lowercase().replace('-', "_");
        let _ = writeln!(
            identity,
            "            auth_request_set $authHeader{i} $upstream_http_{var};"
        );
        let _ = writeln!(
            identity,
            "            proxy_set_header '{h}' $authHeader{i};"
        );
    }

    format!(
        r#"load_module {NDK_MODULE};
load_module {SET_MISC_MODULE};
{user}daemon off;
master_process {master};
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;

events {{
    worker_connections 256;
}}

http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server_tokens off;

    upstream outpost {{
        server {outpost};
{keepalive}    }}

    upstream app {{
        server {upstream};
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{port};
        server_name _;

        # ingress-nginx: the internal auth location for `auth-url`.
        location = /_oauth2_auth {{
            internal;
            proxy_pass_request_body     off;
            proxy_set_header            Content-Length          "";
            proxy_set_header            Host                    $http_host;
            proxy_set_header            X-Original-URL          $scheme://$http_host$request_uri;
            proxy_set_header            X-Original-Method       $request_method;
            proxy_set_header            X-Forwarded-Host        $http_host;
            proxy_set_header            X-Forwarded-Proto       $scheme;
            proxy_set_header            X-Forwarded-Uri         $request_uri;
            proxy_set_header            X-Sent-From             "nginx-ingress-controller";
            proxy_set_header            X-Real-IP               $remote_addr;
            proxy_set_header            X-Forwarded-For         $remote_addr;
            proxy_set_header            X-Auth-Request-Redirect $request_uri;
            proxy_pass_request_headers  on;
            proxy_http_version          1.1;
            proxy_set_header            Connection              "";
            proxy_pass                  http://outpost{auth_path};
        }}

        # ingress-nginx: the 401 target for `auth-signin`.
        location @signin {{
            internal;
            add_header Set-Cookie $auth_cookie;
            return 302 {signin}{sep}rd=$scheme://$http_host$escaped_request_uri;
        }}

        # The outpost's own paths on the app host (start, callback, sign_out, userinfo).
        location /oauth2/ {{
            proxy_set_header            Host                    $http_host;
            proxy_set_header            X-Forwarded-Host        $http_host;
            proxy_set_header            X-Forwarded-Proto       $scheme;
            proxy_set_header            X-Real-IP               $remote_addr;
            proxy_set_header            X-Forwarded-For         $remote_addr;
            proxy_http_version          1.1;
            proxy_set_header            Connection              "";
            proxy_pass                  http://outpost;
        }}

{extra_server}
        location / {{
            set_escape_uri $escaped_request_uri $request_uri;
            auth_request        /_oauth2_auth;
            auth_request_set    $auth_cookie $upstream_http_set_cookie;
            add_header          Set-Cookie $auth_cookie;
{identity}            error_page 401 = @signin;
{extra_location}
            proxy_set_header            Host                    $http_host;
            proxy_set_header            X-Forwarded-Host        $http_host;
            proxy_set_header            X-Forwarded-Proto       $scheme;
            proxy_set_header            X-Real-IP               $remote_addr;
            proxy_set_header            X-Forwarded-For         $remote_addr;
            proxy_http_version          1.1;
            proxy_set_header            Connection              "";
            proxy_pass                  http://app;
        }}
    }}
}}
"#,
        outpost = opts.outpost,
        upstream = opts.upstream,
        auth_path = opts.auth_path,
        extra_server = opts.extra_server,
        extra_location = opts.extra_location,
    )
}
