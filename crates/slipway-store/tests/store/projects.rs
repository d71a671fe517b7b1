//! Projects, environments and hostnames (unique across every tenant).

use std::collections::BTreeSet;

use slipway_core::api::{Project, RuntimeTarget};
use slipway_core::build_timeout::BuildTimeout;
use slipway_core::hostname::PublicUrls;
use slipway_core::names::{Branch, EnvironmentName, RepoUrl};
use slipway_core::ErrorCode;
use slipway_store::{NewProject, ProjectPatch};
use slipway_testkit::TestBackend;
use sqlx::Row;

use crate::support::*;

both_backends!(
    a_project_starts_with_a_production_environment_on_its_generated_hostname,
    colliding_generated_hostnames_across_tenants_are_refused_atomically,
    a_custom_domain_belongs_to_one_project_on_the_platform,
    project_slugs_are_unique_per_workspace_only,
    projects_page_in_creation_order_without_gaps_or_repeats,
    update_project_patches_only_what_it_names,
    a_projects_build_timeout_is_its_own_or_the_default_and_reaches_its_builds,
    deleted_projects_are_gone_and_free_their_hostnames,
    environments_are_created_protected_and_deleted,
    another_tenants_projects_cannot_be_reached_by_slug,
);

/// A project's state as one comparable value (the API types have no `Eq`).
fn snapshot(project: &Project) -> String {
    format!("{project:?}")
}

async fn a_project_starts_with_a_production_environment_on_its_generated_hostname(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let project = f
        .store
        .create_project(
            &f.actor,
            &ws,
            NewProject {
                repo_url: Some(RepoUrl::parse("https://git.example.com/acme/shop.git").unwrap()),
                branch: Branch::parse("trunk").unwrap(),
                ..new_project(&ws, "shop")
            },
        )
        .await
        .unwrap();

    assert_eq!(project.slug.as_str(), "shop");
    assert_eq!(project.workspace_id, ws.id);
    assert_eq!(project.workspace, ws.slug);
    assert_eq!(project.repo_url.as_deref(), Some("https://git.example.com/acme/shop.git"));
    assert_eq!(project.branch, "trunk");
    assert_eq!(project.url, "http://shop-acme.localhost");
    assert_eq!(project.environments.len(), 1);
    let production = &project.environments[0];
    assert!(production.name.is_production());
    assert_eq!(production.hostnames, ["shop-acme.localhost"]);
    assert_eq!(production.url, "http://shop-acme.localhost");
    assert_eq!(production.target, RuntimeTarget::Local);

    // Reading it back gives the same project.
    assert_eq!(snapshot(&f.store.project(&ws, &project_slug("shop")).await.unwrap()), snapshot(&project));

    // With a custom domain, the domain is the URL; generated hostname first.
    let store = f.store.clone().with_public_urls(PublicUrls { https: true, port: 8443 });
    let blog = store
        .create_project(
            &f.actor,
            &ws,
            NewProject { custom_domain: Some(custom_domain("Blog.Example.com")), ..new_project(&ws, "blog") },
        )
        .await
        .unwrap();
    assert_eq!(blog.url, "https://blog.example.com:8443");
    assert_eq!(blog.environments[0].hostnames, ["blog-acme.localhost", "blog.example.com"]);
}

async fn colliding_generated_hostnames_across_tenants_are_refused_atomically(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let c = f.workspace("c").await;
    let b_c = f.workspace_of(&f.user("mallory").await, "b-c").await;
    let taken = generated("c", "a-b", "production");
    assert_eq!(taken, generated("b-c", "a", "production"));
    assert_eq!(taken.as_str(), "a-b-c.localhost");

    let first = f.project(&c, "a-b").await;
    assert_eq!(first.environments[0].hostnames, [taken.to_string()]);
    let before = f.audit_rows().await;

    let second = f.store.create_project(&f.actor, &b_c, new_project(&b_c, "a")).await;
    assert_eq!(conflict(second), ErrorCode::HostnameTaken);

    assert!(f.store.list_projects(&b_c, &page(50, None)).await.unwrap().items.is_empty());
    assert_eq!(not_found(f.store.project(&b_c, &project_slug("a")).await), ErrorCode::ProjectNotFound);
    assert!(f.audit_rows_since(&before).await.is_empty());
    let trail = f.store.list_audit_events(&b_c.id, &page(50, None)).await.unwrap();
    let actions: Vec<_> = trail.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["workspace.create"], "no project.create for the refused project");

    // The slug itself was never taken: with another hostname it is accepted.
    let retry = f
        .store
        .create_project(
            &f.actor,
            &b_c,
            NewProject { generated_hostname: generated("b-c", "a", "staging"), ..new_project(&b_c, "a") },
        )
        .await
        .unwrap();
    assert_eq!(retry.slug.as_str(), "a");
    // And the first tenant's project kept its hostname.
    assert_eq!(snapshot(&f.store.project(&c, &project_slug("a-b")).await.unwrap()), snapshot(&first));
}

async fn a_custom_domain_belongs_to_one_project_on_the_platform(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let acme = f.workspace("acme").await;
    let globex = f.workspace_of(&f.user("globex-owner").await, "globex").await;
    let shop = f
        .store
        .create_project(
            &f.actor,
            &acme,
            NewProject { custom_domain: Some(custom_domain("shop.example.com")), ..new_project(&acme, "shop") },
        )
        .await
        .unwrap();
    assert_eq!(shop.url, "http://shop.example.com");

    // Creating another tenant's project on the same domain fails whole.
    let before = f.audit_rows().await;
    let copycat = f
        .store
        .create_project(
            &f.actor,
            &globex,
            NewProject { custom_domain: Some(custom_domain("shop.example.com")), ..new_project(&globex, "store") },
        )
        .await;
    assert_eq!(conflict(copycat), ErrorCode::HostnameTaken);
    assert!(f.audit_rows_since(&before).await.is_empty());
    assert!(f.store.list_projects(&globex, &page(50, None)).await.unwrap().items.is_empty());
    // Its generated hostname was rolled back with it: a retry without the domain gets it.
    let store = f.project(&globex, "store").await;
    assert_eq!(store.environments[0].hostnames, ["store-globex.localhost"]);

    // Moving a project onto a taken domain changes nothing at all.
    let own = f
        .store
        .update_project(
            &f.actor,
            &globex,
            &project_slug("store"),
            ProjectPatch { custom_domain: Some(Some(custom_domain("old.example.org"))), ..ProjectPatch::default() },
        )
        .await
        .unwrap();
    assert_eq!(own.url, "http://old.example.org");
    let before = f.audit_rows().await;
    let moved = f
        .store
        .update_project(
            &f.actor,
            &globex,
            &project_slug("store"),
            ProjectPatch {
                branch: Some(Branch::parse("other").unwrap()),
                custom_domain: Some(Some(custom_domain("shop.example.com"))),
                ..ProjectPatch::default()
            },
        )
        .await;
    assert_eq!(conflict(moved), ErrorCode::HostnameTaken);
    assert!(f.audit_rows_since(&before).await.is_empty());
    assert_eq!(snapshot(&f.store.project(&globex, &project_slug("store")).await.unwrap()), snapshot(&own));
    assert_eq!(snapshot(&f.store.project(&acme, &project_slug("shop")).await.unwrap()), snapshot(&shop));
    // The old domain is still held: nobody else can take it.
    let grab = f
        .store
        .update_project(
            &f.actor,
            &acme,
            &project_slug("shop"),
            ProjectPatch { custom_domain: Some(Some(custom_domain("old.example.org"))), ..ProjectPatch::default() },
        )
        .await;
    assert_eq!(conflict(grab), ErrorCode::HostnameTaken);
    assert_eq!(snapshot(&f.store.project(&acme, &project_slug("shop")).await.unwrap()), snapshot(&shop));

    // A new environment cannot take a hostname that is in use either.
    let env = f
        .store
        .create_environment(
            &f.actor,
            &globex,
            &project_slug("store"),
            &env_name("staging"),
            &generated("acme", "shop", "production"),
        )
        .await;
    assert_eq!(conflict(env), ErrorCode::HostnameTaken);
    assert_eq!(f.store.project(&globex, &project_slug("store")).await.unwrap().environments.len(), 1);
}

async fn project_slugs_are_unique_per_workspace_only(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let acme = f.workspace("acme").await;
    let globex = f.workspace("globex").await;
    let first = f.project(&acme, "web").await;
    let before = f.audit_rows().await;

    let again = f
        .store
        .create_project(
            &f.actor,
            &acme,
            NewProject {
                // A free hostname, so only the slug can clash.
                generated_hostname: generated("acme", "web", "other"),
                ..new_project(&acme, "web")
            },
        )
        .await;
    assert_eq!(conflict(again), ErrorCode::ProjectExists);
    assert!(f.audit_rows_since(&before).await.is_empty());
    assert_eq!(f.store.list_projects(&acme, &page(50, None)).await.unwrap().items.len(), 1);
    assert_eq!(snapshot(&f.store.project(&acme, &project_slug("web")).await.unwrap()), snapshot(&first));

    let elsewhere = f.project(&globex, "web").await;
    assert_eq!(elsewhere.workspace_id, globex.id);
    assert_ne!(elsewhere.id, first.id);
    assert_eq!(elsewhere.url, "http://web-globex.localhost");
    assert_eq!(first.url, "http://web-acme.localhost");
}

async fn projects_page_in_creation_order_without_gaps_or_repeats(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let other = f.workspace("other").await;
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(f.project(&ws, &format!("p{i:02}")).await.id);
        if i % 5 == 0 {
            // Interleaved rows of another tenant must not show up or shift pages.
            f.project(&other, &format!("q{i:02}")).await;
        }
    }

    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let listed = f.store.list_projects(&ws, &page(10, after.clone())).await.unwrap();
        sizes.push(listed.items.len());
        for project in &listed.items {
            assert_eq!(project.workspace_id, ws.id);
            assert_eq!(project.environments.len(), 1, "{}", project.slug);
            assert_eq!(project.url, format!("http://{}-acme.localhost", project.slug));
        }
        seen.extend(listed.items.iter().map(|p| p.id.clone()));
        match listed.next {
            Some(next) => {
                assert_eq!(Some(next.as_str()), listed.items.last().map(|p| p.id.as_str()));
                after = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(seen, created);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 25);

    // The same cursor gives the same page again.
    let second = f.store.list_projects(&ws, &page(10, Some(created[9].to_string()))).await.unwrap();
    let ids: Vec<_> = second.items.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids, created[10..20]);
    assert_eq!(second.next, Some(created[19].to_string()));
}

async fn update_project_patches_only_what_it_names(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let original = f.project(&ws, "shop").await;
    let generated_host = "shop-acme.localhost".to_owned();

    let shop = project_slug("shop");
    let patch = |patch: ProjectPatch| f.store.update_project(&f.actor, &ws, &shop, patch);

    // An empty patch changes nothing.
    let same = patch(ProjectPatch::default()).await.unwrap();
    assert_eq!(snapshot(&same), snapshot(&original));

    let branched = patch(ProjectPatch { branch: Some(Branch::parse("release/2").unwrap()), ..ProjectPatch::default() })
        .await
        .unwrap();
    assert_eq!(branched.branch, "release/2");
    assert_eq!(branched.repo_url, None);
    assert_eq!(branched.url, original.url);

    let repo = "git@github.com:acme/shop.git";
    let with_repo =
        patch(ProjectPatch { repo_url: Some(Some(RepoUrl::parse(repo).unwrap())), ..ProjectPatch::default() })
            .await
            .unwrap();
    assert_eq!(with_repo.repo_url.as_deref(), Some(repo));
    assert_eq!(with_repo.branch, "release/2", "untouched by a repo change");

    let with_domain =
        patch(ProjectPatch { custom_domain: Some(Some(custom_domain("shop.example.com"))), ..ProjectPatch::default() })
            .await
            .unwrap();
    assert_eq!(with_domain.url, "http://shop.example.com");
    assert_eq!(with_domain.environments[0].url, "http://shop.example.com");
    assert_eq!(with_domain.environments[0].hostnames, [generated_host.clone(), "shop.example.com".into()]);
    assert_eq!(with_domain.repo_url.as_deref(), Some(repo));

    // Setting the project's own domain again is no collision.
    let again =
        patch(ProjectPatch { custom_domain: Some(Some(custom_domain("shop.example.com"))), ..ProjectPatch::default() })
            .await
            .unwrap();
    assert_eq!(again.environments[0].hostnames, with_domain.environments[0].hostnames);

    // Replacing the domain frees the old one.
    let replaced =
        patch(ProjectPatch { custom_domain: Some(Some(custom_domain("www.example.net"))), ..ProjectPatch::default() })
            .await
            .unwrap();
    assert_eq!(replaced.url, "http://www.example.net");
    assert_eq!(replaced.environments[0].hostnames, [generated_host.clone(), "www.example.net".into()]);
    let other = f.workspace("other").await;
    let taker = f
        .store
        .create_project(
            &f.actor,
            &other,
            NewProject { custom_domain: Some(custom_domain("shop.example.com")), ..new_project(&other, "taker") },
        )
        .await
        .unwrap();
    assert_eq!(taker.url, "http://shop.example.com");

    let cleared = patch(ProjectPatch { repo_url: Some(None), custom_domain: Some(None), ..ProjectPatch::default() })
        .await
        .unwrap();
    assert_eq!(cleared.repo_url, None);
    assert_eq!(cleared.url, "http://shop-acme.localhost");
    assert_eq!(cleared.environments[0].hostnames, [generated_host]);
    assert_eq!(cleared.branch, "release/2");
    assert_eq!(snapshot(&f.store.project(&ws, &project_slug("shop")).await.unwrap()), snapshot(&cleared));

    let missing = f.store.update_project(&f.actor, &ws, &project_slug("nope"), ProjectPatch::default()).await;
    assert_eq!(not_found(missing), ErrorCode::ProjectNotFound);
}

async fn deleted_projects_are_gone_and_free_their_hostnames(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.store
        .create_project(
            &f.actor,
            &ws,
            NewProject { custom_domain: Some(custom_domain("shop.example.com")), ..new_project(&ws, "shop") },
        )
        .await
        .unwrap();
    f.store
        .create_environment(
            &f.actor,
            &ws,
            &project_slug("shop"),
            &env_name("staging"),
            &generated("acme", "shop", "staging"),
        )
        .await
        .unwrap();
    let kept = f.project(&ws, "kept").await;

    f.store.delete_project(&f.actor, &ws.id, &project_slug("shop")).await.unwrap();

    assert_eq!(not_found(f.store.project(&ws, &project_slug("shop")).await), ErrorCode::ProjectNotFound);
    assert_eq!(
        not_found(f.store.delete_project(&f.actor, &ws.id, &project_slug("shop")).await),
        ErrorCode::ProjectNotFound
    );
    assert_eq!(
        not_found(f.store.list_config(&ws.id, &project_slug("shop"), &env_name("production")).await),
        ErrorCode::ProjectNotFound
    );
    let left: Vec<_> = f.store.list_projects(&ws, &page(50, None)).await.unwrap().items;
    assert_eq!(left.len(), 1);
    assert_eq!(snapshot(&left[0]), snapshot(&kept));

    // All three hostnames went with it, even to another tenant.
    let other = f.workspace_of(&f.user("newcomer").await, "other").await;
    let reuse = f
        .store
        .create_project(
            &f.actor,
            &other,
            NewProject {
                generated_hostname: generated("acme", "shop", "staging"),
                custom_domain: Some(custom_domain("shop.example.com")),
                ..new_project(&other, "reuse")
            },
        )
        .await
        .unwrap();
    f.store
        .create_environment(
            &f.actor,
            &other,
            &project_slug("reuse"),
            &env_name("next"),
            &generated("acme", "shop", "production"),
        )
        .await
        .unwrap();
    assert_eq!(reuse.url, "http://shop.example.com");
}

async fn environments_are_created_protected_and_deleted(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    f.project(&ws, "shop").await;
    let staging_host = generated("acme", "shop", "staging");

    let staging = f
        .store
        .create_environment(&f.actor, &ws, &project_slug("shop"), &env_name("staging"), &staging_host)
        .await
        .unwrap();
    assert_eq!(staging.name.as_str(), "staging");
    assert_eq!(staging.hostnames, [staging_host.to_string()]);
    assert_eq!(staging.url, "http://shop-staging-acme.localhost");
    assert_eq!(staging.target, RuntimeTarget::Local);

    let before = f.audit_rows().await;
    let duplicate = f
        .store
        .create_environment(
            &f.actor,
            &ws,
            &project_slug("shop"),
            &env_name("staging"),
            &generated("acme", "shop", "staging2"),
        )
        .await;
    assert_eq!(conflict(duplicate), ErrorCode::EnvironmentExists);
    let production = f
        .store
        .create_environment(
            &f.actor,
            &ws,
            &project_slug("shop"),
            &EnvironmentName::production(),
            &generated("acme", "shop", "staging3"),
        )
        .await;
    assert_eq!(conflict(production), ErrorCode::EnvironmentExists);
    let no_project = f
        .store
        .create_environment(
            &f.actor,
            &ws,
            &project_slug("nope"),
            &env_name("staging"),
            &generated("acme", "nope", "staging"),
        )
        .await;
    assert_eq!(not_found(no_project), ErrorCode::ProjectNotFound);
    assert!(f.audit_rows_since(&before).await.is_empty());

    let project = f.store.project(&ws, &project_slug("shop")).await.unwrap();
    let names: Vec<_> = project.environments.iter().map(|e| e.name.to_string()).collect();
    assert_eq!(names, ["production", "staging"]);
    assert_eq!(project.url, "http://shop-acme.localhost", "the project URL is production's");

    assert_eq!(
        conflict(f.store.delete_environment(&f.actor, &ws.id, &project_slug("shop"), &env_name("production")).await),
        ErrorCode::EnvironmentProtected
    );
    assert_eq!(
        not_found(f.store.delete_environment(&f.actor, &ws.id, &project_slug("shop"), &env_name("qa")).await),
        ErrorCode::EnvironmentNotFound
    );
    assert_eq!(
        not_found(f.store.delete_environment(&f.actor, &ws.id, &project_slug("nope"), &env_name("staging")).await),
        ErrorCode::ProjectNotFound
    );
    assert!(f.audit_rows_since(&before).await.is_empty());

    f.store.delete_environment(&f.actor, &ws.id, &project_slug("shop"), &env_name("staging")).await.unwrap();
    let project = f.store.project(&ws, &project_slug("shop")).await.unwrap();
    assert_eq!(project.environments.len(), 1);
    assert!(project.environments[0].name.is_production());
    assert_eq!(
        not_found(f.store.delete_environment(&f.actor, &ws.id, &project_slug("shop"), &env_name("staging")).await),
        ErrorCode::EnvironmentNotFound
    );
    // The staging hostname is free again.
    let again = f
        .store
        .create_environment(&f.actor, &ws, &project_slug("shop"), &env_name("preview"), &staging_host)
        .await
        .unwrap();
    assert_eq!(again.hostnames, [staging_host.to_string()]);
}

async fn another_tenants_projects_cannot_be_reached_by_slug(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let acme = f.workspace("acme").await;
    let globex = f.workspace("globex").await;
    let secret = f.project(&acme, "secret").await;

    assert_eq!(not_found(f.store.project(&globex, &project_slug("secret")).await), ErrorCode::ProjectNotFound);
    assert!(f.store.list_projects(&globex, &page(50, None)).await.unwrap().items.is_empty());
    let update = f
        .store
        .update_project(
            &f.actor,
            &globex,
            &project_slug("secret"),
            ProjectPatch { branch: Some(Branch::parse("pwned").unwrap()), ..ProjectPatch::default() },
        )
        .await;
    assert_eq!(not_found(update), ErrorCode::ProjectNotFound);
    assert_eq!(
        not_found(f.store.delete_project(&f.actor, &globex.id, &project_slug("secret")).await),
        ErrorCode::ProjectNotFound
    );
    assert_eq!(
        not_found(
            f.store.delete_environment(&f.actor, &globex.id, &project_slug("secret"), &env_name("production")).await
        ),
        ErrorCode::ProjectNotFound
    );
    assert_eq!(
        not_found(f.store.list_config(&globex.id, &project_slug("secret"), &env_name("production")).await),
        ErrorCode::ProjectNotFound
    );
    assert_eq!(snapshot(&f.store.project(&acme, &project_slug("secret")).await.unwrap()), snapshot(&secret));
}

async fn a_projects_build_timeout_is_its_own_or_the_default_and_reaches_its_builds(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let original = f.project(&ws, "web").await;
    assert_eq!(original.build_timeout, BuildTimeout::DEFAULT.as_secs());
    assert_eq!(original.build_timeout, 15 * 60);
    let web = project_slug("web");
    let set = |timeout: Option<BuildTimeout>| {
        let patch = ProjectPatch { build_timeout: Some(timeout), ..ProjectPatch::default() };
        f.store.update_project(&f.actor, &ws, &web, patch)
    };

    let two_hours = BuildTimeout::from_secs(BuildTimeout::MAX_SECS).unwrap();
    let longer = set(Some(two_hours)).await.unwrap();
    assert_eq!(longer.build_timeout, 7200);
    assert_eq!(longer.branch, original.branch, "nothing else changes");
    assert_eq!(longer.environments[0].hostnames, original.environments[0].hostnames);
    let d = queue(&f, &ws, "production", None).await;
    assert_eq!(f.store.deployment_context(&ws.id, &d.id).await.unwrap().build_timeout, two_hours);
    // Another patch leaves it alone.
    let branched = f
        .store
        .update_project(
            &f.actor,
            &ws,
            &web,
            ProjectPatch { branch: Some(Branch::parse("develop").unwrap()), ..ProjectPatch::default() },
        )
        .await
        .unwrap();
    assert_eq!(branched.build_timeout, 7200);

    // Back to the default.
    let reset = set(None).await.unwrap();
    assert_eq!(reset.build_timeout, BuildTimeout::DEFAULT.as_secs());
    assert_eq!(f.store.deployment_context(&ws.id, &d.id).await.unwrap().build_timeout, BuildTimeout::DEFAULT);
    let mut tx = f.raw_platform().await;
    let row = sqlx::query("SELECT build_timeout_seconds FROM projects WHERE id = $1")
        .bind(original.id.as_str())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(row.get::<Option<i64>, _>(0), None, "the default is stored as NULL, so it follows the platform's");

    // The schema refuses what the type would: a figure out of range never gets stored.
    for seconds in [0_i64, 59, 7201, -1] {
        let refused = sqlx::query("UPDATE projects SET build_timeout_seconds = $1 WHERE id = $2")
            .bind(seconds)
            .bind(original.id.as_str())
            .execute(&mut *tx)
            .await;
        assert!(refused.is_err(), "{seconds} s was stored");
        // On PostgreSQL the failed statement ends the transaction: start another.
        drop(tx);
        tx = f.raw_platform().await;
    }
}
