//! What makes a pod pass Pod Security `restricted`, in one place for every pod Slipway writes
//! (apps, workers, cron jobs and the control plane itself): non-root user, RuntimeDefault
//! seccomp, no privilege escalation, every capability dropped, a read-only root filesystem with
//! a size-capped emptyDir as the only writable place, `/tmp`.

use k8s_openapi::api::core::v1::{
    Capabilities, EmptyDirVolumeSource, PodSecurityContext, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The writable directory (and `HOME`) of every container.
pub(crate) const TMP_DIR: &str = "/tmp";

const TMP_VOLUME: &str = "tmp";

pub(crate) fn pod_security(user: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(user),
        run_as_group: Some(user),
        fs_group: Some(user),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

pub(crate) fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), add: None }),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// The emptyDir behind [`TMP_DIR`], capped at `size`.
pub(crate) fn tmp_volume(size: &str) -> Volume {
    Volume {
        name: TMP_VOLUME.into(),
        empty_dir: Some(EmptyDirVolumeSource { size_limit: Some(Quantity(size.into())), ..Default::default() }),
        ..Default::default()
    }
}

pub(crate) fn tmp_mount() -> VolumeMount {
    VolumeMount { name: TMP_VOLUME.into(), mount_path: TMP_DIR.into(), ..Default::default() }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }
}
