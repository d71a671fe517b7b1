//! Start commands as a container runs them.
//!
//! On one machine Slipway starts apps bound to `127.0.0.1:$PORT` behind its
//! own router. In a container traffic arrives from the pod network, so the
//! same command must listen on every interface: the loopback binds that
//! detection writes are rewritten to `0.0.0.0`. Commands a user wrote with
//! another address are left as they are.

/// The loopback binds detection emits, and their container equivalents.
const BINDS: [(&str, &str); 6] = [
    ("127.0.0.1:$PORT", "0.0.0.0:$PORT"),
    // Spring Boot's address.
    ("-Dserver.address=127.0.0.1", "-Dserver.address=0.0.0.0"),
    // rackup and Sinatra's own server.
    ("-o 127.0.0.1", "-o 0.0.0.0"),
    ("--host 127.0.0.1", "--host 0.0.0.0"),
    ("-H 127.0.0.1", "-H 0.0.0.0"),
    ("--bind=127.0.0.1", "--bind=0.0.0.0"),
];

/// `command` bound to every interface instead of loopback.
pub fn for_container(command: &str) -> String {
    BINDS.iter().fold(command.to_owned(), |command, (local, container)| command.replace(local, container))
}

/// `command` as the exported image runs it: loopback binds opened up ([`for_container`]),
/// `slipway serve-static DIR` — which needs Slipway itself, absent from a run image — replaced
/// by busybox `httpd` serving the same directory (the Dockerfile of a static app does the same),
/// and `slipway serve-php DIR` by the shell script that does its work ([`serve_php_script`]): the
/// image needs `php-fpm` and `nginx`, as the Dockerfile of a PHP app installs them.
pub fn container_command(command: &str) -> String {
    let command = for_container(command);
    if let Some(dir) = command.strip_prefix("slipway serve-static ") {
        return format!("exec httpd -f -v -p 0.0.0.0:$PORT -h {}", app_path(dir));
    }
    match serve_php_root(&command) {
        Some(root) => serve_php_script(&root),
        None => command,
    }
}

/// A directory of the app as the image has it: `public` → `/app/public`, `.` → `/app`.
fn app_path(dir: &str) -> String {
    let dir = dir.trim().trim_start_matches("./").trim_end_matches('/');
    if dir == "." || dir.is_empty() {
        "/app".to_owned()
    } else {
        format!("/app/{dir}")
    }
}

/// The document root, in the image, of a `slipway serve-php [DIR]` command; `None` for any other.
pub(crate) fn serve_php_root(command: &str) -> Option<String> {
    let rest = command.trim().strip_prefix("slipway serve-php")?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let dir = rest.trim().trim_matches('\'');
    (!dir.contains(char::is_whitespace)).then(|| app_path(dir))
}

/// Where the image's PHP server keeps its configuration, socket and temp files.
const PHP_RUN_DIR: &str = "/tmp/slipway-php";

/// A POSIX shell script doing what `slipway serve-php` does on Slipway's own machines, with the
/// same configuration (`slipway_core::php`): it writes php-fpm's and nginx's configuration (nginx
/// listening on `0.0.0.0:$PORT`) into a directory of `/tmp`, starts php-fpm, waits for its socket,
/// starts nginx, and exits as soon as either exits; SIGTERM stops both gracefully.
pub fn serve_php_script(root: &str) -> String {
    use slipway_core::php::{PhpServer, DEFAULT_WORKERS, NGINX_MIME_TYPES};
    let server = PhpServer {
        listen: "0.0.0.0:@PORT@",
        root,
        run_dir: PHP_RUN_DIR,
        workers: DEFAULT_WORKERS,
        mime_types: Some(NGINX_MIME_TYPES),
        as_root: false,
    };
    let temp_dirs: Vec<String> = server.temp_dirs().iter().map(|dir| format!("\"{dir}\"")).collect();
    let fpm_args = slipway_core::php::FPM_ARGS.join(" ");
    format!(
        "# php-fpm behind nginx, as `slipway serve-php` runs them; either one exiting stops the container.\n\
         set -e\n\
         run={PHP_RUN_DIR}\n\
         mkdir -p {temp_dirs}\n\
         rm -f \"$run/access.log\" && mkfifo \"$run/access.log\"\n\
         cat > \"$run/php-fpm.conf\" <<'SLIPWAY_PHP_FPM'\n{fpm}SLIPWAY_PHP_FPM\n\
         sed \"s/@PORT@/${{PORT:-{port}}}/\" > \"$run/nginx.conf\" <<'SLIPWAY_NGINX'\n{nginx}SLIPWAY_NGINX\n\
         fpm_bin=$(command -v php-fpm || ls -1 /usr/local/sbin/php-fpm* /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -n 1)\n\
         \"$fpm_bin\" {fpm_args} --fpm-config \"$run/php-fpm.conf\" &\n\
         fpm=$!\n\
         while [ ! -S \"$run/php-fpm.sock\" ]; do kill -0 \"$fpm\" 2>/dev/null || exit 1; sleep 0.1; done\n\
         # nginx's access log is a FIFO copied to stdout: a non-root process may not reopen the\n\
         # container's own stdout through /dev/stdout.\n\
         cat \"$run/access.log\" &\n\
         nginx -e stderr -p \"$run\" -c \"$run/nginx.conf\" &\n\
         nginx=$!\n\
         trap 'kill -QUIT \"$nginx\" \"$fpm\" 2>/dev/null; wait; exit 0' TERM INT\n\
         while kill -0 \"$fpm\" 2>/dev/null && kill -0 \"$nginx\" 2>/dev/null; do sleep 1; done\n\
         kill -QUIT \"$nginx\" \"$fpm\" 2>/dev/null || true\n\
         wait\n\
         exit 1\n",
        temp_dirs = temp_dirs.join(" "),
        fpm = server.fpm_conf(),
        nginx = server.nginx_conf(),
        port = crate::dockerfile::DEFAULT_PORT,
    )
}

/// A build plan whose commands are the image's ([`container_command`]): what Kubernetes
/// manifests must run, since the pod runs the exported image, not this machine's tools.
pub fn container_plan(plan: &slipway_core::build_plan::BuildPlan) -> slipway_core::build_plan::BuildPlan {
    let mut plan = plan.clone();
    plan.start = plan.start.as_deref().map(container_command);
    for command in plan.processes.values_mut() {
        *command = container_command(command);
    }
    plan
}

/// The image's entrypoint: the plan's commands are shell command lines (they
/// use `$PORT`, `&&`…), so they run under `sh -c`, and a process type other
/// than `web` is started by giving its command as the only argument
/// (Kubernetes `args`) without touching the entrypoint.
pub const ENTRYPOINT: [&str; 2] = ["/bin/sh", "-c"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_binds_from_detection_listen_everywhere_in_a_container() {
        assert_eq!(for_container("gunicorn --bind 127.0.0.1:$PORT app:app"), "gunicorn --bind 0.0.0.0:$PORT app:app");
        assert_eq!(
            for_container("uvicorn main:app --host 127.0.0.1 --port $PORT"),
            "uvicorn main:app --host 0.0.0.0 --port $PORT"
        );
        assert_eq!(for_container("next start -H 127.0.0.1 -p $PORT"), "next start -H 0.0.0.0 -p $PORT");
        assert_eq!(
            for_container("bundle exec puma -b tcp://127.0.0.1:$PORT config.ru"),
            "bundle exec puma -b tcp://0.0.0.0:$PORT config.ru"
        );
        assert_eq!(for_container("bundle exec rackup -o 127.0.0.1 -p $PORT"), "bundle exec rackup -o 0.0.0.0 -p $PORT");
        assert_eq!(
            for_container("java -Dserver.port=$PORT -Dserver.address=127.0.0.1 $JAVA_OPTS -jar target/demo.jar"),
            "java -Dserver.port=$PORT -Dserver.address=0.0.0.0 $JAVA_OPTS -jar target/demo.jar"
        );
        assert_eq!(for_container("node server.js"), "node server.js");
        assert_eq!(for_container("./serve --listen 10.0.0.1:80"), "./serve --listen 10.0.0.1:80");
    }

    #[test]
    fn php_apps_are_served_by_the_same_php_fpm_and_nginx_setup_in_the_image() {
        assert_eq!(serve_php_root("slipway serve-php public"), Some("/app/public".to_owned()));
        assert_eq!(serve_php_root("slipway serve-php ."), Some("/app".to_owned()));
        assert_eq!(serve_php_root("slipway serve-php"), Some("/app".to_owned()));
        assert_eq!(serve_php_root("slipway serve-phpx"), None);
        assert_eq!(serve_php_root("php -S 0.0.0.0:$PORT"), None);
        let script = container_command("slipway serve-php public");
        for words in [
            "listen 0.0.0.0:@PORT@;",
            "sed \"s/@PORT@/${PORT:-8080}/\"",
            "root /app/public;",
            "clear_env = no",
            "listen = /tmp/slipway-php/php-fpm.sock",
            "nginx -e stderr",
        ] {
            assert!(script.contains(words), "{words:?} not in:\n{script}");
        }
        assert!(!script.contains("127.0.0.1"), "{script}");
    }

    #[test]
    fn static_sites_are_served_by_busybox_httpd_in_the_image() {
        assert_eq!(
            container_command("slipway serve-static public"),
            "exec httpd -f -v -p 0.0.0.0:$PORT -h /app/public"
        );
        assert_eq!(container_command("slipway serve-static ."), "exec httpd -f -v -p 0.0.0.0:$PORT -h /app");
        assert_eq!(container_command("node server.js"), "node server.js");
    }
}
