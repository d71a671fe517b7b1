//! Static site: an `index.html` at the root or in a usual output folder,
//! served by `slipway serve-static`.

use slipway_core::build_plan::BuildPlan;
use slipway_core::stack::Stack;

use super::{DetectError, Tree};

/// Where an index.html is looked for, in order; `.` is the root.
const DIRS: [&str; 6] = [".", "public", "dist", "build", "_site", "out"];

pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    let Some(dir) = DIRS.into_iter().find(|dir| tree.is_file(&format!("{dir}/index.html"))) else { return Ok(None) };
    let file = if dir == "." { "index.html".to_owned() } else { format!("{dir}/index.html") };
    Ok(Some(super::plan(Stack::Static, Some(format!("slipway serve-static {dir}")), vec![file])))
}

#[cfg(test)]
mod tests {
    use crate::detect::detect;
    use crate::detect::testing::tree;
    use slipway_core::stack::Stack;

    #[test]
    fn index_html_at_the_root_or_in_an_output_folder() {
        let dir = tree(&[("index.html", "<h1>hi</h1>")]);
        let plan = detect(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Static);
        assert_eq!(plan.start.as_deref(), Some("slipway serve-static ."));
        assert_eq!(plan.install, None);
        assert_eq!(plan.detected_from, ["index.html"]);
        for folder in ["public", "dist", "build", "_site", "out"] {
            let dir = tree(&[(&format!("{folder}/index.html"), "<h1>hi</h1>"), ("README.md", "")]);
            let plan = detect(dir.path()).expect("plan");
            assert_eq!(plan.start, Some(format!("slipway serve-static {folder}")));
            assert_eq!(plan.processes["web"], format!("slipway serve-static {folder}"));
        }
    }
}
