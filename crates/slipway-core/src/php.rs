//! How a PHP app is served: php-fpm behind nginx, as Heroku's PHP buildpack
//! does (`heroku-php-nginx`). This module only writes their configuration
//! files; `slipway serve-php` (slipway-agent) writes them into the instance's
//! own temporary directory at start and runs both programs, and the Dockerfile
//! of a PHP app (slipway-image) bakes the same files into its image, so an app
//! routes the same way on this machine and in a cluster.
//!
//! What the configuration says:
//! - nginx listens on the instance's address only, logs errors to stderr and
//!   requests to a FIFO in the run directory ([`PhpServer::access_log`]) that
//!   whoever started it copies to stdout (both reach the instance's log),
//!   keeps its pid and temp files in the run directory, and runs no `user`
//!   switch (it is not root: the sandbox gives it the environment's own uid).
//!   Not `/dev/stdout`: that reopens the instance's stdout through `/proc`, and
//!   the pipe the platform made is not the tenant's to open.
//! - Static files are nginx's; every other path goes to the front controller
//!   (`try_files $uri $uri/ /index.php$is_args$args`, what Laravel, Symfony
//!   and Slim expect). A `.php` file runs only when it exists.
//! - Never served, whatever the document root: dotfiles and dot-directories
//!   (`.env`, `.git`, `.htaccess`; `/.well-known/` excepted), `vendor/`,
//!   `node_modules/`, `composer.json`, `composer.lock` and `auth.json`. They
//!   answer 404, like a missing file. Symlinks to files of another owner are
//!   not followed (`disable_symlinks if_not_owner`).
//! - php-fpm listens on a unix socket in the run directory (an instance may
//!   bind only its own TCP port), keeps the environment (`clear_env = no`: the
//!   app's config vars reach `getenv()`), sends its own and its workers' output
//!   to its stderr (`--force-stderr`, [`FPM_ARGS`]; its `error_log` file stays
//!   empty), and runs at most [`DEFAULT_WORKERS`] workers unless
//!   `WEB_CONCURRENCY` says otherwise (Heroku's variable).

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// php-fpm workers when `WEB_CONCURRENCY` does not say: modest, each holds up to PHP's
/// `memory_limit` (128 MB by default).
pub const DEFAULT_WORKERS: u32 = 4;
/// The most workers `WEB_CONCURRENCY` may ask for.
pub const MAX_WORKERS: u32 = 64;
/// The front controller every path without a file of its own goes to.
pub const FRONT_CONTROLLER: &str = "index.php";
/// What php-fpm is started with, before `--fpm-config <file>`: in the foreground, logging to stderr.
pub const FPM_ARGS: [&str; 2] = ["--nodaemonize", "--force-stderr"];
/// Where Debian's (and the official images') nginx keeps its MIME types.
pub const NGINX_MIME_TYPES: &str = "/etc/nginx/mime.types";

/// Paths below the document root that are never served, as nginx regular expressions
/// (case-insensitive, anchored at a path segment).
const HIDDEN: [&str; 3] = [
    // Dotfiles and dot-directories, except the ACME and other `.well-known` files.
    r"/\.(?!well-known(/|$))",
    // Composer's and npm's trees.
    r"^/(vendor|node_modules)(/|$)",
    // Composer's manifests and credentials.
    r"^/(composer\.(json|lock)|auth\.json)$",
];

/// What differs between the machines the configuration runs on.
#[derive(Debug, Clone)]
pub struct PhpServer<'a> {
    /// What nginx listens on: `127.0.0.1:10001` (or `0.0.0.0:@PORT@` in an image's template).
    pub listen: &'a str,
    /// The document root, absolute.
    pub root: &'a str,
    /// A writable directory of the instance's own: the socket, pid files and nginx's temp files.
    pub run_dir: &'a str,
    /// php-fpm workers at most.
    pub workers: u32,
    /// nginx's MIME types file, when the machine has one (a short list of the usual types otherwise).
    pub mime_types: Option<&'a str>,
    /// Whether nginx runs as root (an unsandboxed platform run by root): its workers must then
    /// stay root to reach files only root may read, where otherwise they would become `nobody`.
    pub as_root: bool,
}

impl PhpServer<'_> {
    /// php-fpm's unix socket.
    pub fn socket(&self) -> String {
        format!("{}/php-fpm.sock", self.run_dir)
    }

    /// The FIFO nginx writes its access log to, which the starter creates and copies to stdout.
    pub fn access_log(&self) -> String {
        format!("{}/access.log", self.run_dir)
    }

    /// The directories nginx writes its temp files to (each must exist before it starts).
    pub fn temp_dirs(&self) -> [String; 5] {
        ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(|name| format!("{}/{name}_temp", self.run_dir))
    }

    /// nginx.conf.
    pub fn nginx_conf(&self) -> String {
        let mut c = String::new();
        let run = self.run_dir;
        let _ = writeln!(c, "# Written by Slipway for a PHP app: nginx in front of php-fpm.");
        if self.as_root {
            let _ = writeln!(c, "user root;");
        }
        let _ = writeln!(c, "worker_processes 1;\ndaemon off;\npid {run}/nginx.pid;\nerror_log stderr warn;\n");
        let _ = writeln!(c, "events {{\n    worker_connections 1024;\n}}\n");
        let _ = writeln!(c, "http {{");
        match self.mime_types {
            Some(types) => {
                let _ = writeln!(c, "    include {types};");
            }
            None => {
                let _ = writeln!(c, "    types {{");
                for (mime, extensions) in FALLBACK_TYPES {
                    let _ = writeln!(c, "        {mime} {extensions};");
                }
                let _ = writeln!(c, "    }}");
            }
        }
        let _ = writeln!(c, "    default_type application/octet-stream;");
        let _ = writeln!(
            c,
            "    log_format slipway '$remote_addr \"$request\" $status $body_bytes_sent $request_time \
             \"$http_user_agent\"';"
        );
        let _ = writeln!(c, "    access_log {} slipway;", self.access_log());
        for (directive, dir) in
            ["client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"]
                .iter()
                .zip(self.temp_dirs())
        {
            let _ = writeln!(c, "    {directive} {dir};");
        }
        let _ = writeln!(c, "    sendfile on;\n    server_tokens off;\n    client_max_body_size 32m;");
        // The router terminates TLS and says so; PHP's $_SERVER['HTTPS'] follows.
        let _ = writeln!(
            c,
            "    map $http_x_forwarded_proto $slipway_https {{\n        default $https;\n        https on;\n    }}\n"
        );
        let _ = writeln!(c, "    server {{");
        let _ = writeln!(c, "        listen {};", self.listen);
        let _ = writeln!(c, "        server_name _;");
        let _ = writeln!(c, "        root {};", self.root);
        let _ = writeln!(c, "        index {FRONT_CONTROLLER} index.html;");
        let _ = writeln!(c, "        disable_symlinks if_not_owner from=$document_root;\n");
        let _ = writeln!(c, "        # Never served: dotfiles (.env, .git), Composer's tree and manifests.");
        for pattern in HIDDEN {
            let _ = writeln!(c, "        location ~* {pattern} {{\n            return 404;\n        }}");
        }
        let _ = writeln!(c);
        let _ = writeln!(c, "        # Files as they are; every other path to the front controller.");
        let _ = writeln!(
            c,
            "        location / {{\n            try_files $uri $uri/ /{FRONT_CONTROLLER}$is_args$args;\n        }}\n"
        );
        let _ = writeln!(c, "        # A PHP file runs only when it exists (/index.php/extra/path included).");
        let _ = writeln!(c, "        location ~ \\.php(/|$) {{");
        let _ = writeln!(c, "            fastcgi_split_path_info ^(.+?\\.php)(/.*)$;");
        // try_files below empties $fastcgi_path_info: kept first.
        let _ = writeln!(c, "            set $slipway_path_info $fastcgi_path_info;");
        let _ = writeln!(c, "            try_files $fastcgi_script_name =404;");
        for (name, value) in FASTCGI_PARAMS {
            let _ = writeln!(c, "            fastcgi_param {name} {value};");
        }
        let _ = writeln!(c, "            fastcgi_pass unix:{};", self.socket());
        let _ = writeln!(c, "        }}\n    }}\n}}");
        c
    }

    /// php-fpm.conf.
    pub fn fpm_conf(&self) -> String {
        let run = self.run_dir;
        let workers = self.workers.clamp(1, MAX_WORKERS);
        let start = workers.min(2);
        let max_spare = workers.min(3).max(start);
        format!(
            "; Written by Slipway for a PHP app: php-fpm behind nginx.\n\
             [global]\n\
             pid = {run}/php-fpm.pid\n\
             ; Unused: php-fpm runs with --force-stderr.\n\
             error_log = {run}/php-fpm.log\n\
             log_limit = 8192\n\
             daemonize = no\n\
             \n\
             [app]\n\
             listen = {socket}\n\
             listen.mode = 0600\n\
             pm = dynamic\n\
             pm.max_children = {workers}\n\
             pm.start_servers = {start}\n\
             pm.min_spare_servers = 1\n\
             pm.max_spare_servers = {max_spare}\n\
             pm.max_requests = 500\n\
             ; Config vars reach getenv() and $_ENV.\n\
             clear_env = no\n\
             catch_workers_output = yes\n\
             decorate_workers_output = no\n\
             security.limit_extensions = .php\n\
             php_admin_flag[log_errors] = on\n",
            socket = self.socket(),
        )
    }
}

/// php-fpm workers for a `WEB_CONCURRENCY` value: a number from 1 to [`MAX_WORKERS`], else the default.
pub fn workers(web_concurrency: Option<&str>) -> u32 {
    web_concurrency
        .and_then(|value| value.trim().parse::<u32>().ok())
        .filter(|n| (1..=MAX_WORKERS).contains(n))
        .unwrap_or(DEFAULT_WORKERS)
}

/// The two programs that serve a PHP app, where a PATH finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Servers {
    /// `php-fpm`, or the newest versioned one (Debian's `php-fpm8.2`).
    pub fpm: Option<PathBuf>,
    pub nginx: Option<PathBuf>,
}

impl Servers {
    /// What is missing, as a Debian user installs it: `["php-fpm", "nginx"]`.
    pub fn missing(&self) -> Vec<&'static str> {
        [(self.fpm.is_none(), "php-fpm"), (self.nginx.is_none(), "nginx")]
            .into_iter()
            .filter_map(|(missing, name)| missing.then_some(name))
            .collect()
    }
}

/// Looks for php-fpm and nginx in the directories of `path` and, for each `…/bin` among them, its
/// `…/sbin` (where Debian installs both, and which a PATH without root's directories lacks). The one
/// place in this crate that reads the filesystem: both the build (which refuses a PHP app this
/// machine cannot serve) and `slipway serve-php` ask the same question.
pub fn find_servers(path: &OsStr) -> Servers {
    let dirs = search_dirs(path);
    let find = |wanted: &dyn Fn(&str) -> Option<Vec<u32>>| -> Option<PathBuf> {
        for dir in &dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            // In one directory the newest version wins (php-fpm8.3 over php-fpm8.2); an
            // unversioned name ranks above every version (it is what the machine chose).
            let best = entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    let rank = wanted(&name)?;
                    is_executable(&entry.path()).then(|| (rank, entry.path()))
                })
                .max_by(|a, b| a.0.cmp(&b.0));
            if let Some((_, found)) = best {
                return Some(found);
            }
        }
        None
    };
    Servers { fpm: find(&fpm_rank), nginx: find(&|name| (name == "nginx").then(Vec::new)) }
}

/// `php-fpm` → the highest rank; `php-fpm8.2` → `[8, 2]`; anything else → not php-fpm.
fn fpm_rank(name: &str) -> Option<Vec<u32>> {
    let version = name.strip_prefix("php-fpm")?;
    if version.is_empty() {
        return Some(vec![u32::MAX]);
    }
    version.split('.').map(|part| part.parse::<u32>().ok()).collect()
}

fn search_dirs(path: &OsStr) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for dir in std::env::split_paths(path).filter(|dir| dir.is_absolute()) {
        let sbin = (dir.file_name() == Some(OsStr::new("bin"))).then(|| dir.with_file_name("sbin"));
        for dir in std::iter::once(dir).chain(sbin) {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// What PHP sees of the request (nginx's `fastcgi_params`, written out so no include is needed).
const FASTCGI_PARAMS: [(&str, &str); 21] = [
    ("SCRIPT_FILENAME", "$document_root$fastcgi_script_name"),
    ("SCRIPT_NAME", "$fastcgi_script_name"),
    ("PATH_INFO", "$slipway_path_info"),
    ("QUERY_STRING", "$query_string"),
    ("REQUEST_METHOD", "$request_method"),
    ("CONTENT_TYPE", "$content_type"),
    ("CONTENT_LENGTH", "$content_length"),
    ("REQUEST_URI", "$request_uri"),
    ("DOCUMENT_URI", "$document_uri"),
    ("DOCUMENT_ROOT", "$document_root"),
    ("SERVER_PROTOCOL", "$server_protocol"),
    ("REQUEST_SCHEME", "$scheme"),
    ("HTTPS", "$slipway_https if_not_empty"),
    ("GATEWAY_INTERFACE", "CGI/1.1"),
    ("SERVER_SOFTWARE", "nginx"),
    ("REMOTE_ADDR", "$remote_addr"),
    ("REMOTE_PORT", "$remote_port"),
    ("SERVER_ADDR", "$server_addr"),
    ("SERVER_PORT", "$server_port"),
    ("SERVER_NAME", "$host"),
    // PHP built with --enable-force-cgi-redirect needs it.
    ("REDIRECT_STATUS", "200"),
];

/// The usual types, for a machine without nginx's MIME types file.
const FALLBACK_TYPES: [(&str, &str); 14] = [
    ("text/html", "html htm"),
    ("text/css", "css"),
    ("text/plain", "txt"),
    ("application/javascript", "js mjs"),
    ("application/json", "json map"),
    ("application/xml", "xml"),
    ("image/svg+xml", "svg svgz"),
    ("image/png", "png"),
    ("image/jpeg", "jpg jpeg"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
    ("image/x-icon", "ico"),
    ("font/woff2", "woff2"),
    ("application/pdf", "pdf"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn server(as_root: bool, mime_types: Option<&'static str>) -> PhpServer<'static> {
        PhpServer {
            listen: "127.0.0.1:10001",
            root: "/srv/app/public",
            run_dir: "/tmp/slipway-php-1",
            workers: 4,
            mime_types,
            as_root,
        }
    }

    #[test]
    fn nginx_listens_where_told_and_keeps_everything_in_the_run_dir() {
        let conf = server(false, Some(NGINX_MIME_TYPES)).nginx_conf();
        for line in [
            "listen 127.0.0.1:10001;",
            "root /srv/app/public;",
            "pid /tmp/slipway-php-1/nginx.pid;",
            "fastcgi_temp_path /tmp/slipway-php-1/fastcgi_temp;",
            "client_body_temp_path /tmp/slipway-php-1/client_body_temp;",
            "fastcgi_pass unix:/tmp/slipway-php-1/php-fpm.sock;",
            "access_log /tmp/slipway-php-1/access.log slipway;",
            "error_log stderr warn;",
            "daemon off;",
            "include /etc/nginx/mime.types;",
            "try_files $uri $uri/ /index.php$is_args$args;",
            "try_files $fastcgi_script_name =404;",
        ] {
            assert!(conf.contains(line), "{line:?} not in:\n{conf}");
        }
        assert!(!conf.contains("user "), "{conf}");
        assert!(server(true, None).nginx_conf().contains("user root;"));
        // Braces balance: every block closes.
        assert_eq!(conf.matches('{').count(), conf.matches('}').count(), "{conf}");
        let fallback = server(false, None).nginx_conf();
        assert!(fallback.contains("text/css css;") && !fallback.contains("include /"), "{fallback}");
    }

    #[test]
    fn secrets_and_composers_tree_are_never_served() {
        let conf = server(false, None).nginx_conf();
        for pattern in HIDDEN {
            assert!(conf.contains(&format!("location ~* {pattern} {{\n            return 404;")), "{pattern}");
        }
        // The hiding comes before the front controller, so nginx never reaches it for them.
        assert!(conf.find("vendor").expect("vendor") < conf.find("location / ").expect("location /"));
    }

    #[test]
    fn php_fpm_keeps_the_environment_and_listens_on_its_socket() {
        let conf = server(false, None).fpm_conf();
        for line in [
            "listen = /tmp/slipway-php-1/php-fpm.sock",
            "clear_env = no",
            "daemonize = no",
            "error_log = /tmp/slipway-php-1/php-fpm.log",
            "pm.max_children = 4",
            "pm.start_servers = 2",
            "pm.max_spare_servers = 3",
            "catch_workers_output = yes",
        ] {
            assert!(conf.contains(line), "{line:?} not in:\n{conf}");
        }
        assert!(!conf.contains("\nuser") && !conf.contains("\ngroup"), "{conf}");
        let one = PhpServer { workers: 1, ..server(false, None) }.fpm_conf();
        assert!(one.contains("pm.max_children = 1\npm.start_servers = 1\n"), "{one}");
        assert!(one.contains("pm.max_spare_servers = 1\n"), "{one}");
    }

    #[test]
    fn php_fpm_and_nginx_are_found_on_the_path_and_beside_its_bin_directories() {
        let root = tempfile::tempdir().expect("temp dir");
        let program = |dir: &str, name: &str| {
            let dir = root.path().join(dir);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(name), "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        };
        program("usr/sbin", "php-fpm8.2");
        program("usr/sbin", "php-fpm8.10");
        program("usr/sbin", "php-fpm-helper");
        program("usr/sbin", "nginx");
        std::fs::write(root.path().join("usr/sbin/php-fpm9.0"), "not executable").expect("write");
        let path = std::env::join_paths([root.path().join("usr/bin")]).expect("PATH");
        let found = find_servers(&path);
        assert_eq!(found.fpm, Some(root.path().join("usr/sbin/php-fpm8.10")));
        assert_eq!(found.nginx, Some(root.path().join("usr/sbin/nginx")));
        assert!(found.missing().is_empty());
        // An unversioned php-fpm on the PATH itself comes first.
        program("opt/php/bin", "php-fpm");
        let path = std::env::join_paths([root.path().join("opt/php/bin"), root.path().join("usr/bin")]).expect("PATH");
        assert_eq!(find_servers(&path).fpm, Some(root.path().join("opt/php/bin/php-fpm")));
        // A PATH that leads to neither.
        let path = std::env::join_paths([root.path().join("opt")]).expect("PATH");
        assert_eq!(find_servers(&path).missing(), ["php-fpm", "nginx"]);
    }

    #[test]
    fn web_concurrency_sizes_the_workers_within_bounds() {
        assert_eq!(workers(None), DEFAULT_WORKERS);
        assert_eq!(workers(Some("8")), 8);
        for bad in ["0", "65", "lots", "", "-1"] {
            assert_eq!(workers(Some(bad)), DEFAULT_WORKERS, "{bad}");
        }
    }
}
