//! `Procfile`: one `type: command` per line; `#` comments and blank lines ignored.
//! A type must be a [`ProcessType`], so one that runs locally also renders for Kubernetes.

use std::collections::BTreeMap;

use slipway_core::process_type::ProcessType;

use super::{DetectError, Tree};

pub(crate) const FILE: &str = "Procfile";

/// The process types of the tree's Procfile, or `None` when there is none.
pub(crate) fn parse(tree: &Tree) -> Result<Option<BTreeMap<ProcessType, String>>, DetectError> {
    let Some(text) = tree.read(FILE)? else { return Ok(None) };
    parse_text(&text).map(Some)
}

fn parse_text(text: &str) -> Result<BTreeMap<ProcessType, String>, DetectError> {
    let mut processes = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |problem: &str| DetectError::ProcfileLine {
            line_number: index + 1,
            line: raw.to_owned(),
            problem: problem.to_owned(),
        };
        let Some((name, command)) = line.split_once(':') else { return Err(bad("there is no `:`")) };
        let (name, command) = (name.trim(), command.trim());
        let name = ProcessType::parse(name).map_err(|err| bad(&err.to_string()))?;
        if command.is_empty() {
            return Err(bad("the command is empty"));
        }
        if processes.insert(name, command.to_owned()).is_some() {
            return Err(bad("this process type is defined twice"));
        }
    }
    if processes.is_empty() {
        return Err(DetectError::Malformed { file: FILE.to_owned(), problem: "it defines no process".to_owned() });
    }
    Ok(processes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_types_and_commands_ignoring_comments_and_blank_lines() {
        let processes = parse_text(
            "# processes\n\nweb: gunicorn app:app --bind 127.0.0.1:$PORT\r\n  worker:python w.py  \nrelease-1: ./m\n",
        )
        .expect("valid");
        assert_eq!(processes["web"], "gunicorn app:app --bind 127.0.0.1:$PORT");
        assert_eq!(processes["worker"], "python w.py");
        assert_eq!(processes["release-1"], "./m");
    }

    #[test]
    fn a_type_that_would_not_render_for_kubernetes_is_refused_naming_the_rule() {
        let long = format!("{}: x\n", "w".repeat(51));
        for text in ["release_1: ./m\n", "Worker: w\n", "-w: w\n", long.as_str()] {
            let message = parse_text(text).expect_err(text).to_string();
            assert!(message.contains("process type") && message.contains("1 to 50 of a-z, 0-9 and `-`"), "{message}");
        }
    }

    #[test]
    fn a_command_may_contain_colons() {
        let processes = parse_text("web: uvicorn main:app --host 127.0.0.1\n").expect("valid");
        assert_eq!(processes["web"], "uvicorn main:app --host 127.0.0.1");
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, line_number, words) in [
            ("web: ok\nthis is not a process\n", 2, "no `:`"),
            ("web:\n", 1, "empty"),
            ("\n\nweb app: x\n", 3, "process type"),
            ("web: a\nweb: b\n", 2, "twice"),
        ] {
            let err = parse_text(text).expect_err(text);
            let DetectError::ProcfileLine { line_number: n, .. } = &err else { panic!("{err:?}") };
            assert_eq!(*n, line_number, "{text:?}");
            let message = err.to_string();
            assert!(message.contains(words) && message.contains(&format!("line {line_number}")), "{message}");
        }
    }

    #[test]
    fn empty_procfile_is_malformed() {
        assert!(matches!(parse_text("# nothing\n"), Err(DetectError::Malformed { .. })));
    }
}
