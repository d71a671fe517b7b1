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

/// `command` as the exported image runs it: loopback binds opened up ([`for_container`]) and
/// `slipway serve-static DIR` — which needs Slipway itself, absent from a run image — replaced
/// by busybox `httpd` serving the same directory (the Dockerfile of a static app does the same).
pub fn container_command(command: &str) -> String {
    let command = for_container(command);
    match command.strip_prefix("slipway serve-static ") {
        Some(dir) => {
            let dir = dir.trim().trim_start_matches("./");
            let root = if dir == "." || dir.is_empty() { "/app".to_owned() } else { format!("/app/{dir}") };
            format!("exec httpd -f -v -p 0.0.0.0:$PORT -h {root}")
        }
        None => command,
    }
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
    fn static_sites_are_served_by_busybox_httpd_in_the_image() {
        assert_eq!(
            container_command("slipway serve-static public"),
            "exec httpd -f -v -p 0.0.0.0:$PORT -h /app/public"
        );
        assert_eq!(container_command("slipway serve-static ."), "exec httpd -f -v -p 0.0.0.0:$PORT -h /app");
        assert_eq!(container_command("node server.js"), "node server.js");
    }
}
