//! The audit log: one row per mutating call, written with the change, never
//! carrying a config var's value.

use slipway_core::api::{TokenKind, User};
use slipway_core::ids::WorkspaceId;
use slipway_core::names::{Branch, ConfigVarName};
use slipway_core::role::Role;
use slipway_store::{Actor, NewProject, ProjectPatch};
use slipway_testkit::TestBackend;

use crate::support::*;

both_backends!(every_mutating_call_writes_exactly_one_audit_row, audit_events_list_newest_first_page_by_page,);

/// Values that must never reach the audit log.
const SECRET_VALUE: &str = "super-secret-value-4711";
const PLAIN_VALUE: &str = "plain-value-0815";

/// Checks the audit rows written since the last check.
struct AuditCheck<'a> {
    f: &'a Fixture,
    actor: &'a User,
    seen: Vec<AuditRow>,
}

impl<'a> AuditCheck<'a> {
    async fn start(f: &'a Fixture, actor: &'a User) -> Self {
        let seen = f.audit_rows().await;
        Self { f, actor, seen }
    }

    /// Exactly one new row, by `self.actor`, saying this.
    async fn expect(&mut self, action: &str, target: &str, workspace: Option<&WorkspaceId>) {
        let rows = self.f.audit_rows_since(&self.seen).await;
        assert_eq!(rows.len(), 1, "{action}: expected one audit row, got {rows:?}");
        let row = &rows[0];
        assert_eq!(
            (row.action.as_str(), row.target.as_str(), row.workspace_id.as_deref()),
            (action, target, workspace.map(WorkspaceId::as_str)),
        );
        assert_eq!(row.actor_id.as_deref(), Some(self.actor.id.as_str()), "{action}");
        assert_eq!(row.actor, self.actor.username.as_str(), "{action}");
        assert_eq!(row.request_id, "req-audit", "{action}");
        self.seen.extend(rows);
    }

    /// No new row (the call failed).
    async fn expect_none(&mut self) {
        let rows = self.f.audit_rows_since(&self.seen).await;
        assert!(rows.is_empty(), "a failed call left audit rows: {rows:?}");
    }
}

async fn every_mutating_call_writes_exactly_one_audit_row(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let alice = f.user("alice").await;
    let bob = f.user("bob").await;
    let actor = Actor { request_id: "req-audit".into(), ..actor_for(&alice) };
    let store = &f.store;
    let mut audit = AuditCheck::start(&f, &alice).await;

    // Platform-level rows: users and tokens belong to no workspace.
    let carol = create_user_as(&f, &actor, "carol").await;
    assert_eq!(carol.username.as_str(), "carol");
    audit.expect("user.create", "user/carol", None).await;
    let personal = store.create_token(&actor, &alice.id, "ci", TokenKind::Personal, None).await.unwrap();
    audit.expect("token.create", &format!("token/{}", personal.id), None).await;
    let session = store.create_token(&actor, &alice.id, "web", TokenKind::Session, None).await.unwrap();
    audit.expect("auth.login", &format!("token/{}", session.id), None).await;
    store.revoke_token(&actor, &alice.id, &personal.id).await.unwrap();
    audit.expect("token.revoke", &format!("token/{}", personal.id), None).await;
    assert!(store.revoke_token(&actor, &alice.id, &personal.id).await.is_err());
    audit.expect_none().await;

    // Workspace rows.
    let ws = store.create_workspace(&actor, &alice.id, &ws_slug("acme"), "Acme").await.unwrap();
    let id = Some(&ws.id);
    audit.expect("workspace.create", "workspace/acme", id).await;
    assert!(store.create_workspace(&actor, &bob.id, &ws_slug("acme"), "Again").await.is_err());
    audit.expect_none().await;

    let member = store.add_member(&actor, &ws.id, &bob, Role::Developer).await.unwrap();
    audit.expect("member.add", "member/bob:developer", id).await;
    let member = store.change_member_role(&actor, &ws.id, &member, Role::Admin).await.unwrap();
    audit.expect("member.role", "member/bob:admin", id).await;
    store.remove_member(&actor, &ws.id, &member).await.unwrap();
    audit.expect("member.remove", "member/bob", id).await;
    let sole = store.member(&ws.id, &alice.username).await.unwrap();
    assert!(store.remove_member(&actor, &ws.id, &sole).await.is_err());
    audit.expect_none().await;

    store
        .create_project(
            &actor,
            &ws,
            NewProject { custom_domain: Some(custom_domain("shop.example.com")), ..new_project(&ws, "shop") },
        )
        .await
        .unwrap();
    audit.expect("project.create", "project/shop", id).await;
    assert!(store.create_project(&actor, &ws, new_project(&ws, "shop")).await.is_err());
    audit.expect_none().await;
    let patch = ProjectPatch { branch: Some(Branch::parse("develop").unwrap()), ..ProjectPatch::default() };
    store.update_project(&actor, &ws, &project_slug("shop"), patch).await.unwrap();
    audit.expect("project.update", "project/shop", id).await;
    store
        .create_environment(
            &actor,
            &ws,
            &project_slug("shop"),
            &env_name("staging"),
            &generated("acme", "shop", "staging"),
        )
        .await
        .unwrap();
    audit.expect("environment.create", "project/shop/staging", id).await;

    let secret = [(ConfigVarName::parse("DATABASE_URL").unwrap(), SECRET_VALUE.to_owned())];
    store.set_config(&actor, &ws.id, &project_slug("shop"), &env_name("production"), &secret, true).await.unwrap();
    audit.expect("config.set", "project/shop/production/config:DATABASE_URL", id).await;
    let plain = [
        (ConfigVarName::parse("A_VAR").unwrap(), PLAIN_VALUE.to_owned()),
        (ConfigVarName::parse("B_VAR").unwrap(), PLAIN_VALUE.to_owned()),
    ];
    store.set_config(&actor, &ws.id, &project_slug("shop"), &env_name("staging"), &plain, false).await.unwrap();
    audit.expect("config.set", "project/shop/staging/config:A_VAR,B_VAR", id).await;
    let names = [plain[0].0.clone()];
    store.unset_config(&actor, &ws.id, &project_slug("shop"), &env_name("staging"), &names).await.unwrap();
    audit.expect("config.unset", "project/shop/staging/config:A_VAR", id).await;
    assert!(store.unset_config(&actor, &ws.id, &project_slug("shop"), &env_name("staging"), &names).await.is_err());
    audit.expect_none().await;

    let deployment =
        store.create_deployment(&actor, &ws.id, &project_slug("shop"), &env_name("production"), None).await.unwrap();
    audit.expect("deployment.create", &format!("project/shop/production#{}", deployment.number), id).await;

    store.delete_environment(&actor, &ws.id, &project_slug("shop"), &env_name("staging")).await.unwrap();
    audit.expect("environment.delete", "project/shop/staging", id).await;
    store.delete_project(&actor, &ws.id, &project_slug("shop")).await.unwrap();
    audit.expect("project.delete", "project/shop", id).await;
    store.delete_workspace(&actor, &ws).await.unwrap();
    audit.expect("workspace.delete", "workspace/acme", id).await;

    // No row, through the API or under it, carries a config value.
    let rows = f.audit_rows().await;
    // Three users set up by the fixture, four platform rows and fourteen of acme's.
    assert_eq!(rows.len(), 3 + 4 + 14, "{rows:?}");
    for row in &rows {
        let text = format!("{row:?}");
        assert!(!text.contains(SECRET_VALUE) && !text.contains(PLAIN_VALUE), "{text}");
    }
    let events = store.list_audit_events(&ws.id, &page(100, None)).await.unwrap();
    assert_eq!(events.items.len(), 14);
    for event in &events.items {
        let text = format!("{event:?}");
        assert!(!text.contains(SECRET_VALUE) && !text.contains(PLAIN_VALUE), "{text}");
    }
}

async fn create_user_as(f: &Fixture, actor: &Actor, username: &str) -> User {
    f.store
        .create_user(
            actor,
            slipway_store::NewUser {
                username: slipway_core::names::Username::parse(username).unwrap(),
                email: None,
                password_hash: "not-a-real-hash".into(),
                is_admin: false,
            },
        )
        .await
        .unwrap()
}

async fn audit_events_list_newest_first_page_by_page(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let other = f.workspace("other").await;
    for i in 0..6 {
        f.project(&ws, &format!("p{i}")).await;
        f.project(&other, &format!("p{i}")).await;
    }
    f.store.delete_project(&f.actor, &ws.id, &project_slug("p0")).await.unwrap();

    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let listed = f.store.list_audit_events(&ws.id, &page(3, after)).await.unwrap();
        pages.push(listed.items);
        after = listed.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 2]);
    let events: Vec<_> = pages.concat();
    let ids: Vec<_> = events.iter().map(|e| e.id.to_string()).collect();
    let mut expected: Vec<_> = f
        .audit_rows()
        .await
        .into_iter()
        .filter(|row| row.workspace_id.as_deref() == Some(ws.id.as_str()))
        .map(|row| row.id)
        .collect();
    expected.reverse();
    assert_eq!(ids, expected, "newest first, every event once, none of `other`'s");
    let actions: Vec<_> = events.iter().map(|e| (e.action.as_str(), e.target.as_str())).collect();
    assert_eq!(actions[0], ("project.delete", "project/p0"));
    assert_eq!(actions[1], ("project.create", "project/p5"));
    assert_eq!(actions[7], ("workspace.create", "workspace/acme"));
    for event in &events {
        assert_eq!(event.actor, "owner");
        assert_eq!(event.actor_id.as_ref(), Some(&f.owner.id));
        assert_eq!(event.request_id, "req-owner");
    }
}
