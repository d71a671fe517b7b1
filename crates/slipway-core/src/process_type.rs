//! Process types (`web`, `worker`, `clock`…): one rule for every place a
//! type is named — Procfile, `slipway.toml`, the scale API, the local agent
//! and the Kubernetes manifests — so a type that runs locally also renders.
//!
//! The rule is the tightest of those targets. A type names a Deployment,
//! CronJob, HPA and PDB, a container and the `slipway.dev/process` label
//! value, so it is an RFC 1123 label; and a CronJob's name may have at most
//! 52 characters (its Jobs append an 11-character suffix to make a 63-character
//! label), so it is capped at 50.

use std::borrow::Borrow;

use crate::macros::string_newtype;
use crate::names::{label_problem, InvalidName};
use crate::ErrorCode;

/// A process type of a release.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessType(String);

impl ProcessType {
    pub const MAX_LEN: usize = 50;
    /// The rule, as error messages state it.
    pub const RULE: &'static str = "1 to 50 of a-z, 0-9 and `-`, starting and ending with a letter or digit";
    /// The process type that receives HTTP traffic.
    pub const WEB: &'static str = "web";

    pub fn parse(value: &str) -> Result<Self, InvalidName> {
        if label_problem(value).is_none() && value.len() <= Self::MAX_LEN {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidName::new(
                ErrorCode::InvalidRequest,
                "process type",
                value,
                format!("a process type is {} (it names Kubernetes objects)", Self::RULE),
            ))
        }
    }

    pub fn web() -> Self {
        Self(Self::WEB.to_owned())
    }

    pub fn is_web(&self) -> bool {
        self.0 == Self::WEB
    }
}

string_newtype!(ProcessType, InvalidName, "process type", Some("^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$"));

/// Lets maps keyed by process type be read with a `&str` (`plan.processes["web"]`); sound
/// because `Eq`, `Ord` and `Hash` are those of the inner string.
impl Borrow<str> for ProcessType {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ProcessType {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ProcessType {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn kubernetes_label_names_of_at_most_50_characters() {
        for good in ["web", "worker", "clock-2", "a", "0", &"w".repeat(50)] {
            assert_eq!(ProcessType::parse(good).map(String::from), Ok(good.to_owned()));
        }
        for bad in [
            "",
            "Web",
            "Worker",
            "my_worker",
            "release_1",
            "-x",
            "x-",
            "a.b",
            "a b",
            "wéb",
            "web\n",
            &"w".repeat(51),
            "web:",
        ] {
            let err = ProcessType::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{bad}");
            assert!(err.to_string().contains("1 to 50 of a-z, 0-9 and `-`"), "{err}");
        }
        // Hostile input is echoed back shortened.
        assert!(ProcessType::parse(&"X".repeat(100_000)).unwrap_err().to_string().len() < 300);
    }

    #[test]
    fn maps_keyed_by_process_type_read_with_str_and_serialize_as_strings() {
        let map = BTreeMap::from([(ProcessType::web(), "node a.js".to_owned())]);
        assert_eq!(map["web"], "node a.js");
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"web":"node a.js"}"#);
        assert!(serde_json::from_str::<BTreeMap<ProcessType, String>>(r#"{"Web_1":"x"}"#).is_err());
        assert!(ProcessType::web().is_web() && ProcessType::web() == "web");
    }

    proptest! {
        #[test]
        fn every_accepted_type_is_a_label_that_fits_a_cron_job_name(value in "\\PC{0,60}") {
            if let Ok(process) = ProcessType::parse(&value) {
                prop_assert!(label_problem(process.as_str()).is_none());
                prop_assert!(process.as_str().len() <= 52);
            }
        }

        #[test]
        fn every_label_of_at_most_50_is_accepted(value in "[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?") {
            prop_assert!(ProcessType::parse(&value).is_ok());
        }
    }
}
