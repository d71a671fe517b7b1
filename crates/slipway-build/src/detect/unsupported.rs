//! Stacks Slipway recognises but does not build: refused at detection, naming
//! the stack, what gave it away and what to do — instead of being "detected"
//! as a Procfile app that dies with `exit status 127` when it starts.
//!
//! Two kinds of evidence. A stack's own manifest at the root (`build.sbt`,
//! `mix.exs`, …) says what the app is even when a `package.json` or
//! `requirements.txt` sits beside it (a Play app's front-end, Phoenix's
//! esbuild tooling): the peers' planners (Nixpacks, Railpack) rank these
//! stacks before Node and Python for the same reason. A weaker
//! [`Strength::Hint`] (`deno.json`, `stack.yaml`) counts only when no
//! supported stack is recognised and no Procfile says what runs. A Procfile
//! that runs another stack's program (`sbt run`, `mix`) is refused whatever
//! else the tree holds.
//!
//! Ruby, Java and PHP were here until Slipway built them (`ruby.rs`,
//! `java.rs`, `php.rs`); their programs are now among the supported ones.
//! Kotlin scripts (`kotlin`, `kotlinc`) stay here: a Kotlin app that Gradle
//! builds is a Java build.
//!
//! The way out is always the same: a `slipway.toml` that says how to install
//! and start the app takes precedence over all of this (the machine may well
//! have that toolchain), and a Procfile whose commands run a supported
//! stack's programs keeps a stray `build.sbt` from deciding.

use std::collections::BTreeMap;
use std::fmt;

use slipway_core::process_type::ProcessType;

use super::{DetectError, Tree};

/// A stack Slipway does not build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnsupportedStack {
    /// Kotlin run as scripts by its own compiler (Kotlin that Maven or Gradle builds is a Java build).
    Kotlin,
    Scala,
    Clojure,
    DotNet,
    Elixir,
    Deno,
    Haskell,
    Crystal,
    Dart,
    Swift,
    Zig,
    Gleam,
}

impl UnsupportedStack {
    pub fn name(self) -> &'static str {
        match self {
            Self::Kotlin => "Kotlin",
            Self::Scala => "Scala",
            Self::Clojure => "Clojure",
            Self::DotNet => ".NET",
            Self::Elixir => "Elixir",
            Self::Deno => "Deno",
            Self::Haskell => "Haskell",
            Self::Crystal => "Crystal",
            Self::Dart => "Dart",
            Self::Swift => "Swift",
            Self::Zig => "Zig",
            Self::Gleam => "Gleam",
        }
    }
}

impl fmt::Display for UnsupportedStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How strongly a file says what the app is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strength {
    /// The stack's own manifest: it decides even beside a supported stack's files.
    Manifest,
    /// A file that names the stack only when nothing supported is recognised.
    Hint,
}

use Strength::{Hint, Manifest};
use UnsupportedStack::*;

/// Root files that give a stack away, in the order they are looked for.
const FILES: [(&str, UnsupportedStack, Strength); 12] = [
    ("build.sbt", Scala, Manifest),
    ("project.clj", Clojure, Manifest),
    ("deps.edn", Clojure, Manifest),
    ("mix.exs", Elixir, Manifest),
    ("gleam.toml", Gleam, Manifest),
    ("shard.yml", Crystal, Manifest),
    ("pubspec.yaml", Dart, Manifest),
    ("Package.swift", Swift, Manifest),
    ("build.zig", Zig, Manifest),
    ("deno.json", Deno, Hint),
    ("deno.jsonc", Deno, Hint),
    ("stack.yaml", Haskell, Hint),
];

/// Root file name endings that give a stack away (project and solution files).
const EXTENSIONS: [(&str, UnsupportedStack); 5] =
    [(".csproj", DotNet), (".fsproj", DotNet), (".vbproj", DotNet), (".sln", DotNet), (".cabal", Haskell)];

/// Programs of each stack, as a command's first word names them (`bin/rails` → `rails`).
const PROGRAMS: [(UnsupportedStack, &[&str]); 12] = [
    (Kotlin, &["kotlin", "kotlinc"]),
    (Scala, &["sbt", "scala", "amm"]),
    (Clojure, &["lein", "clojure", "clj"]),
    (DotNet, &["dotnet"]),
    (Elixir, &["mix", "elixir", "iex"]),
    (Deno, &["deno"]),
    (Haskell, &["stack", "cabal", "runghc", "runhaskell"]),
    (Crystal, &["crystal", "shards"]),
    (Dart, &["dart", "flutter"]),
    (Swift, &["swift"]),
    (Zig, &["zig"]),
    (Gleam, &["gleam"]),
];

/// Programs of the stacks Slipway builds: a Procfile that runs one of them is
/// the app's own say even beside another stack's manifest.
const SUPPORTED_PROGRAMS: [&str; 40] = [
    "node",
    "npm",
    "npx",
    "yarn",
    "pnpm",
    "corepack",
    "python",
    "python3",
    "gunicorn",
    "uvicorn",
    "hypercorn",
    "daphne",
    "waitress-serve",
    "flask",
    "streamlit",
    "go",
    "cargo",
    "bundle",
    "bundler",
    "ruby",
    "rails",
    "rake",
    "rackup",
    "puma",
    "unicorn",
    "thin",
    "sidekiq",
    "jekyll",
    "java",
    "mvn",
    "mvnw",
    "gradlew",
    "php",
    "php-fpm",
    "composer",
    "heroku-php-nginx",
    "heroku-php-apache2",
    "slipway",
    "next",
    "vite",
];

/// A file that says the tree is an app of a stack Slipway does not build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) stack: UnsupportedStack,
    pub(crate) file: String,
    pub(crate) strength: Strength,
}

impl Finding {
    /// The refusal; `runs` names the Procfile line that also gave it away.
    pub(crate) fn refusal(&self, runs: Option<String>) -> DetectError {
        let evidence = match runs {
            Some(runs) => format!("{}; {runs}", self.file),
            None => self.file.clone(),
        };
        DetectError::UnsupportedStack { stack: self.stack, evidence }
    }
}

/// The first root file (or project file) that gives an unsupported stack away.
/// Directories and symlinks out of the tree do not count ([`Tree::is_file`]).
pub(crate) fn detect(tree: &Tree) -> Option<Finding> {
    let manifest = |(file, stack, strength): &(&str, UnsupportedStack, Strength)| {
        tree.is_file(file).then(|| Finding { stack: *stack, file: (*file).to_owned(), strength: *strength })
    };
    let by_name = FILES.iter().filter(|(.., strength)| *strength == Manifest).find_map(manifest);
    by_name
        .or_else(|| {
            tree.list("").into_iter().find_map(|name| {
                let (_, stack) = EXTENSIONS.iter().find(|(ext, _)| name.len() > ext.len() && name.ends_with(ext))?;
                tree.is_file(&name).then_some(Finding { stack: *stack, file: name, strength: Manifest })
            })
        })
        .or_else(|| FILES.iter().filter(|(.., strength)| *strength == Hint).find_map(manifest))
}

/// Whether detection must refuse the tree, given what else it found: the
/// Procfile's processes and whether a supported stack recognised the tree and
/// knows what to start (a Node app with a `build.sbt` for a tool beside it is a Node app).
/// (A `slipway.toml` that says what runs is handled by the caller: it never gets here.)
pub(crate) fn check(
    finding: Option<&Finding>,
    procfile: Option<&BTreeMap<ProcessType, String>>,
    recognised: bool,
) -> Result<(), DetectError> {
    if let Some(procfile) = procfile {
        // `web` first, so the message names the process users care about.
        let ordered = procfile.get_key_value(ProcessType::WEB).into_iter().chain(procfile.iter());
        for (process, command) in ordered {
            if let Some(stack) = programs(command).find_map(stack_of) {
                let runs = format!("the Procfile's {process} process runs `{command}`");
                return Err(match finding {
                    Some(found) if found.stack == stack => found.refusal(Some(runs)),
                    _ => DetectError::UnsupportedStack { stack, evidence: runs },
                });
            }
        }
    }
    let Some(finding) = finding else { return Ok(()) };
    let procfile_runs_supported = procfile
        .is_some_and(|p| p.values().any(|command| programs(command).any(|p| is_one_of(&SUPPORTED_PROGRAMS, p))));
    let refuse = match (finding.strength, procfile) {
        // The app's own manifest says what it is, unless a supported stack knows how to start it.
        (Manifest, None) => !recognised,
        // A Procfile beside it decides when a supported stack was recognised too, or
        // when it runs a supported stack's programs; a plain `./start.sh` beside a
        // build.sbt alone would start a Scala app.
        (Manifest, Some(_)) => !recognised && !procfile_runs_supported,
        // A hint never overrules a Procfile of plain commands (Procfile-only apps stay as they were).
        (Hint, Some(_)) => false,
        (Hint, None) => !recognised,
    };
    if refuse {
        Err(finding.refusal(None))
    } else {
        Ok(())
    }
}

/// The stack whose program `program` is.
fn stack_of(program: &str) -> Option<UnsupportedStack> {
    PROGRAMS.iter().find(|(_, programs)| is_one_of(programs, program)).map(|(stack, _)| *stack)
}

/// Whether `program` is in `names`, as it is or without a version suffix (`php8.2`, `python3`).
fn is_one_of(names: &[&str], program: &str) -> bool {
    let unversioned = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    names.contains(&program) || (!unversioned.is_empty() && names.contains(&unversioned))
}

/// The programs a shell command runs: the first word of each `&&`, `||`, `;` or `|` segment,
/// after `VAR=value` words and `exec`/`env`/`nohup`. Only bare names count: a path
/// (`./scripts/mix`, `bin/stack`) is the app's own file, not another stack's program.
fn programs(command: &str) -> impl Iterator<Item = &str> {
    command.split(['&', '|', ';', '\n']).filter_map(|segment| {
        let word = segment.split_whitespace().map(|word| word.trim_matches(['"', '\'', '(', ')'])).find(|word| {
            let assignment = word.split_once('=').is_some_and(|(name, _)| is_variable_name(name));
            !(word.is_empty() || assignment || ["exec", "env", "nohup", "time", "command"].contains(word))
        })?;
        (!word.contains('/')).then_some(word)
    })
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::{tree, write};
    use crate::detect::{detect as detect_plan, DetectError};
    use slipway_core::stack::Stack;

    fn refused(files: &[(&str, &str)]) -> (UnsupportedStack, String) {
        let dir = tree(files);
        match detect_plan(dir.path()) {
            Err(DetectError::UnsupportedStack { stack, evidence }) => (stack, evidence),
            other => panic!("{files:?} should be refused as an unsupported stack, got {other:?}"),
        }
    }

    #[test]
    fn each_stack_is_refused_naming_the_file_that_gave_it_away() {
        for (file, stack) in [
            ("build.sbt", Scala),
            ("project.clj", Clojure),
            ("deps.edn", Clojure),
            ("mix.exs", Elixir),
            ("Api.csproj", DotNet),
            ("App.fsproj", DotNet),
            ("Shop.sln", DotNet),
            ("shard.yml", Crystal),
            ("pubspec.yaml", Dart),
            ("Package.swift", Swift),
            ("build.zig", Zig),
            ("gleam.toml", Gleam),
            ("hello.cabal", Haskell),
            ("deno.json", Deno),
            ("stack.yaml", Haskell),
        ] {
            let (found, evidence) = refused(&[(file, ""), ("README.md", "")]);
            assert_eq!((found, evidence.as_str()), (stack, file), "{file}");
        }
    }

    #[test]
    fn the_message_names_the_stack_the_file_and_what_to_do() {
        let dir = tree(&[("build.sbt", "name := \"play\"\n"), ("app/controllers/Home.scala", "")]);
        let message = detect_plan(dir.path()).expect_err("scala").to_string();
        for words in [
            "Scala app (build.sbt)",
            "does not build Scala",
            "Node, Python, Go, Rust, Ruby, Java, PHP and static sites",
            "slipway.toml",
        ] {
            assert!(message.contains(words), "{words:?} not in: {message}");
        }
        assert!(
            message.contains("install = ") && message.contains("start = ") && message.contains("$PORT"),
            "{message}"
        );
    }

    #[test]
    fn a_manifest_wins_over_node_and_python_files_beside_it() {
        // Phoenix with its esbuild tooling, Play beside a Flask app.
        // (Rails with jsbundling and Laravel with Vite are built as the apps they are: ruby.rs, php.rs.)
        let (stack, evidence) = refused(&[
            ("mix.exs", "defmodule App.MixProject do\nend\n"),
            ("package.json", r#"{"devDependencies": {"esbuild": "0.19"}}"#),
        ]);
        assert_eq!((stack, evidence.as_str()), (Elixir, "mix.exs"));
        let (stack, _) = refused(&[("build.sbt", ""), ("requirements.txt", "flask\n"), ("app.py", "")]);
        assert_eq!(stack, Scala);
    }

    #[test]
    fn a_hint_counts_only_when_no_supported_stack_is_recognised() {
        let dir = tree(&[("deno.json", "{}"), ("package.json", r#"{"scripts": {"start": "node s.js"}}"#)]);
        assert_eq!(detect_plan(dir.path()).expect("node wins over a hint").stack, Stack::Node);
        let dir = tree(&[("stack.yaml", ""), ("public/index.html", "<h1>hi</h1>")]);
        assert_eq!(detect_plan(dir.path()).expect("static wins over a hint").stack, Stack::Static);
        assert_eq!(refused(&[("stack.yaml", ""), ("app/Main.hs", "")]).0, Haskell);
        // Nor over a Procfile of plain commands.
        let dir = tree(&[("stack.yaml", ""), ("Procfile", "web: ./bin/server\n")]);
        assert_eq!(detect_plan(dir.path()).expect("procfile wins over a hint").stack, Stack::Procfile);
        // Unless the Procfile runs that stack's programs.
        assert_eq!(
            refused(&[("deno.json", "{}"), ("Procfile", "web: deno run main.ts\n")]),
            (Deno, "deno.json; the Procfile's web process runs `deno run main.ts`".to_owned())
        );
    }

    #[test]
    fn a_procfile_running_another_stacks_program_is_refused_at_detection() {
        // The case that used to die with exit status 127 at start.
        let (stack, evidence) = refused(&[("build.sbt", ""), ("Procfile", "web: sbt -Dhttp.port=$PORT run\n")]);
        assert_eq!(stack, Scala);
        assert_eq!(evidence, "build.sbt; the Procfile's web process runs `sbt -Dhttp.port=$PORT run`");
        // Ruby's, Java's and PHP's programs are supported ones now.
        let dir = tree(&[("Gemfile", "gem 'puma'\n"), ("Procfile", "web: bundle exec puma -C config/puma.rb\n")]);
        assert_eq!(detect_plan(dir.path()).expect("a Ruby app").stack, Stack::Ruby);
        let dir = tree(&[("composer.json", "{}"), ("Procfile", "web: php -S 127.0.0.1:$PORT -t public\n")]);
        assert_eq!(detect_plan(dir.path()).expect("a PHP app").stack, Stack::Php);
        let dir =
            tree(&[("pom.xml", "<project/>"), ("Procfile", "web: JAVA_OPTS=-Xmx300m exec java -jar target/app.jar\n")]);
        assert_eq!(detect_plan(dir.path()).expect("a Java app").stack, Stack::Java);
        // Without any manifest, and whatever the Procfile's line looks like.
        for (procfile, stack) in [
            ("web: sbt run\n", Scala),
            ("web: JAVA_OPTS=-Xmx300m exec kotlin server.main.kts\n", Kotlin),
            ("web: cd api && scala3 run .\n", Scala),
            ("worker: node w.js\nweb: dotnet run\n", DotNet),
            ("web: MIX_ENV=prod mix phx.server\n", Elixir),
            ("web: deno run --allow-net main.ts\n", Deno),
        ] {
            let (found, evidence) = refused(&[("Procfile", procfile)]);
            assert_eq!(found, stack, "{procfile}");
            assert!(evidence.starts_with("the Procfile's "), "{evidence}");
        }
        // Even beside a supported stack: its programs would not be there either.
        let (stack, _) = refused(&[
            ("package.json", r#"{"scripts": {"start": "node s.js"}}"#),
            ("Procfile", "release: mix ecto.migrate\n"),
        ]);
        assert_eq!(stack, Elixir);
        // A path is the app's own file, and words inside quotes are not programs.
        for procfile in ["web: ./scripts/mix\n", "web: bin/stack serve\n", "web: node s.js --title \"Shop (java)\"\n"] {
            assert!(detect_plan(tree(&[("Procfile", procfile)]).path()).is_ok(), "{procfile}");
        }
        // Beside its manifest, a path to the stack's own script is refused by the manifest.
        assert_eq!(refused(&[("build.sbt", ""), ("Procfile", "web: bin/server serve\n")]).0, Scala);
    }

    #[test]
    fn a_tool_manifest_beside_a_startable_supported_app_does_not_decide() {
        // Danger or fastlane's Gemfile in a Node app; a Gradle wrapper for a React Native app.
        let dir = tree(&[("Gemfile", "gem 'danger'\n"), ("package.json", r#"{"scripts": {"start": "node s.js"}}"#)]);
        assert_eq!(detect_plan(dir.path()).expect("a Node app").stack, Stack::Node);
        // PHP source is never served as a static site: index.php beside an index.html is a PHP app.
        let dir = tree(&[("index.php", "<?php"), ("index.html", "<h1>hi</h1>")]);
        assert_eq!(detect_plan(dir.path()).expect("a PHP app").stack, Stack::Php);
    }

    #[test]
    fn a_procfile_of_supported_programs_or_plain_shell_keeps_the_procfile_behaviour() {
        for procfile in
            ["web: ./run.sh\n", "web: node server.js\n", "web: python3 -m http.server $PORT\n", "web: bin/web\n"]
        {
            let dir = tree(&[("Procfile", procfile)]);
            let plan = detect_plan(dir.path()).unwrap_or_else(|e| panic!("{procfile}: {e}"));
            assert_eq!(plan.stack, Stack::Procfile, "{procfile}");
        }
        // A stray Gemfile beside a Procfile that runs Node.
        let dir = tree(&[("Gemfile", ""), ("Procfile", "web: node server.js\n")]);
        assert_eq!(detect_plan(dir.path()).expect("node procfile").start.as_deref(), Some("node server.js"));
        // A Procfile beside both a supported stack and a Gemfile decides for the supported stack.
        let dir = tree(&[
            ("Gemfile", ""),
            ("package.json", r#"{"scripts": {"start": "node s.js"}}"#),
            ("Procfile", "web: ./start.sh\n"),
        ]);
        assert_eq!(detect_plan(dir.path()).expect("node").stack, Stack::Node);
        // A plain shell script beside a Gemfile alone starts a Ruby app (Slipway builds Ruby).
        let plan = detect_plan(tree(&[("Gemfile", ""), ("Procfile", "web: ./start.sh\n")]).path()).expect("ruby");
        assert_eq!((plan.stack, plan.start.as_deref()), (Stack::Ruby, Some("./start.sh")));
        // But beside a build.sbt alone it would start a Scala app.
        assert_eq!(refused(&[("build.sbt", ""), ("Procfile", "web: ./start.sh\n")]).0, Scala);
    }

    #[test]
    fn slipway_toml_saying_what_runs_is_the_way_out() {
        let dir = tree(&[
            ("build.sbt", ""),
            ("Procfile", "web: sbt run\n"),
            ("slipway.toml", "install = \"sbt stage\"\nstart = \"target/universal/stage/bin/app\"\n"),
        ]);
        let plan = detect_plan(dir.path()).expect("the app's own say");
        assert_eq!(plan.stack, Stack::Procfile);
        assert_eq!(plan.install.as_deref(), Some("sbt stage"));
        // A slipway.toml that does not say what runs changes nothing.
        let (stack, _) = refused(&[("build.sbt", ""), ("slipway.toml", "health_check_path = \"/up\"\n")]);
        assert_eq!(stack, Scala);
    }

    #[test]
    fn hostile_trees() {
        // A directory named like a manifest is not one.
        let dir = tree(&[("Gemfile/README", ""), ("App.csproj/x", ""), ("package.json", r#"{"main": "s.js"}"#)]);
        assert_eq!(detect_plan(dir.path()).expect("node").stack, Stack::Node);
        // Nor is a symlink out of the tree.
        let outside = tree(&[("Gemfile", "gem 'rails'\n")]);
        let dir = tree(&[("index.html", "<h1>hi</h1>")]);
        std::os::unix::fs::symlink(outside.path().join("Gemfile"), dir.path().join("Gemfile")).expect("symlink");
        assert_eq!(detect_plan(dir.path()).expect("static").stack, Stack::Static);
        // A Procfile with only comments beside a build.sbt: the stack is the answer, not the Procfile.
        let (stack, _) = refused(&[("build.sbt", ""), ("Procfile", "# web: sbt run\n\n")]);
        assert_eq!(stack, Scala);
        // A package.json too large to read beside a build.sbt: still a Scala app.
        let dir = tree(&[("build.sbt", "")]);
        let file = std::fs::File::create(dir.path().join("package.json")).expect("create");
        file.set_len(crate::detect::MAX_MANIFEST_BYTES + 10).expect("sparse file");
        file.sync_all().expect("sync");
        write(dir.path(), "Procfile", "web: ./start\n");
        assert!(matches!(detect_plan(dir.path()), Err(DetectError::UnsupportedStack { stack: Scala, .. })));
    }

    #[test]
    fn programs_of_a_command() {
        let found: Vec<&str> =
            programs("A=1 B=2 exec bundle exec rails s && env X=y ./bin/worker | tee; (\"java17\" -v)").collect();
        assert_eq!(found, ["bundle", "tee", "java17"]);
        assert_eq!(programs("   ").count(), 0);
        assert_eq!(stack_of("php8.2"), None);
        assert!(is_one_of(&SUPPORTED_PROGRAMS, "php8.2"));
        assert_eq!(stack_of("heroku-php-apache2"), None);
        assert_eq!(stack_of("java17"), None);
        assert!(is_one_of(&SUPPORTED_PROGRAMS, "java17"));
        assert_eq!(stack_of("kotlinc"), Some(Kotlin));
        assert_eq!(stack_of("ruby3.3"), None);
        assert!(is_one_of(&SUPPORTED_PROGRAMS, "ruby3.3"));
        assert_eq!(stack_of("2to3"), None);
        assert!(is_one_of(&SUPPORTED_PROGRAMS, "python3.12"));
    }
}
