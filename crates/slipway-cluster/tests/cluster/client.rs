//! The read-only client against the stand-in API server (`slipway_testkit::cluster` says why a
//! stand-in): kubeconfig credentials over real TLS, errors a user can act on, and the
//! observation the verdict is made from.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use slipway_cluster::{verdict, Cluster, ClusterAccess, ClusterError, Expected, Verdict};
use slipway_testkit::cluster::{Auth, StandIn};

fn cluster(server: &StandIn, dir: &std::path::Path) -> Cluster {
    Cluster::new(ClusterAccess::from_kubeconfig(&server.kubeconfig(dir)).expect("kubeconfig")).expect("client")
}

#[tokio::test]
async fn token_and_client_certificate_users_are_let_in() {
    let dir = tempfile::tempdir().unwrap();
    let by_token = StandIn::start(Auth::Token("s3cret.token")).await;
    assert_eq!(cluster(&by_token, dir.path()).version().await.unwrap(), "v1.33.0-stand-in");
    let by_certificate = StandIn::start(Auth::ClientCertificate).await;
    assert_eq!(cluster(&by_certificate, dir.path()).version().await.unwrap(), "v1.33.0-stand-in");
}

#[tokio::test]
async fn a_token_file_is_read_again_for_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = StandIn::start(Auth::Token("rotated-1")).await;
    let path = server.kubeconfig(dir.path());
    let token = dir.path().join("token");
    std::fs::write(&token, "rotated-1\n").unwrap();
    let text = std::fs::read_to_string(&path).unwrap().replace("token: rotated-1", "token-file: token");
    std::fs::write(&path, text).unwrap();
    let cluster = Cluster::new(ClusterAccess::from_kubeconfig(&path).unwrap()).unwrap();
    assert!(cluster.version().await.is_ok());
    // The kubelet rotated the file to a token this server does not know: the next request uses it.
    std::fs::write(&token, "rotated-2\n").unwrap();
    assert!(matches!(cluster.version().await, Err(ClusterError::Refused { status: 401, .. })));
    // A token file that went away is its own error, naming the file.
    std::fs::remove_file(&token).unwrap();
    let gone = cluster.version().await.unwrap_err();
    assert!(matches!(gone, ClusterError::Token { .. }) && gone.to_string().contains("token"), "{gone}");
}

#[tokio::test]
async fn unreachable_refused_and_untrusted_clusters_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = StandIn::start(Auth::Token("right")).await;
    let path = server.kubeconfig(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();

    std::fs::write(&path, text.replace("token: right", "token: wrong")).unwrap();
    let refused = Cluster::new(ClusterAccess::from_kubeconfig(&path).unwrap()).unwrap().version().await.unwrap_err();
    assert!(matches!(refused, ClusterError::Refused { status: 401, .. }), "{refused}");
    assert!(refused.to_string().contains("context `stand-in`") && refused.to_string().contains("Unauthorized"));

    // A kubeconfig pointing nowhere: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    std::fs::write(&path, text.replace(&server.url, &format!("https://{closed}"))).unwrap();
    let nowhere = Cluster::new(ClusterAccess::from_kubeconfig(&path).unwrap()).unwrap().version().await.unwrap_err();
    assert!(matches!(nowhere, ClusterError::Unreachable { .. }), "{nowhere}");
    let message = nowhere.to_string();
    assert!(message.contains(&closed.to_string()) && message.contains("cannot be reached"), "{message}");

    // A server whose certificate another CA signed.
    let other = StandIn::start(Auth::Token("right")).await;
    std::fs::write(&path, text.replace(&server.url, &other.url)).unwrap();
    let untrusted = Cluster::new(ClusterAccess::from_kubeconfig(&path).unwrap()).unwrap().version().await.unwrap_err();
    assert!(untrusted.to_string().to_lowercase().contains("certificate"), "{untrusted}");

    // Client-certificate auth without presenting one fails the handshake.
    let strict = StandIn::start(Auth::ClientCertificate).await;
    std::fs::write(&path, text.replace(&server.url, &strict.url).replace(&server.ca_pem_b64(), &strict.ca_pem_b64()))
        .unwrap();
    let anonymous = Cluster::new(ClusterAccess::from_kubeconfig(&path).unwrap()).unwrap().version().await.unwrap_err();
    assert!(matches!(anonymous, ClusterError::Unreachable { .. }), "{anonymous}");
}

#[tokio::test]
async fn an_environment_is_observed_and_judged() {
    let dir = tempfile::tempdir().unwrap();
    let server = StandIn::start(Auth::Token("t")).await;
    let cluster = cluster(&server, dir.path());
    let expected = Expected {
        argocd_namespace: "argocd".into(),
        application: "acme-web-production".into(),
        namespace: "acme-web-production".into(),
        revision: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
        image: "registry.example.com/slipway/acme/web:usr_1-7-abc@sha256:0123".into(),
    };
    let seen = cluster.observe(&expected).await.unwrap();
    assert!(
        matches!(verdict(&expected, &seen, |revision| revision == expected.revision), Verdict::Waiting(ref text) if text.contains("no Application"))
    );

    server.put(
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/acme-web-production",
        json!({"status": {"sync": {"status": "Synced", "revision": expected.revision},
                          "health": {"status": "Healthy"}}}),
    );
    server.put(
        "/apis/apps/v1/namespaces/acme-web-production/deployments/web",
        json!({"metadata": {"name": "web", "generation": 2},
               "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [{"name": "web", "image": expected.image}]}}},
               "status": {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0}}),
    );
    server.put(
        "/api/v1/namespaces/acme-web-production/pods/web-1",
        json!({"metadata": {"name": "web-1", "labels": {"slipway.dev/process": "web"}},
               "spec": {"containers": [{"name": "web", "image": expected.image}]},
               "status": {"containerStatuses": [{"name": "web", "image": expected.image, "imageID": "", "ready": false,
                   "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull", "message": "manifest unknown"}}}]}}),
    );
    let seen = cluster.observe(&expected).await.unwrap();
    assert_eq!(seen.deployments.len(), 1);
    assert_eq!(seen.pods.len(), 1);
    assert_eq!(
        verdict(&expected, &seen, |revision| revision == expected.revision),
        Verdict::Failed("pod web-1 cannot start: ErrImagePull manifest unknown".into())
    );
    assert!(server.writes().is_empty(), "the client wrote to the cluster: {:?}", server.writes());
}
