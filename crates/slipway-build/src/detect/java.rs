//! Java, and the other JVM languages the same builds compile: Maven (`pom.xml`,
//! through the repository's `mvnw` when it is there and executable, else the
//! machine's `mvn`) and Gradle (build.gradle(.kts) or settings.gradle(.kts),
//! only through the repository's `gradlew`: the wrapper pins the Gradle its
//! build needs, a machine's own Gradle is missing or, Debian's, far too old).
//!
//! The build makes a jar; the `web` process runs it with the machine's JDK:
//! Spring Boot's fat jar (the `spring-boot-maven-plugin`, the
//! `org.springframework.boot` Gradle plugin) told its port and address
//! (`-Dserver.port=$PORT -Dserver.address=127.0.0.1`), any other jar as it is
//! (it reads `PORT` itself). The jar is the one the build file names —
//! `target/<artifactId>-<version>.jar` or `<finalName>.jar`,
//! `build/libs/<rootProject.name>-<version>.jar` — or, when the build file
//! computes its name, the one jar in `target/` (`build/libs/`): after the
//! build the builder checks that what `-jar` names is there, and only once,
//! and refuses naming what the build made otherwise (`build/java.rs`).
//!
//! The Java version a tree asks for is recorded, not installed (`versions.rs`).

use std::collections::BTreeMap;

use slipway_core::build_plan::BuildPlan;
use slipway_core::runtime::VersionAsk;
use slipway_core::stack::Stack;

use super::{shell_quote, DetectError, Tree};

const POM: &str = "pom.xml";
const MAVEN_WRAPPER: &str = "mvnw";
const GRADLE_WRAPPER: &str = "gradlew";
const GRADLE_FILES: [&str; 4] = ["build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"];
const GRADLE_PROPERTIES: &str = "gradle.properties";

/// Spring Boot's own settings: the port, and the address it would otherwise bind on every interface.
pub(crate) const SPRING_BOOT_FLAGS: &str = "-Dserver.port=$PORT -Dserver.address=127.0.0.1";
pub(crate) const SPRING_BOOT: &str = "spring-boot";

/// The Maven build: tests are the CI's job, not the deploy's.
const MAVEN_GOALS: &str = "-B -DskipTests package";
/// The Gradle build: `check` (and so `test`) left out; no daemon outlives the build.
const GRADLE_TASKS: &str = "--no-daemon build -x check";

pub(crate) fn detect(tree: &Tree) -> Result<Option<BuildPlan>, DetectError> {
    if tree.is_file(POM) {
        return maven(tree).map(Some);
    }
    if GRADLE_FILES.iter().any(|file| tree.is_file(file)) || tree.is_file(GRADLE_WRAPPER) {
        return gradle(tree).map(Some);
    }
    Ok(None)
}

/// `java … -jar <jar>`: Spring Boot told its port and address, any other jar reading `PORT` itself.
/// `$JAVA_OPTS` (a config var) comes last before `-jar`, so the app's own flags win.
fn start_command(spring_boot: bool, jar: &str) -> String {
    if spring_boot {
        format!("java {SPRING_BOOT_FLAGS} $JAVA_OPTS -jar {jar}")
    } else {
        format!("java $JAVA_OPTS -jar {jar}")
    }
}

/// `dir/<name>`, quoted for the shell; `dir/*.<extension>` when the name is not known.
fn jar_path(dir: &str, name: Option<&str>, extension: &str) -> String {
    match name {
        Some(name) => shell_quote(&format!("{dir}/{name}.{extension}")),
        None => format!("{dir}/*.{extension}"),
    }
}

// ---- Maven -------------------------------------------------------------------

fn maven(tree: &Tree) -> Result<BuildPlan, DetectError> {
    let text = tree.read(POM)?.unwrap_or_default();
    let pom = Pom::parse(&text)?;
    let mut detected_from = vec![POM.to_owned()];
    // The wrapper pins the Maven the project wants; a copy without its executable bit would not run.
    let maven = if tree.is_executable(MAVEN_WRAPPER) {
        detected_from.push(MAVEN_WRAPPER.to_owned());
        "./mvnw"
    } else {
        "mvn"
    };
    let spring_boot = pom.has_plugin("spring-boot-maven-plugin");
    // A Spring Boot war runs with `java -jar` too; a plain war needs a servlet container, and a
    // `pom` is the parent of modules whose jar Slipway cannot pick (a Procfile names it).
    let extension = match pom.packaging.as_str() {
        "jar" => Some("jar"),
        "war" if spring_boot => Some("war"),
        _ => None,
    };
    let start = extension
        .map(|extension| start_command(spring_boot, &jar_path("target", pom.final_name().as_deref(), extension)));
    let mut plan = super::plan(Stack::Java, start, detected_from);
    plan.framework = spring_boot.then(|| SPRING_BOOT.to_owned());
    plan.package_manager = Some("maven".to_owned());
    plan.build = Some(format!("{maven} {MAVEN_GOALS}"));
    plan.runtime_asks = super::versions::java(tree, pom.java_asks())?;
    Ok(plan)
}

/// What detection reads of a pom.xml.
#[derive(Debug, Default)]
struct Pom {
    artifact_id: Option<String>,
    version: Option<String>,
    packaging: String,
    final_name: Option<String>,
    /// `<properties>`, and the project's coordinates as `${project.…}` names them.
    properties: BTreeMap<String, String>,
    /// The artifactIds of the plugins in `<build><plugins>`.
    plugins: Vec<String>,
    /// maven-compiler-plugin's `<release>`, `<source>`, `<target>` configuration.
    compiler: Vec<(&'static str, String)>,
}

impl Pom {
    fn parse(text: &str) -> Result<Self, DetectError> {
        let malformed = |problem: String| DetectError::Malformed { file: POM.to_owned(), problem };
        let document = roxmltree::Document::parse(text).map_err(|err| malformed(err.to_string()))?;
        let project = document.root_element();
        if project.tag_name().name() != "project" {
            return Err(malformed(format!("its root element is <{}>, not <project>", project.tag_name().name())));
        }
        let parent = child(project, "parent");
        let mut pom = Pom {
            artifact_id: text_of(project, "artifactId"),
            // A module without its own version has its parent's.
            version: text_of(project, "version").or_else(|| parent.and_then(|p| text_of(p, "version"))),
            packaging: text_of(project, "packaging").unwrap_or_else(|| "jar".to_owned()),
            ..Pom::default()
        };
        if let Some(properties) = child(project, "properties") {
            for property in properties.children().filter(roxmltree::Node::is_element) {
                let value = property.text().unwrap_or_default().trim().to_owned();
                pom.properties.insert(property.tag_name().name().to_owned(), value);
            }
        }
        for (names, value) in [
            (&["project.artifactId", "artifactId", "pom.artifactId"][..], pom.artifact_id.clone()),
            (&["project.version", "version", "pom.version"][..], pom.version.clone()),
            (&["project.groupId", "groupId"][..], text_of(project, "groupId")),
            (&["project.parent.version", "parent.version"][..], parent.and_then(|p| text_of(p, "version"))),
        ] {
            for name in names {
                if let Some(value) = &value {
                    pom.properties.entry((*name).to_owned()).or_insert_with(|| value.clone());
                }
            }
        }
        if let Some(build) = child(project, "build") {
            pom.final_name = text_of(build, "finalName");
            // Plugins only managed (not in <build><plugins>) do not run, but may configure the compiler.
            let plugin_lists = [(true, Some(build)), (false, child(build, "pluginManagement"))]
                .into_iter()
                .filter_map(|(runs, node)| Some((runs, child(node?, "plugins")?)));
            for (runs, plugins) in plugin_lists {
                for plugin in plugins.children().filter(|n| n.is_element() && n.tag_name().name() == "plugin") {
                    let Some(artifact) = text_of(plugin, "artifactId") else { continue };
                    if artifact == "maven-compiler-plugin" {
                        if let Some(configuration) = child(plugin, "configuration") {
                            for setting in ["release", "source", "target"] {
                                if let Some(value) = text_of(configuration, setting) {
                                    pom.compiler.push((setting, value));
                                }
                            }
                        }
                    }
                    if runs {
                        pom.plugins.push(artifact);
                    }
                }
            }
        }
        Ok(pom)
    }

    fn has_plugin(&self, artifact_id: &str) -> bool {
        self.plugins.iter().any(|p| p == artifact_id)
    }

    /// The jar's name without its extension: `<finalName>`, else `<artifactId>-<version>`;
    /// `None` when a property it uses is not one the pom sets (`${revision}` from the command line).
    fn final_name(&self) -> Option<String> {
        let name = match &self.final_name {
            Some(name) => name.clone(),
            None => format!("{}-{}", self.artifact_id.as_deref()?, self.version.as_deref()?),
        };
        let name = self.resolve(&name)?;
        (!name.is_empty() && !name.contains('/')).then_some(name)
    }

    /// `value` with its `${…}` properties replaced; `None` when one is unknown.
    fn resolve(&self, value: &str) -> Option<String> {
        let mut value = value.to_owned();
        // Properties may name properties; a loop ends after a few rounds.
        for _ in 0..8 {
            let Some(start) = value.find("${") else { return Some(value) };
            let end = start + value[start..].find('}')?;
            let replacement = self.properties.get(&value[start + 2..end])?;
            value.replace_range(start..=end, replacement);
        }
        (!value.contains("${")).then_some(value)
    }

    /// The Java versions the build compiles for, most decisive first: the compiler's release,
    /// Spring Boot's `java.version`, then source and target.
    fn java_asks(&self) -> Vec<VersionAsk> {
        let mut asks = Vec::new();
        let mut push = |source: String, value: &str| {
            if let Some(version) = self.resolve(value).filter(|v| !v.is_empty()) {
                asks.push(VersionAsk::new(source, version));
            }
        };
        for (setting, value) in self.compiler.iter().filter(|(s, _)| *s == "release") {
            push(format!("maven-compiler-plugin {setting} in {POM}"), value);
        }
        for property in ["maven.compiler.release", "java.version", "maven.compiler.source", "maven.compiler.target"] {
            if let Some(value) = self.properties.get(property) {
                push(format!("{property} in {POM}"), value);
            }
        }
        for (setting, value) in self.compiler.iter().filter(|(s, _)| *s != "release") {
            push(format!("maven-compiler-plugin {setting} in {POM}"), value);
        }
        asks
    }
}

/// Whether an ask came from the pom: javac cannot compile for a Java newer than itself.
pub(crate) fn is_compiler_ask(ask: &VersionAsk) -> bool {
    ask.source.ends_with(&format!(" in {POM}"))
}

fn child<'a, 'input>(node: roxmltree::Node<'a, 'input>, name: &str) -> Option<roxmltree::Node<'a, 'input>> {
    node.children().find(|n| n.is_element() && n.tag_name().name() == name)
}

fn text_of(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    let text = child(node, name)?.text()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

// ---- Gradle ------------------------------------------------------------------

fn gradle(tree: &Tree) -> Result<BuildPlan, DetectError> {
    let build_file = ["build.gradle", "build.gradle.kts"].into_iter().find(|f| tree.is_file(f));
    let settings_file = ["settings.gradle", "settings.gradle.kts"].into_iter().find(|f| tree.is_file(f));
    let mut detected_from: Vec<String> = build_file.into_iter().chain(settings_file).map(str::to_owned).collect();
    if !tree.is_file(GRADLE_WRAPPER) {
        let from = detected_from.join(", ");
        return Err(DetectError::CannotBuild {
            stack: Stack::Java,
            from,
            reason: "Slipway builds Gradle projects only through their Gradle wrapper (gradlew), which pins the \
                     Gradle version the build needs — this machine has no Gradle of its own, and a Linux \
                     distribution's is usually too old for today's builds. Run `gradle wrapper` and commit gradlew \
                     and gradle/wrapper/; or say how to build and start the app in slipway.toml"
                .to_owned(),
        });
    }
    detected_from.push(GRADLE_WRAPPER.to_owned());
    let build = match build_file {
        Some(file) => tree.read(file)?.unwrap_or_default(),
        None => String::new(),
    };
    let settings = match settings_file {
        Some(file) => tree.read(file)?.unwrap_or_default(),
        None => String::new(),
    };
    let spring_boot =
        ["\"org.springframework.boot\"", "'org.springframework.boot'"].iter().any(|id| build.contains(id));
    let name = gradle_jar_name(&build, &settings, tree.read(GRADLE_PROPERTIES)?.as_deref());
    // The root project's jar; a build of subprojects only (`include 'app'`) names none.
    let start =
        build_file.is_some().then(|| start_command(spring_boot, &jar_path("build/libs", name.as_deref(), "jar")));
    let mut plan = super::plan(Stack::Java, start, detected_from);
    plan.framework = spring_boot.then(|| SPRING_BOOT.to_owned());
    plan.package_manager = Some("gradle".to_owned());
    // A wrapper committed without its executable bit still runs (the peers make it executable too).
    let chmod = if tree.is_executable(GRADLE_WRAPPER) { "" } else { "chmod +x gradlew && " };
    // Spring Boot's plugin makes the fat jar (bootJar) and a `-plain` one (jar) beside it; when the
    // start command takes the one jar in build/libs/, the root project's plain one is not made.
    let plain = if spring_boot && name.is_none() && build_file.is_some() { " -x :jar" } else { "" };
    plan.build = Some(format!("{chmod}./gradlew {GRADLE_TASKS}{plain}"));
    let asks: Vec<VersionAsk> =
        build_file.and_then(|file| gradle_java(&build).map(|v| VersionAsk::new(file, v))).into_iter().collect();
    plan.runtime_asks = super::versions::java(tree, asks)?;
    Ok(plan)
}

/// `<rootProject.name>-<version>` (`<rootProject.name>` for a project without a version), or
/// `None` when the build renames its archives or the settings do not name the project (Gradle
/// then takes the directory's name).
fn gradle_jar_name(build: &str, settings: &str, properties: Option<&str>) -> Option<String> {
    if ["archiveFileName", "archiveBaseName", "archiveVersion", "archiveClassifier", "archivesBaseName", "baseName"]
        .iter()
        .any(|setting| build.contains(setting))
    {
        return None;
    }
    let name = assigned(settings, "rootProject.name")?;
    let version = assigned(build, "version").or_else(|| {
        properties?.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "version").then(|| value.trim().to_owned()).filter(|v| !v.is_empty())
        })
    });
    let name = match version {
        Some(version) if version != "unspecified" => format!("{name}-{version}"),
        _ => name,
    };
    name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c)).then_some(name)
}

/// The quoted literal a top-level line assigns to `key`: `key = 'x'`, `key = "x"`, `key 'x'`.
fn assigned(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix(key)?;
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let value = rest[1..].split(quote).next()?;
        // `"${…}"` computes the value.
        (!value.is_empty() && !value.contains('$')).then(|| value.to_owned())
    })
}

/// The Java a Gradle build compiles for: its toolchain (`JavaLanguageVersion.of(17)`,
/// Kotlin's `jvmToolchain(17)`), else `sourceCompatibility` (`'17'`, `1.8`, `JavaVersion.VERSION_17`).
fn gradle_java(build: &str) -> Option<String> {
    let call = |marker: &str| {
        let rest = &build[build.find(marker)? + marker.len()..];
        let value = rest.split(')').next()?.trim().trim_matches(['"', '\'']);
        value.chars().all(|c| c.is_ascii_digit()).then(|| value.to_owned()).filter(|v| !v.is_empty())
    };
    call("JavaLanguageVersion.of(").or_else(|| call("jvmToolchain(")).or_else(|| {
        build.lines().find_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix("java.").unwrap_or(line).strip_prefix("sourceCompatibility")?;
            let value = rest.trim_start().strip_prefix('=').unwrap_or(rest).trim().trim_matches(['"', '\'']);
            let value = value.strip_prefix("JavaVersion.").unwrap_or(value);
            slipway_core::runtime::java_major(value).map(|major| major.to_string())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::tree;
    use crate::detect::{detect as detect_plan, DetectError};

    fn executable(dir: &std::path::Path, file: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(dir.join(file), "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    const PLAIN_POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId>
  <artifactId>hello</artifactId>
  <version>1.0.0</version>
  <properties><maven.compiler.release>17</maven.compiler.release></properties>
</project>
"#;

    const SPRING_POM: &str = r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <parent>
    <groupId>org.springframework.boot</groupId>
    <artifactId>spring-boot-starter-parent</artifactId>
    <version>3.3.0</version>
  </parent>
  <artifactId>demo</artifactId>
  <version>0.0.1-SNAPSHOT</version>
  <properties><java.version>21</java.version></properties>
  <dependencies>
    <dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency>
  </dependencies>
  <build><plugins><plugin>
    <groupId>org.springframework.boot</groupId><artifactId>spring-boot-maven-plugin</artifactId>
  </plugin></plugins></build>
</project>
"#;

    #[test]
    fn a_plain_maven_app_runs_its_jar_and_reads_port_itself() {
        let dir = tree(&[("pom.xml", PLAIN_POM), ("src/main/java/App.java", "")]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Java, None));
        assert_eq!(plan.package_manager.as_deref(), Some("maven"));
        assert_eq!(plan.build.as_deref(), Some("mvn -B -DskipTests package"));
        assert_eq!(plan.install, None);
        assert_eq!(plan.start.as_deref(), Some("java $JAVA_OPTS -jar target/hello-1.0.0.jar"));
        assert_eq!(plan.asked_version(), Some("17"));
        assert_eq!(plan.runtime_asks[0].source, "maven.compiler.release in pom.xml");
        assert!(is_compiler_ask(&plan.runtime_asks[0]));
        assert_eq!(plan.detected_from, ["pom.xml"]);
    }

    #[test]
    fn spring_boot_with_the_maven_wrapper_is_told_its_port_and_address() {
        let dir = tree(&[("pom.xml", SPRING_POM), (".mvn/wrapper/maven-wrapper.properties", "")]);
        executable(dir.path(), "mvnw");
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Java, Some("spring-boot")));
        assert_eq!(plan.build.as_deref(), Some("./mvnw -B -DskipTests package"));
        assert_eq!(
            plan.start.as_deref(),
            Some("java -Dserver.port=$PORT -Dserver.address=127.0.0.1 $JAVA_OPTS -jar target/demo-0.0.1-SNAPSHOT.jar")
        );
        assert_eq!(plan.asked_version(), Some("21"));
        assert_eq!(plan.detected_from, ["pom.xml", "mvnw"]);
        // A wrapper that is not executable is not used: the machine's Maven builds.
        let dir = tree(&[("pom.xml", SPRING_POM), ("mvnw", "#!/bin/sh\n")]);
        assert_eq!(detect_plan(dir.path()).expect("plan").build.as_deref(), Some("mvn -B -DskipTests package"));
    }

    #[test]
    fn only_a_plugin_in_build_plugins_makes_spring_boot() {
        // The starter parent manages the plugin; without it in <build><plugins> the jar is not fat.
        let pom = SPRING_POM
            .replace("<build><plugins><plugin>", "<build><pluginManagement><plugins><plugin>")
            .replace("</plugin></plugins></build>", "</plugin></plugins></pluginManagement></build>");
        let plan = detect_plan(tree(&[("pom.xml", &pom)]).path()).expect("plan");
        assert_eq!(plan.framework, None);
        assert_eq!(plan.start.as_deref(), Some("java $JAVA_OPTS -jar target/demo-0.0.1-SNAPSHOT.jar"));
    }

    #[test]
    fn the_jar_name_follows_final_name_and_properties_or_is_left_to_the_build() {
        let pom = PLAIN_POM.replace(
            "</properties>",
            "<app.name>server</app.name></properties><build><finalName>${app.name}-${project.version}</finalName></build>",
        );
        let plan = detect_plan(tree(&[("pom.xml", &pom)]).path()).expect("plan");
        assert_eq!(plan.start.as_deref(), Some("java $JAVA_OPTS -jar target/server-1.0.0.jar"));
        // CI-friendly versions set on the command line (.mvn/maven.config): the one jar in target/.
        let pom = PLAIN_POM.replace("<version>1.0.0</version>", "<version>${revision}</version>");
        let plan = detect_plan(tree(&[("pom.xml", &pom)]).path()).expect("plan");
        assert_eq!(plan.start.as_deref(), Some("java $JAVA_OPTS -jar target/*.jar"));
        // A module's version comes from its parent.
        let pom = SPRING_POM.replace("<version>0.0.1-SNAPSHOT</version>", "");
        let plan = detect_plan(tree(&[("pom.xml", &pom)]).path()).expect("plan");
        assert!(plan.start.as_deref().is_some_and(|s| s.ends_with("-jar target/demo-3.3.0.jar")), "{:?}", plan.start);
    }

    #[test]
    fn a_parent_pom_or_a_plain_war_needs_a_procfile() {
        let parent = PLAIN_POM.replace(
            "<version>1.0.0</version>",
            "<version>1.0.0</version><packaging>pom</packaging><modules><module>app</module></modules>",
        );
        let dir = tree(&[("pom.xml", &parent)]);
        let err = detect_plan(dir.path()).expect_err("no start");
        assert!(matches!(err, DetectError::NoStartCommand { stack: Stack::Java, .. }), "{err:?}");
        assert!(err.to_string().contains("Procfile"), "{err}");
        let dir = tree(&[("pom.xml", &parent), ("Procfile", "web: java -jar app/target/app-1.0.0.jar\n")]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.start.as_deref()), (Stack::Java, Some("java -jar app/target/app-1.0.0.jar")));
        assert_eq!(plan.build.as_deref(), Some("mvn -B -DskipTests package"));
        let war = PLAIN_POM.replace("<version>1.0.0</version>", "<version>1.0.0</version><packaging>war</packaging>");
        assert!(detect_plan(tree(&[("pom.xml", &war)]).path()).is_err());
        // A Spring Boot war runs with java -jar.
        let war =
            SPRING_POM.replace("<version>0.0.1-SNAPSHOT</version>", "<version>1</version><packaging>war</packaging>");
        let plan = detect_plan(tree(&[("pom.xml", &war)]).path()).expect("plan");
        assert!(plan.start.as_deref().is_some_and(|s| s.ends_with("-jar target/demo-1.war")), "{:?}", plan.start);
    }

    #[test]
    fn a_malformed_pom_is_refused_naming_it() {
        let err = detect_plan(tree(&[("pom.xml", "<project><artifactId>x</project>")]).path()).expect_err("bad");
        assert!(matches!(&err, DetectError::Malformed { file, .. } if file == "pom.xml"), "{err:?}");
        let err = detect_plan(tree(&[("pom.xml", "<settings/>")]).path()).expect_err("bad");
        assert!(err.to_string().contains("not <project>"), "{err}");
        // A DTD (entity expansion: "billion laughs", or an external entity naming a file of this
        // machine) is refused before anything is expanded or read.
        for hostile in [
            "<!DOCTYPE p [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\
             <project><artifactId>&b;</artifactId></project>",
            "<!DOCTYPE p [<!ENTITY secret SYSTEM \"file:///etc/shadow\">]><project><name>&secret;</name></project>",
        ] {
            let err = detect_plan(tree(&[("pom.xml", hostile)]).path()).expect_err("a DTD");
            assert!(matches!(&err, DetectError::Malformed { file, .. } if file == "pom.xml"), "{err:?}");
        }
    }

    #[test]
    fn gradle_runs_through_its_wrapper_and_names_the_jar() {
        let build = "plugins {\n  id 'java'\n  id 'org.springframework.boot' version '3.3.0'\n}\n\
                     group = 'com.example'\nversion = '0.0.1-SNAPSHOT'\n\
                     java {\n  toolchain {\n    languageVersion = JavaLanguageVersion.of(17)\n  }\n}\n\
                     dependencies { implementation 'org.springframework.boot:spring-boot-starter-web' }\n";
        let dir = tree(&[("build.gradle", build), ("settings.gradle", "rootProject.name = 'demo'\n")]);
        executable(dir.path(), "gradlew");
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!((plan.stack, plan.framework.as_deref()), (Stack::Java, Some("spring-boot")));
        assert_eq!(plan.package_manager.as_deref(), Some("gradle"));
        assert_eq!(plan.build.as_deref(), Some("./gradlew --no-daemon build -x check"));
        assert_eq!(
            plan.start.as_deref(),
            Some("java -Dserver.port=$PORT -Dserver.address=127.0.0.1 $JAVA_OPTS -jar build/libs/demo-0.0.1-SNAPSHOT.jar")
        );
        assert_eq!(plan.asked_version(), Some("17"));
        assert!(!is_compiler_ask(&plan.runtime_asks[0]));
        assert_eq!(plan.detected_from, ["build.gradle", "settings.gradle", "gradlew"]);
    }

    #[test]
    fn gradle_kotlin_dsl_without_a_version_or_a_name() {
        let build = "plugins {\n    application\n}\nkotlin { jvmToolchain(21) }\n\
                     dependencies { implementation(\"org.springframework.boot:spring-boot-starter\") }\n";
        let dir = tree(&[("build.gradle.kts", build), ("settings.gradle.kts", "rootProject.name = \"tool\"\n")]);
        std::fs::write(dir.path().join("gradlew"), "#!/bin/sh\n").expect("write");
        let plan = detect_plan(dir.path()).expect("plan");
        // A dependency on Spring Boot is not its plugin; a wrapper without its bit is made executable.
        assert_eq!(plan.framework, None);
        assert_eq!(plan.build.as_deref(), Some("chmod +x gradlew && ./gradlew --no-daemon build -x check"));
        assert_eq!(plan.start.as_deref(), Some("java $JAVA_OPTS -jar build/libs/tool.jar"));
        assert_eq!(plan.asked_version(), Some("21"));
        // The version from gradle.properties; no name in the settings: the one jar in build/libs.
        assert_eq!(gradle_jar_name("", "rootProject.name=\"x\"", Some("version=2.0\n")).as_deref(), Some("x-2.0"));
        assert_eq!(gradle_jar_name("", "", Some("version=2.0\n")), None);
        assert_eq!(gradle_jar_name("bootJar { archiveFileName = 'app.jar' }", "rootProject.name='x'", None), None);
        assert_eq!(gradle_java("sourceCompatibility = JavaVersion.VERSION_1_8\n").as_deref(), Some("8"));
        assert_eq!(gradle_java("sourceCompatibility = '11'\n").as_deref(), Some("11"));
        assert_eq!(gradle_java("java.sourceCompatibility = JavaVersion.VERSION_17\n").as_deref(), Some("17"));
    }

    #[test]
    fn spring_boot_on_gradle_without_a_jar_name_makes_only_its_fat_jar() {
        // No settings.gradle: Gradle names the jar after the directory; the one jar in build/libs
        // runs, and the plain jar Spring Boot's plugin makes beside it is left out.
        let build =
            "plugins {\n\tid 'java'\n\tid 'org.springframework.boot' version '3.1.3'\n}\nversion = '0.0.1-SNAPSHOT'\n\
                     java {\n\tsourceCompatibility = '17'\n}\n";
        let dir = tree(&[("build.gradle", build)]);
        executable(dir.path(), "gradlew");
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!(plan.build.as_deref(), Some("./gradlew --no-daemon build -x check -x :jar"));
        assert_eq!(
            plan.start.as_deref(),
            Some("java -Dserver.port=$PORT -Dserver.address=127.0.0.1 $JAVA_OPTS -jar build/libs/*.jar")
        );
        assert_eq!(plan.asked_version(), Some("17"));
    }

    #[test]
    fn gradle_without_its_wrapper_is_refused_saying_what_to_do() {
        let dir = tree(&[("build.gradle", "plugins { id 'java' }\n")]);
        let err = detect_plan(dir.path()).expect_err("no wrapper");
        assert!(matches!(err, DetectError::CannotBuild { stack: Stack::Java, .. }), "{err:?}");
        let message = err.to_string();
        for words in ["java app (from build.gradle)", "Gradle wrapper (gradlew)", "gradle wrapper", "slipway.toml"] {
            assert!(message.contains(words), "{words:?} not in: {message}");
        }
        // Unless slipway.toml says how to build and start it.
        let dir = tree(&[
            ("build.gradle", "plugins { id 'java' }\n"),
            ("slipway.toml", "build = \"make jar\"\nstart = \"java -jar app.jar\"\n"),
        ]);
        let plan = detect_plan(dir.path()).expect("the app's own say");
        assert_eq!(plan.start.as_deref(), Some("java -jar app.jar"));
    }

    #[test]
    fn java_comes_before_node_and_a_procfile_still_wins() {
        let dir = tree(&[
            ("pom.xml", PLAIN_POM),
            ("package.json", r#"{"scripts": {"build": "webpack", "start": "node dev-server.js"}}"#),
            (
                "Procfile",
                "web: java -Xss512k -jar target/hello-1.0.0.jar\nworker: java -cp target/hello-1.0.0.jar Worker\n",
            ),
        ]);
        let plan = detect_plan(dir.path()).expect("plan");
        assert_eq!(plan.stack, Stack::Java);
        assert_eq!(plan.start.as_deref(), Some("java -Xss512k -jar target/hello-1.0.0.jar"));
        assert_eq!(plan.processes["worker"], "java -cp target/hello-1.0.0.jar Worker");
    }
}
