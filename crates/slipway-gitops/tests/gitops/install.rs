//! Bad input to `render_install` (the control plane's own manifests) is refused
//! with an error that says what to fix, and what it renders keeps the promises
//! the README makes: secrets only by reference, one replica, Recreate.

#![allow(clippy::unwrap_used)] // the fixtures are helpers, not #[test] functions

use slipway_gitops::{render_install, to_apply_stream, GitopsError, InstallSettings};

#[test]
fn a_mutable_image_tag_is_refused() {
    for image in ["ghcr.io/slipway/slipway:latest", "ghcr.io/slipway/slipway:0.1.0", "ghcr.io/slipway/slipway"] {
        let settings = InstallSettings { image: image.into(), ..crate::common::install_settings() };
        let err = render_install(&settings).unwrap_err();
        assert!(matches!(err, GitopsError::MutableImage { .. }), "{image}: {err}");
        let message = err.to_string();
        assert!(message.contains(image) && message.contains("@sha256:"), "{image}: {message}");
    }
    let short =
        InstallSettings { image: "ghcr.io/slipway/slipway@sha256:abc".into(), ..crate::common::install_settings() };
    assert!(render_install(&short).unwrap_err().to_string().contains("64 lower-case hex digits"));
}

#[test]
fn an_invalid_host_is_refused() {
    for host in ["", "slipway_example.com", "-slipway.example.com", "slipway..example.com", "https://slipway.example"] {
        let settings = InstallSettings { host: host.into(), ..crate::common::install_settings() };
        let err = render_install(&settings).unwrap_err();
        assert!(matches!(err, GitopsError::InvalidInput { what: "control plane host", .. }), "{host:?}: {err}");
        assert!(err.to_string().contains("control plane host"), "{host:?}: {err}");
    }
}

#[test]
fn other_bad_settings_are_refused() {
    let cases = [
        InstallSettings { storage_size: "lots".into(), ..crate::common::install_settings() },
        InstallSettings { storage_class: Some("Fast SSD".into()), ..crate::common::install_settings() },
        InstallSettings { ingress_namespace: "Ingress".into(), ..crate::common::install_settings() },
        InstallSettings { ingress_class: "".into(), ..crate::common::install_settings() },
        InstallSettings { cert_issuer: "lets encrypt".into(), ..crate::common::install_settings() },
        InstallSettings { argocd_namespace: "Argo CD".into(), ..crate::common::install_settings() },
    ];
    for settings in cases {
        assert!(render_install(&settings).is_err(), "{settings:?} was accepted");
    }
}

#[test]
fn secrets_are_referenced_never_written() {
    let manifests = render_install(&crate::common::install_settings()).unwrap();
    let deployment = manifests.get("deployment-slipway.yaml").unwrap();
    assert!(deployment.contains("secretKeyRef"), "{deployment}");
    assert!(deployment.contains("name: slipway-secrets"), "{deployment}");
    assert!(deployment.contains("type: Recreate"), "{deployment}");
    assert!(deployment.contains("replicas: 1"), "{deployment}");
    assert!(manifests.files().all(|(name, _)| !name.starts_with("secret-")), "a Secret object was rendered");
    // No storage class: the cluster's default one is used, so the field is left out.
    let default_class = InstallSettings { storage_class: None, ..crate::common::install_settings() };
    let claim = render_install(&default_class).unwrap();
    assert!(!claim.get("persistentvolumeclaim-slipway.yaml").unwrap().contains("storageClassName"));
}

#[test]
fn the_apply_stream_creates_the_namespace_first() {
    let manifests = render_install(&crate::common::install_settings()).unwrap();
    let stream = to_apply_stream(&manifests);
    assert!(stream.starts_with("---\n# namespace-slipway-system.yaml\napiVersion: v1\nkind: Namespace\n"), "{stream}");
    assert_eq!(stream.matches("\n---\n").count() + 1, manifests.len(), "one document per object");
    assert_eq!(stream.len(), manifests.to_multi_document().len(), "reordered, nothing lost");
}
