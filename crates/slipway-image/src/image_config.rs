//! The exported image's config: the base image's config (kept as JSON, so
//! fields Slipway does not know survive) with the app's command, user,
//! working directory, environment, port, labels, its layer's `diff_id` and a
//! history entry. `created` is the epoch so that the same inputs give the
//! same config digest (as `ko` and `jib` do); the build time is in the store.

use serde_json::{json, Map, Value};
use slipway_core::image_ref::Digest;

use crate::command::ENTRYPOINT;

/// What the app adds to the base config.
pub(crate) struct AppConfig<'a> {
    pub user: &'a str,
    pub workdir: &'a str,
    pub command: &'a str,
    pub port: u16,
    /// Directories to put in front of the base image's PATH.
    pub path_prepend: &'a [String],
    pub env: &'a [(String, String)],
    pub labels: &'a [(String, String)],
    pub diff_id: &'a Digest,
}

pub(crate) const EPOCH: &str = "1970-01-01T00:00:00Z";

pub(crate) fn extend(mut base: Value, app: &AppConfig<'_>) -> Value {
    if !base.is_object() {
        base = json!({});
    }
    let root = object(&mut base);
    root.insert("created".to_owned(), json!(EPOCH));
    root.entry("os").or_insert_with(|| json!("linux"));

    let config = object(root.entry("config").or_insert_with(|| json!({})));
    let mut env: Vec<(String, String)> = config
        .get("Env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let base_path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone());
    let path = app
        .path_prepend
        .iter()
        .cloned()
        .chain(std::iter::once(base_path.unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned())))
        .collect::<Vec<_>>()
        .join(":");
    let port = app.port.to_string();
    let ours = [("PATH", path.as_str()), ("PORT", port.as_str())].into_iter();
    for (key, value) in ours.chain(app.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => env.push((key.to_owned(), value.to_owned())),
        }
    }
    config.insert("Env".to_owned(), json!(env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()));
    config.insert("User".to_owned(), json!(app.user));
    config.insert("WorkingDir".to_owned(), json!(app.workdir));
    config.insert("Entrypoint".to_owned(), json!(ENTRYPOINT));
    config.insert("Cmd".to_owned(), json!([app.command]));
    config.insert("ExposedPorts".to_owned(), json!({ format!("{}/tcp", app.port): {} }));
    let labels = object(config.entry("Labels").or_insert_with(|| json!({})));
    for (key, value) in app.labels {
        labels.insert(key.clone(), json!(value));
    }

    let rootfs = object(root.entry("rootfs").or_insert_with(|| json!({"type": "layers", "diff_ids": []})));
    let diff_ids = rootfs.entry("diff_ids").or_insert_with(|| json!([]));
    if let Some(ids) = diff_ids.as_array_mut() {
        ids.push(json!(app.diff_id.as_str()));
    }
    let history = root.entry("history").or_insert_with(|| json!([]));
    if let Some(history) = history.as_array_mut() {
        history.push(json!({"created": EPOCH, "created_by": "slipway: app layer", "comment": "exported by Slipway"}));
    }
    base
}

/// The object inside `value`, replacing anything else (a base config with
/// `"config": null` is valid JSON and means "nothing set").
fn object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        // Just made an object above.
        _ => unreachable!("value was replaced by an object"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest;

    #[test]
    fn base_config_is_extended_not_replaced() {
        let base = json!({
            "architecture": "amd64", "os": "linux", "variant_field_unknown": 1,
            "config": {"Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "Labels": {"base": "yes"}},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:aa"]},
        });
        let diff_id = digest::sha256(b"layer");
        let app = AppConfig {
            user: "1000:1000",
            workdir: "/app",
            command: "node server.js",
            port: 8080,
            path_prepend: &["/app/node_modules/.bin".to_owned()],
            env: &[("NODE_ENV".to_owned(), "production".to_owned())],
            labels: &[("slipway.dev/project".to_owned(), "web".to_owned())],
            diff_id: &diff_id,
        };
        let config = extend(base, &app);
        assert_eq!(config["variant_field_unknown"], 1);
        assert_eq!(
            config["config"]["Env"],
            json!(["PATH=/app/node_modules/.bin:/usr/bin:/bin", "LANG=C.UTF-8", "PORT=8080", "NODE_ENV=production"])
        );
        assert_eq!(config["config"]["Labels"], json!({"base": "yes", "slipway.dev/project": "web"}));
        assert_eq!(config["config"]["Cmd"], json!(["node server.js"]));
        assert_eq!(config["rootfs"]["diff_ids"], json!(["sha256:aa", diff_id.as_str()]));
        assert_eq!(config["created"], EPOCH);
    }
}
