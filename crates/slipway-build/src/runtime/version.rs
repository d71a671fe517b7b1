//! Versions and what apps write to ask for them. One grammar covers the
//! ecosystems' spellings: npm's ranges (`>=18 <21`, `^20.1`, `20.x`, `18 - 20`,
//! `a || b`), Python's specifiers (`>=3.10,<3.13`, `~=3.11`, `==3.12.*`), exact
//! pins with their prefixes (`v22.12.0`, `go1.25.5`, `python-3.12.1`) and
//! partial ones (`22`, `3.12`, `1.25`: the newest release of that line), and
//! nvm's aliases (`node`, `lts/*`, `lts/iron`).

use std::fmt;

/// A release version: `22.12.0`. Pre-releases are never candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Version {
    pub(crate) major: u64,
    pub(crate) minor: u64,
    pub(crate) patch: u64,
}

impl Version {
    /// `22.12.0`, `v22.12.0`, `go1.25.5`, `1.20` (Go's first release of a line): `None` for
    /// anything else, pre-releases (`1.26rc1`, `23.0.0-nightly`) included.
    pub(crate) fn parse_release(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches('v').trim_start_matches("go");
        let parts: Vec<&str> = text.split('.').collect();
        let number = |part: Option<&&str>| match part {
            None => Some(0),
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 9 => p.parse().ok(),
            Some(_) => None,
        };
        if parts.len() > 3 || parts.len() < 2 {
            return None;
        }
        Some(Self { major: number(parts.first())?, minor: number(parts.get(1))?, patch: number(parts.get(2))? })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// What one ask allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requirement {
    /// Any of these sets of bounds (`||`); a version must satisfy every bound of a set.
    Range(Vec<Vec<Bound>>),
    /// nvm's `lts/*` (any long-term-support line) or `lts/<codename>`.
    Lts(Option<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    AtLeast(Version),
    Above(Version),
    Below(Version),
    AtMost(Version),
    Not(Version),
}

impl Bound {
    fn allows(self, v: Version) -> bool {
        match self {
            Bound::AtLeast(b) => v >= b,
            Bound::Above(b) => v > b,
            Bound::Below(b) => v < b,
            Bound::AtMost(b) => v <= b,
            Bound::Not(b) => v != b,
        }
    }
}

/// A candidate from an upstream's index or the build machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) version: Version,
    /// Node's long-term-support codename (`Jod`), when the line has one.
    pub(crate) lts: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a version or a range of versions")]
pub(crate) struct Malformed(pub(crate) String);

impl Requirement {
    pub(crate) fn parse(text: &str) -> Result<Self, Malformed> {
        let malformed = || Malformed(text.to_owned());
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        match lower.as_str() {
            "node" | "latest" | "current" | "stable" | "*" | "x" => return Ok(Self::Range(vec![Vec::new()])),
            "lts" | "lts/*" => return Ok(Self::Lts(None)),
            _ => {}
        }
        if let Some(name) = lower.strip_prefix("lts/") {
            if name.bytes().all(|b| b.is_ascii_lowercase()) && !name.is_empty() {
                return Ok(Self::Lts(Some(name.to_owned())));
            }
            return Err(malformed());
        }
        let mut sets = Vec::new();
        for alternative in lower.split("||") {
            sets.push(bounds(alternative.trim()).ok_or_else(malformed)?);
        }
        Ok(Self::Range(sets))
    }

    pub(crate) fn allows(&self, candidate: &Candidate) -> bool {
        match self {
            Self::Range(sets) => sets.iter().any(|set| set.iter().all(|b| b.allows(candidate.version))),
            Self::Lts(None) => candidate.lts.is_some(),
            Self::Lts(Some(name)) => candidate.lts.as_deref().is_some_and(|lts| lts.eq_ignore_ascii_case(name)),
        }
    }
}

/// A partial version: `22`, `22.12`, `22.x`, `3.12.*`, `22.12.0`.
struct Partial {
    major: u64,
    minor: Option<u64>,
    patch: Option<u64>,
}

impl Partial {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim().strip_prefix("python-").unwrap_or(text.trim());
        let text = text.trim_start_matches('v').trim_start_matches("go").trim_start_matches('=');
        let mut parts = text.split('.');
        let part = |p: Option<&str>| -> Option<Option<u64>> {
            match p {
                None | Some("x" | "*") => Some(None),
                Some(p) if !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(Some(p.parse().ok()?))
                }
                Some(_) => None,
            }
        };
        let major = part(parts.next())??;
        let minor = part(parts.next())?;
        let patch = part(parts.next())?;
        if parts.next().is_some() || (minor.is_none() && patch.is_some()) {
            return None;
        }
        Some(Self { major, minor, patch })
    }

    fn floor(&self) -> Version {
        Version { major: self.major, minor: self.minor.unwrap_or(0), patch: self.patch.unwrap_or(0) }
    }

    /// The first version past everything this partial names (`22.12` → `22.13.0`).
    fn ceiling(&self) -> Version {
        match (self.minor, self.patch) {
            (None, _) => Version { major: self.major + 1, minor: 0, patch: 0 },
            (Some(minor), None) => Version { major: self.major, minor: minor + 1, patch: 0 },
            (Some(minor), Some(patch)) => Version { major: self.major, minor, patch: patch + 1 },
        }
    }

    fn exact(&self) -> bool {
        self.patch.is_some()
    }
}

/// The bounds of one `||` alternative: comparators separated by spaces or commas, or a hyphen range.
fn bounds(text: &str) -> Option<Vec<Bound>> {
    if let Some((low, high)) = text.split_once(" - ") {
        let (low, high) = (Partial::parse(low)?, Partial::parse(high)?);
        let top = if high.exact() { Bound::AtMost(high.floor()) } else { Bound::Below(high.ceiling()) };
        return Some(vec![Bound::AtLeast(low.floor()), top]);
    }
    // `>= 18` is one comparator: glue an operator to the version after it.
    let mut words: Vec<String> = Vec::new();
    for word in text.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()) {
        match words.last_mut() {
            Some(last) if last.bytes().all(|b| b"<>=!~^".contains(&b)) => last.push_str(word),
            _ => words.push(word.to_owned()),
        }
    }
    let mut set = Vec::new();
    for word in &words {
        set.extend(comparator(word)?);
    }
    Some(set)
}

fn comparator(word: &str) -> Option<Vec<Bound>> {
    let ops = ["~=", ">=", "<=", "==", "!=", ">", "<", "=", "^", "~"];
    let (op, rest) = ops.iter().find_map(|op| word.strip_prefix(op).map(|rest| (*op, rest))).unwrap_or(("", word));
    let v = Partial::parse(rest)?;
    let (floor, ceiling) = (v.floor(), v.ceiling());
    Some(match op {
        "" | "=" | "==" if v.exact() => vec![Bound::AtLeast(floor), Bound::AtMost(floor)],
        "" | "=" | "==" => vec![Bound::AtLeast(floor), Bound::Below(ceiling)],
        ">=" => vec![Bound::AtLeast(floor)],
        ">" if v.exact() => vec![Bound::Above(floor)],
        ">" => vec![Bound::AtLeast(ceiling)],
        "<" => vec![Bound::Below(floor)],
        "<=" if v.exact() => vec![Bound::AtMost(floor)],
        "<=" => vec![Bound::Below(ceiling)],
        "!=" if v.exact() => vec![Bound::Not(floor)],
        "!=" => return None,
        // `^1.2.3` stays below 2, `^0.2.3` below 0.3, `^0.0.3` below 0.0.4.
        "^" => {
            let top = match (v.major, v.minor, v.patch) {
                (0, Some(0), Some(patch)) => Version { major: 0, minor: 0, patch: patch + 1 },
                (0, Some(minor), _) => Version { major: 0, minor: minor + 1, patch: 0 },
                (major, _, _) => Version { major: major + 1, minor: 0, patch: 0 },
            };
            vec![Bound::AtLeast(floor), Bound::Below(top)]
        }
        // npm's `~1.2.3` stays below 1.3, `~1` below 2.
        "~" => {
            let top = match v.minor {
                Some(minor) => Version { major: v.major, minor: minor + 1, patch: 0 },
                None => Version { major: v.major + 1, minor: 0, patch: 0 },
            };
            vec![Bound::AtLeast(floor), Bound::Below(top)]
        }
        // Python's `~=3.11` stays below 4, `~=3.11.2` below 3.12.
        "~=" => {
            let top = match (v.minor, v.patch) {
                (Some(minor), Some(_)) => Version { major: v.major, minor: minor + 1, patch: 0 },
                (Some(_), None) => Version { major: v.major + 1, minor: 0, patch: 0 },
                (None, _) => return None,
            };
            vec![Bound::AtLeast(floor), Bound::Below(top)]
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Candidate {
        Candidate { version: Version::parse_release(text).expect(text), lts: None }
    }

    fn allows(requirement: &str, version: &str) -> bool {
        Requirement::parse(requirement).expect(requirement).allows(&v(version))
    }

    #[test]
    fn releases_parse_with_their_prefixes_and_pre_releases_do_not() {
        assert_eq!(Version::parse_release("v22.12.0"), Some(Version { major: 22, minor: 12, patch: 0 }));
        assert_eq!(Version::parse_release("go1.20"), Some(Version { major: 1, minor: 20, patch: 0 }));
        for text in ["go1.26rc1", "23.0.0-nightly", "1", "1.2.3.4", "", "x.1.2", "99999999999.1.1"] {
            assert_eq!(Version::parse_release(text), None, "{text}");
        }
    }

    #[test]
    fn npm_ranges() {
        for (range, yes, no) in [
            (">=20", "26.1.0", "18.20.4"),
            (">=18 <21", "20.11.1", "21.0.0"),
            (">= 18, < 21", "18.0.0", "17.9.9"),
            ("^20.1", "20.18.0", "21.0.0"),
            ("^0.2.3", "0.2.9", "0.3.0"),
            ("~20.11.0", "20.11.9", "20.12.0"),
            ("20.x", "20.0.0", "22.0.0"),
            ("22", "22.12.0", "23.0.0"),
            ("18 - 20", "20.9.0", "21.0.0"),
            ("18.1.0 - 20.1.0", "20.1.0", "20.1.1"),
            ("16 || >=20", "16.5.0", "18.0.0"),
            ("v22.12.0", "22.12.0", "22.12.1"),
            (">20.0.0", "20.0.1", "20.0.0"),
            (">20", "21.0.0", "20.5.0"),
            ("<=20", "20.9.0", "21.0.0"),
        ] {
            assert!(allows(range, yes), "{range} allows {yes}");
            assert!(!allows(range, no), "{range} refuses {no}");
        }
    }

    #[test]
    fn python_specifiers_and_pins() {
        for (spec, yes, no) in [
            (">=3.10,<3.13", "3.12.8", "3.13.0"),
            ("~=3.11", "3.13.1", "4.0.0"),
            ("~=3.11.2", "3.11.9", "3.12.0"),
            ("==3.12.*", "3.12.1", "3.11.9"),
            ("3.12", "3.12.8", "3.13.0"),
            ("python-3.12.1", "3.12.1", "3.12.2"),
            (">=3.9, !=3.11.0", "3.11.1", "3.11.0"),
            ("1.25", "1.25.5", "1.26.0"),
            ("go1.25.5", "1.25.5", "1.25.4"),
        ] {
            assert!(allows(spec, yes), "{spec} allows {yes}");
            assert!(!allows(spec, no), "{spec} refuses {no}");
        }
    }

    #[test]
    fn nvm_aliases() {
        let jod = Candidate { lts: Some("Jod".into()), ..v("22.12.0") };
        let current = v("23.3.0");
        let lts = Requirement::parse("lts/*").expect("lts");
        assert!(lts.allows(&jod) && !lts.allows(&current));
        let named = Requirement::parse("lts/jod").expect("named");
        assert!(named.allows(&jod) && !named.allows(&Candidate { lts: Some("Iron".into()), ..v("20.18.1") }));
        assert!(Requirement::parse("node").expect("node").allows(&current));
    }

    #[test]
    fn malformed_asks_are_refused() {
        for text in ["banana", ">=", "^", "1.2.3.4", "lts/", "lts/a b", ">>20", "20.x.1", "!=3.11", "~=3", "1.-2"] {
            assert!(Requirement::parse(text).is_err(), "{text}");
        }
    }
}
