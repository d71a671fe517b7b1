//! The stacks detection recognises. Stored build plans and the API carry them
//! as the lower-case strings below, so the serde names must never change.

use serde::{Deserialize, Serialize};

/// What kind of app a source tree is; it decides the build's tools and caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stack {
    Node,
    Python,
    Go,
    Rust,
    /// Ruby with Bundler (Rails, Rack, Sinatra), built with the build machine's Ruby.
    Ruby,
    /// Java and the other JVM languages Maven or a Gradle wrapper build (Spring Boot, plain
    /// runnable jars), built and run with the build machine's JDK.
    Java,
    /// PHP with Composer, served by php-fpm behind nginx (`slipway serve-php`), both the build machine's.
    Php,
    /// A site of static files, served as they are.
    Static,
    /// No language recognised: a Procfile or `slipway.toml` alone says what runs.
    Procfile,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a stack Slipway knows (node, python, go, rust, ruby, java, php, static or procfile)")]
pub struct UnknownStack(String);

impl Stack {
    pub const ALL: [Stack; 9] = [
        Self::Node,
        Self::Python,
        Self::Go,
        Self::Rust,
        Self::Ruby,
        Self::Java,
        Self::Php,
        Self::Static,
        Self::Procfile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Node => "node",
            Self::Python => "python",
            Self::Go => "go",
            Self::Rust => "rust",
            Self::Ruby => "ruby",
            Self::Java => "java",
            Self::Php => "php",
            Self::Static => "static",
            Self::Procfile => "procfile",
        }
    }
}

impl std::fmt::Display for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Stack {
    type Err = UnknownStack;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|stack| stack.as_str() == value)
            .ok_or_else(|| UnknownStack(value.chars().take(80).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_as_display_and_from_str_agree() {
        for stack in Stack::ALL {
            let json = serde_json::to_string(&stack).unwrap();
            assert_eq!(json, format!("\"{stack}\""));
            assert_eq!(serde_json::from_str::<Stack>(&json).unwrap(), stack);
            assert_eq!(stack.as_str().parse::<Stack>(), Ok(stack));
        }
        // The strings stored plans hold.
        let names: Vec<&str> = Stack::ALL.iter().map(|stack| stack.as_str()).collect();
        assert_eq!(names, ["node", "python", "go", "rust", "ruby", "java", "php", "static", "procfile"]);
    }

    #[test]
    fn unknown_stacks_are_refused() {
        for bad in ["", "Node", "Ruby", "Java", " node", "static_site", "PHP", "kotlin"] {
            assert!(bad.parse::<Stack>().is_err(), "{bad}");
            assert!(serde_json::from_str::<Stack>(&format!("\"{bad}\"")).is_err(), "{bad}");
        }
    }
}
