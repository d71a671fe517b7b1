//! Workspaces (tenants) and their members.

use slipway_core::role::Role;
use slipway_core::ErrorCode;
use slipway_testkit::TestBackend;

use crate::support::*;

both_backends!(
    a_duplicate_workspace_slug_is_refused_and_leaves_nothing,
    access_hides_other_tenants_and_admins_act_as_owner,
    list_workspaces_shows_memberships_or_everything_to_admins,
    deleting_a_workspace_removes_its_projects_but_keeps_its_audit_trail,
    members_can_be_added_changed_and_removed,
    the_last_owner_can_neither_be_demoted_nor_removed,
    two_owners_demoting_each_other_at_once_leave_one_owner,
);

async fn a_duplicate_workspace_slug_is_refused_and_leaves_nothing(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let first = f.workspace("acme").await;
    let intruder = f.user("intruder").await;
    let before = f.audit_rows().await;

    let again = f.store.create_workspace(&actor_for(&intruder), &intruder.id, &ws_slug("acme"), "Acme 2").await;
    assert_eq!(conflict(again), ErrorCode::WorkspaceExists);

    assert!(f.audit_rows_since(&before).await.is_empty());
    let intruders = f.store.list_workspaces(&intruder, &page(50, None)).await.unwrap();
    assert!(intruders.items.is_empty(), "{:?}", intruders.items);
    let access = f.store.access(&ws_slug("acme"), &f.owner).await.unwrap();
    assert_eq!(access.workspace.id, first.id);
    assert_eq!(access.workspace.name, "acme");
    assert_eq!(f.store.list_members(&first.id).await.unwrap().len(), 1);
}

async fn access_hides_other_tenants_and_admins_act_as_owner(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let acme = f.workspace("acme").await;
    let stranger = f.user("stranger").await;
    let admin = f.admin("root").await;

    let own = f.store.access(&ws_slug("acme"), &f.owner).await.unwrap();
    assert_eq!((own.id(), own.role), (&acme.id, Role::Owner));

    let hidden = not_found(f.store.access(&ws_slug("acme"), &stranger).await);
    let missing = not_found(f.store.access(&ws_slug("no-such-workspace"), &stranger).await);
    assert_eq!(hidden, ErrorCode::WorkspaceNotFound);
    assert_eq!(missing, hidden, "a hidden workspace must look like a missing one");

    let admin_access = f.store.access(&ws_slug("acme"), &admin).await.unwrap();
    assert_eq!(admin_access.id(), &acme.id);
    assert_eq!(admin_access.role, Role::Owner);
    assert_eq!(admin_access.workspace.role, None, "the admin is not a member");
    assert!(f.store.list_members(&acme.id).await.unwrap().iter().all(|m| m.user_id != admin.id));
    assert_eq!(not_found(f.store.access(&ws_slug("no-such-workspace"), &admin).await), ErrorCode::WorkspaceNotFound);

    // A member's access carries their own role, not owner.
    f.store.add_member(&f.actor, &acme.id, &stranger, Role::Viewer).await.unwrap();
    let viewer = f.store.access(&ws_slug("acme"), &stranger).await.unwrap();
    assert_eq!(viewer.role, Role::Viewer);
    assert_eq!(viewer.workspace.role, Some(Role::Viewer));
}

async fn list_workspaces_shows_memberships_or_everything_to_admins(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let bob = f.user("bob").await;
    let admin = f.admin("root").await;
    let mut all = Vec::new();
    for slug in ["w1", "w2", "w3", "w4", "w5"] {
        all.push(f.workspace(slug).await);
    }
    let bobs = f.workspace_of(&bob, "bobs").await;
    all.push(bobs.clone());
    f.store.add_member(&f.actor, &all[1].id, &bob, Role::Developer).await.unwrap();

    let listed = f.store.list_workspaces(&bob, &page(50, None)).await.unwrap();
    let seen: Vec<_> = listed.items.iter().map(|w| (w.slug.to_string(), w.role)).collect();
    assert_eq!(seen, [("w2".to_owned(), Some(Role::Developer)), ("bobs".to_owned(), Some(Role::Owner))]);
    assert_eq!(listed.next, None);

    // The admin sees every workspace, page by page, in creation order.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let listed = f.store.list_workspaces(&admin, &page(4, after)).await.unwrap();
        pages.push(listed.items.iter().map(|w| w.id.clone()).collect::<Vec<_>>());
        after = listed.next;
        if after.is_none() {
            break;
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 2]);
    let expected: Vec<_> = all.iter().map(|w| w.id.clone()).collect();
    assert_eq!(pages.concat(), expected);

    let owners = f.store.list_workspaces(&f.owner, &page(50, None)).await.unwrap();
    assert_eq!(owners.items.len(), 5, "owner is not a member of `bobs`");
}

async fn deleting_a_workspace_removes_its_projects_but_keeps_its_audit_trail(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let doomed = f.workspace("doomed").await;
    let other = f.workspace("other").await;
    f.project(&doomed, "web").await;
    f.project(&doomed, "api").await;
    f.project(&other, "web").await;
    let trail_before = f.store.list_audit_events(&doomed.id, &page(50, None)).await.unwrap();
    assert_eq!(trail_before.items.len(), 3);

    f.store.delete_workspace(&f.actor, &doomed).await.unwrap();

    assert_eq!(not_found(f.store.access(&ws_slug("doomed"), &f.owner).await), ErrorCode::WorkspaceNotFound);
    assert_eq!(not_found(f.store.project(&doomed, &project_slug("web")).await), ErrorCode::ProjectNotFound);
    assert!(f.store.list_projects(&doomed, &page(50, None)).await.unwrap().items.is_empty());
    assert!(f.store.list_members(&doomed.id).await.unwrap().is_empty());

    let trail = f.store.list_audit_events(&doomed.id, &page(50, None)).await.unwrap();
    let actions: Vec<_> = trail.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["workspace.delete", "project.create", "project.create", "workspace.create"]);

    // The other tenant is untouched; the slug and the hostnames are free again.
    assert_eq!(f.store.project(&other, &project_slug("web")).await.unwrap().slug.as_str(), "web");
    let reborn = f.workspace("doomed").await;
    assert_ne!(reborn.id, doomed.id);
    let web = f.project(&reborn, "web").await;
    assert_eq!(web.environments[0].hostnames, [generated("doomed", "web", "production").to_string()]);
}

async fn two_owners_demoting_each_other_at_once_leave_one_owner(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let carol = f.user("carol").await;
    f.store.add_member(&f.actor, &ws.id, &carol, Role::Owner).await.unwrap();

    // Several rounds, since a race shows only when both counts run first.
    for round in 0..10 {
        let members = f.store.list_members(&ws.id).await.unwrap();
        assert!(members.iter().all(|m| m.role == Role::Owner), "{members:?}");
        let demotions: Vec<_> = members
            .into_iter()
            .map(|member| {
                let (store, actor, id) = (f.store.clone(), f.actor.clone(), ws.id.clone());
                tokio::spawn(async move { store.change_member_role(&actor, &id, &member, Role::Admin).await })
            })
            .collect();
        let mut demoted = Vec::new();
        for demotion in demotions {
            match demotion.await.unwrap() {
                Ok(member) => demoted.push(member),
                refused => assert_eq!(conflict(refused), ErrorCode::LastOwner),
            }
        }
        assert_eq!(demoted.len(), 1, "round {round}: exactly one demotion wins");
        let owners = f.store.list_members(&ws.id).await.unwrap();
        let owners = owners.iter().filter(|m| m.role == Role::Owner).count();
        assert_eq!(owners, 1, "round {round}");
        f.store.change_member_role(&f.actor, &ws.id, &demoted[0], Role::Owner).await.unwrap();
    }
}

async fn members_can_be_added_changed_and_removed(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let bob = f.user("bob").await;

    let added = f.store.add_member(&f.actor, &ws.id, &bob, Role::Developer).await.unwrap();
    assert_eq!((added.user_id.clone(), added.role), (bob.id.clone(), Role::Developer));
    assert_eq!(conflict(f.store.add_member(&f.actor, &ws.id, &bob, Role::Admin).await), ErrorCode::MemberExists);
    let member = f.store.member(&ws.id, &bob.username).await.unwrap();
    assert_eq!(member.role, Role::Developer, "the duplicate add changed nothing");

    let changed = f.store.change_member_role(&f.actor, &ws.id, &member, Role::Admin).await.unwrap();
    assert_eq!(changed.role, Role::Admin);
    assert_eq!(f.store.member(&ws.id, &bob.username).await.unwrap().role, Role::Admin);
    let roles: Vec<_> =
        f.store.list_members(&ws.id).await.unwrap().into_iter().map(|m| (m.username.to_string(), m.role)).collect();
    assert_eq!(roles, [("bob".to_owned(), Role::Admin), ("owner".to_owned(), Role::Owner)]);

    f.store.remove_member(&f.actor, &ws.id, &changed).await.unwrap();
    assert_eq!(not_found(f.store.member(&ws.id, &bob.username).await), ErrorCode::MemberNotFound);
    assert_eq!(not_found(f.store.remove_member(&f.actor, &ws.id, &changed).await), ErrorCode::MemberNotFound);
    assert_eq!(
        not_found(f.store.change_member_role(&f.actor, &ws.id, &changed, Role::Viewer).await),
        ErrorCode::MemberNotFound
    );
    assert_eq!(not_found(f.store.access(&ws_slug("acme"), &bob).await), ErrorCode::WorkspaceNotFound);

    // Membership is per workspace: bob in acme says nothing about other.
    let other = f.workspace("other").await;
    f.store.add_member(&f.actor, &ws.id, &bob, Role::Viewer).await.unwrap();
    assert_eq!(not_found(f.store.member(&other.id, &bob.username).await), ErrorCode::MemberNotFound);
}

async fn the_last_owner_can_neither_be_demoted_nor_removed(backend: TestBackend) {
    let f = Fixture::new(backend).await;
    let ws = f.workspace("acme").await;
    let carol = f.user("carol").await;
    let sole = f.store.member(&ws.id, &f.owner.username).await.unwrap();
    assert_eq!(sole.role, Role::Owner);
    let before = f.audit_rows().await;

    for role in [Role::Admin, Role::Developer, Role::Viewer] {
        let demoted = f.store.change_member_role(&f.actor, &ws.id, &sole, role).await;
        assert_eq!(conflict(demoted), ErrorCode::LastOwner);
    }
    assert_eq!(conflict(f.store.remove_member(&f.actor, &ws.id, &sole).await), ErrorCode::LastOwner);
    assert_eq!(f.store.member(&ws.id, &f.owner.username).await.unwrap().role, Role::Owner);
    assert!(f.audit_rows_since(&before).await.is_empty());
    // An owner may be "changed" to owner: nothing is lost.
    f.store.change_member_role(&f.actor, &ws.id, &sole, Role::Owner).await.unwrap();

    // With a second owner, either may step down or leave, until one is left.
    let carol_member = f.store.add_member(&f.actor, &ws.id, &carol, Role::Owner).await.unwrap();
    let demoted = f.store.change_member_role(&f.actor, &ws.id, &carol_member, Role::Admin).await.unwrap();
    assert_eq!(demoted.role, Role::Admin);
    let carol_member = f.store.change_member_role(&f.actor, &ws.id, &demoted, Role::Owner).await.unwrap();
    f.store.remove_member(&f.actor, &ws.id, &sole).await.unwrap();
    let members = f.store.list_members(&ws.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!((members[0].user_id.clone(), members[0].role), (carol.id.clone(), Role::Owner));
    assert_eq!(conflict(f.store.remove_member(&f.actor, &ws.id, &carol_member).await), ErrorCode::LastOwner);
    assert_eq!(
        conflict(f.store.change_member_role(&f.actor, &ws.id, &carol_member, Role::Viewer).await),
        ErrorCode::LastOwner
    );
    assert_eq!(f.store.list_members(&ws.id).await.unwrap().len(), 1);
}
