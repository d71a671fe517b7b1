//! Go: `go.mod`; one binary built from the module root.

use slipway_core::build_plan::BuildPlan;
use slipway_core::stack::Stack;

use super::{DetectError, Tree};

const FILE: &str = "go.mod";

pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    let Some(text) = tree.read(FILE)? else { return Ok(None) };
    let mut module = None;
    let mut version = None;
    for line in text.lines().map(|l| l.split("//").next().unwrap_or_default().trim()) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("module"), Some(name)) => module = Some(name.trim_matches('"')),
            (Some("go"), Some(v)) => version = Some(v.to_owned()),
            _ => {}
        }
    }
    if module.is_none() {
        return Err(DetectError::Malformed { file: FILE.to_owned(), problem: "there is no `module` line".to_owned() });
    }
    let mut plan = super::plan(Stack::Go, Some("./bin/app".to_owned()), vec![FILE.to_owned()]);
    plan.package_manager = Some("go".to_owned());
    plan.build = Some("go build -o bin/app .".to_owned());
    plan.runtime_version = version;
    Ok(Some(plan))
}

#[cfg(test)]
mod tests {
    use crate::detect::testing::tree;
    use crate::detect::{detect, DetectError};
    use slipway_core::stack::Stack;

    #[test]
    fn go_module_builds_one_binary() {
        let dir = tree(&[("go.mod", "// app\nmodule example.com/hello\n\ngo 1.22\n\nrequire (\n)\n"), ("main.go", "")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Go);
        assert_eq!(plan.build.as_deref(), Some("go build -o bin/app ."));
        assert_eq!(plan.start.as_deref(), Some("./bin/app"));
        assert_eq!(plan.runtime_version.as_deref(), Some("1.22"));
        assert_eq!(plan.detected_from, ["go.mod"]);
    }

    #[test]
    fn go_mod_without_module_is_malformed() {
        let dir = tree(&[("go.mod", "go 1.22\n")]);
        assert!(matches!(detect(dir.path()), Err(DetectError::Malformed { file, .. }) if file == "go.mod"));
    }
}
