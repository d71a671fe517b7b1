//! The rollout rules on objects shaped like the ones a cluster returns
//! (fields as in `kubectl get -o json` of Argo CD 2.x/3.x and Kubernetes 1.33).
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use slipway_cluster::{verdict, Expected, Observation, Verdict};

const REVISION: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
/// A later commit of the branch (another app's deployment), which includes `REVISION`.
const LATER: &str = "5555555555555555555555555555555555555555";
const IMAGE: &str = "registry.example.com/slipway/acme/web:usr_1-7-abc@sha256:0123";

fn expected() -> Expected {
    Expected {
        argocd_namespace: "argocd".into(),
        application: "acme-web-production".into(),
        namespace: "acme-web-production".into(),
        revision: REVISION.into(),
        image: IMAGE.into(),
    }
}

fn application(sync: &str, revision: &str, health: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "acme-web-production", "namespace": "argocd"},
        "status": {
            "sync": {"status": sync, "revision": revision},
            "health": {"status": health},
            "operationState": {"phase": "Succeeded", "message": "successfully synced", "syncResult": {"revision": revision}}
        }
    })
}

fn deployment(name: &str, image: &str, replicas: i32, updated: i32, available: i32, total: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "acme-web-production", "generation": 4},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"slipway.dev/process": name}},
            "template": {"metadata": {"labels": {"slipway.dev/process": name}}, "spec": {"containers": [{"name": name, "image": image}]}}
        },
        "status": {"observedGeneration": 4, "replicas": total, "updatedReplicas": updated, "availableReplicas": available,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]}
    })
}

fn pod(process: &str, waiting: &str, message: &str, restarts: i32) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{process}-7c9d-x2x"), "labels": {"slipway.dev/process": process}},
        "spec": {"containers": [{"name": process, "image": IMAGE}]},
        "status": {"containerStatuses": [{
            "name": process, "image": IMAGE, "imageID": "", "ready": false, "restartCount": restarts,
            "state": {"waiting": {"reason": waiting, "message": message}}
        }]}
    })
}

fn observe(application: Option<Value>, deployments: Vec<Value>, pods: Vec<Value>) -> Observation {
    Observation {
        application: application.map(|app| serde_json::from_value(app).unwrap()),
        deployments: deployments.into_iter().map(|d| serde_json::from_value(d).unwrap()).collect(),
        pods: pods.into_iter().map(|p| serde_json::from_value(p).unwrap()).collect(),
    }
}

fn verdict_of(seen: &Observation) -> Verdict {
    verdict(&expected(), seen, |revision| revision == REVISION || revision == LATER)
}

fn waiting_for(verdict: Verdict, expected: &str) {
    match verdict {
        Verdict::Waiting(text) => assert!(text.contains(expected), "`{text}` lacks `{expected}`"),
        other => panic!("expected waiting for `{expected}`, got {other:?}"),
    }
}

fn failed_with(verdict: Verdict, expected: &str) {
    match verdict {
        Verdict::Failed(text) => assert!(text.contains(expected), "`{text}` lacks `{expected}`"),
        other => panic!("expected a failure with `{expected}`, got {other:?}"),
    }
}

#[test]
fn live_when_synced_healthy_and_rolled_out() {
    let seen = observe(
        Some(application("Synced", REVISION, "Healthy")),
        vec![deployment("web", IMAGE, 2, 2, 2, 2), deployment("worker", IMAGE, 1, 1, 1, 1)],
        vec![],
    );
    assert_eq!(verdict_of(&seen), Verdict::Live);
}

#[test]
fn a_later_commit_of_the_branch_counts() {
    let seen =
        observe(Some(application("Synced", LATER, "Healthy")), vec![deployment("web", IMAGE, 1, 1, 1, 1)], vec![]);
    assert_eq!(verdict_of(&seen), Verdict::Live);
}

#[test]
fn an_app_without_deployments_is_live_on_argo_health() {
    let seen = observe(Some(application("Synced", REVISION, "Healthy")), vec![], vec![]);
    assert_eq!(verdict_of(&seen), Verdict::Live);
}

#[test]
fn waits_for_the_application_the_revision_and_the_sync() {
    waiting_for(verdict_of(&observe(None, vec![], vec![])), "no Application `acme-web-production`");
    let older = application("Synced", "0000000000000000000000000000000000000000", "Healthy");
    waiting_for(verdict_of(&observe(Some(older), vec![], vec![])), "waiting for 4b825dc642cb");
    let mut comparing = application("OutOfSync", "1111111111111111111111111111111111111111", "Healthy");
    comparing["status"]["conditions"] = json!([{"type": "ComparisonError", "message": "repository not accessible"}]);
    waiting_for(verdict_of(&observe(Some(comparing), vec![], vec![])), "ComparisonError: repository not accessible");
    let syncing = application("OutOfSync", REVISION, "Healthy");
    waiting_for(verdict_of(&observe(Some(syncing), vec![], vec![])), "syncing (OutOfSync)");
}

#[test]
fn any_revision_the_cluster_reports_is_shortened_without_panicking() {
    // 11 ASCII characters and a 3-byte one: byte 12 falls inside `€`.
    for (revision, shown) in
        [("abcdefghijk€xyz", "abcdefghijk€"), ("ab", "ab"), ("", "Argo CD is at "), ("ééééééééééééé", "éééééééééééé")]
    {
        let seen = observe(Some(application("Synced", revision, "Healthy")), vec![], vec![]);
        waiting_for(verdict_of(&seen), shown);
    }
    let mut odd = expected();
    odd.revision = "€€€€€€€€€€€€€€".into();
    let seen = observe(Some(application("Synced", "ab", "Healthy")), vec![], vec![]);
    waiting_for(verdict(&odd, &seen, |revision| revision == "x"), "waiting for €€€€€€€€€€€€");
}

#[test]
fn waits_for_every_deployment_to_roll_out() {
    let app = || Some(application("Synced", REVISION, "Progressing"));
    let old_image = deployment("web", "registry.example.com/slipway/acme/web:old@sha256:9", 2, 2, 2, 2);
    waiting_for(verdict_of(&observe(app(), vec![old_image], vec![])), "web does not run the new image");
    let mut unobserved = deployment("web", IMAGE, 2, 2, 2, 2);
    unobserved["status"]["observedGeneration"] = json!(3);
    waiting_for(verdict_of(&observe(app(), vec![unobserved], vec![])), "not observed yet");
    let halfway = deployment("web", IMAGE, 2, 1, 2, 3);
    waiting_for(verdict_of(&observe(app(), vec![halfway], vec![])), "1 of 2 pods updated");
    let terminating = deployment("web", IMAGE, 2, 2, 2, 3);
    waiting_for(verdict_of(&observe(app(), vec![terminating], vec![])), "1 old pods still terminating");
    let starting = deployment("web", IMAGE, 2, 2, 1, 2);
    waiting_for(verdict_of(&observe(app(), vec![starting], vec![])), "1 of 2 pods available");
    let rolled_out = deployment("web", IMAGE, 2, 2, 2, 2);
    waiting_for(verdict_of(&observe(app(), vec![rolled_out], vec![])), "reports the app Progressing");
}

#[test]
fn fails_on_what_waiting_cannot_fix() {
    let app = || Some(application("Synced", REVISION, "Progressing"));
    let web = || vec![deployment("web", IMAGE, 1, 1, 0, 1)];
    let pull = pod("web", "ImagePullBackOff", "Back-off pulling image", 0);
    failed_with(
        verdict_of(&observe(app(), web(), vec![pull])),
        "cannot start: ImagePullBackOff Back-off pulling image",
    );
    let secret = pod("web", "CreateContainerConfigError", "secret \"web-secrets\" not found", 0);
    failed_with(verdict_of(&observe(app(), web(), vec![secret])), "secret \"web-secrets\" not found");
    let crashing = pod("web", "CrashLoopBackOff", "back-off 40s restarting failed container", 3);
    failed_with(verdict_of(&observe(app(), web(), vec![crashing])), "keeps crashing (restarted 3 times)");
    // One crash is not yet a loop, and a pod of another process does not count for `web`.
    let once = pod("web", "CrashLoopBackOff", "back-off 10s", 1);
    waiting_for(verdict_of(&observe(app(), web(), vec![once])), "0 of 1 pods available");
    let other = pod("worker", "ImagePullBackOff", "", 0);
    waiting_for(verdict_of(&observe(app(), web(), vec![other])), "0 of 1 pods available");

    let mut deadline = deployment("web", IMAGE, 1, 1, 0, 1);
    deadline["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet \"web-7c9d\" has timed out progressing."}]);
    failed_with(verdict_of(&observe(app(), vec![deadline], vec![])), "timed out progressing");

    let degraded = json!({"status": {"sync": {"status": "Synced", "revision": REVISION},
        "health": {"status": "Degraded", "message": "Deployment \"web\" exceeded its progress deadline"}}});
    failed_with(verdict_of(&observe(Some(degraded), vec![], vec![])), "Degraded: Deployment \"web\" exceeded");

    let mut sync_failed = application("OutOfSync", "1111111111111111111111111111111111111111", "Healthy");
    sync_failed["status"]["operationState"] = json!({"phase": "Failed",
        "message": "one or more objects failed to apply: admission webhook denied", "syncResult": {"revision": REVISION}});
    failed_with(verdict_of(&observe(Some(sync_failed), vec![], vec![])), "could not sync it: one or more objects");
}
