//! Pods of the environment: a Deployment per long-running process type
//! (`web` and workers), a CronJob per scheduled one, and the HPA/PDB that go
//! with a Deployment. Every container gets the Pod Security `restricted`
//! settings; they are set here once so no process type can miss them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, HTTPGetAction, PodSpec, PodTemplateSpec,
    Probe, ResourceRequirements, SecretEnvSource, TCPSocketAction,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use slipway_core::build_plan::WEB_PROCESS;
use slipway_core::resources::{Cpu, Resources};

use super::restricted::{self, TMP_DIR};
use super::{bytes_quantity, cpu_quantity, meta, CONFIG_MAP_NAME, SECRET_NAME};
use crate::input::{AppEnvironment, ClusterSettings, ConfigVar, Process};
use crate::naming::{common_labels, selector_labels, ANNOTATION_DEPLOYMENT, LABEL_PROCESS};

const PORT_NAME: &str = "http";

pub(super) fn deployment(
    app: &AppEnvironment,
    settings: &ClusterSettings,
    name: &str,
    process: &Process,
) -> Deployment {
    let is_web = name == WEB_PROCESS;
    Deployment {
        metadata: meta(app, name, process_labels(app, name)),
        spec: Some(DeploymentSpec {
            // With an HPA the replica count belongs to the autoscaler; writing one here would fight it.
            replicas: process.autoscaling.is_none().then_some(i32_of(process.replicas)),
            revision_history_limit: Some(5),
            selector: LabelSelector { match_labels: Some(selector_labels(app, name)), ..Default::default() },
            // Zero downtime: a new pod must be ready before an old one goes.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: pod_template(app, settings, name, process, is_web, None),
            ..Default::default()
        }),
        status: None,
    }
}

pub(super) fn cron_job(
    app: &AppEnvironment,
    settings: &ClusterSettings,
    name: &str,
    process: &Process,
    schedule: &str,
) -> CronJob {
    CronJob {
        metadata: meta(app, name, process_labels(app, name)),
        spec: Some(CronJobSpec {
            schedule: schedule.to_owned(),
            concurrency_policy: Some("Forbid".into()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    template: pod_template(app, settings, name, process, false, Some("Never")),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

pub(super) fn autoscaler(app: &AppEnvironment, name: &str, process: &Process) -> Option<HorizontalPodAutoscaler> {
    let scaling = process.autoscaling.as_ref()?;
    Some(HorizontalPodAutoscaler {
        metadata: meta(app, name, process_labels(app, name)),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: name.to_owned(),
            },
            min_replicas: Some(i32_of(scaling.min_replicas)),
            max_replicas: i32_of(scaling.max_replicas),
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(i32_of(scaling.target_cpu_percent)),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            behavior: None,
        }),
        status: None,
    })
}

/// A PDB only makes sense when more than one pod can run: with one, it would block node drains.
pub(super) fn disruption_budget(app: &AppEnvironment, name: &str, process: &Process) -> Option<PodDisruptionBudget> {
    let least = process.autoscaling.as_ref().map_or(process.replicas, |scaling| scaling.min_replicas);
    (least > 1).then(|| PodDisruptionBudget {
        metadata: meta(app, name, process_labels(app, name)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector { match_labels: Some(selector_labels(app, name)), ..Default::default() }),
            ..Default::default()
        }),
        status: None,
    })
}

fn process_labels(app: &AppEnvironment, name: &str) -> BTreeMap<String, String> {
    let mut labels = common_labels(app);
    labels.insert(LABEL_PROCESS.to_owned(), name.to_owned());
    labels
}

fn pod_template(
    app: &AppEnvironment,
    settings: &ClusterSettings,
    name: &str,
    process: &Process,
    is_web: bool,
    restart_policy: Option<&str>,
) -> PodTemplateSpec {
    let annotations = BTreeMap::from([(ANNOTATION_DEPLOYMENT.to_owned(), app.deployment.get().to_string())]);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(process_labels(app, name)),
            annotations: Some(annotations),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            // Apps never talk to the Kubernetes API, so they get no token to leak.
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            restart_policy: restart_policy.map(str::to_owned),
            security_context: Some(restricted::pod_security(settings.run_as_user)),
            containers: vec![container(app, name, process, is_web)],
            volumes: Some(vec![restricted::tmp_volume("256Mi")]),
            ..Default::default()
        }),
    }
}

fn container(app: &AppEnvironment, name: &str, process: &Process, is_web: bool) -> Container {
    let has_plain = app.config.iter().any(|var| matches!(var, ConfigVar::Plain { .. }));
    let has_secret = app.config.iter().any(|var| matches!(var, ConfigVar::Secret { .. }));
    let mut env_from = Vec::new();
    if has_plain {
        env_from.push(EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: CONFIG_MAP_NAME.into(), optional: Some(false) }),
            ..Default::default()
        });
    }
    if has_secret {
        env_from.push(EnvFromSource {
            secret_ref: Some(SecretEnvSource { name: SECRET_NAME.into(), optional: Some(false) }),
            ..Default::default()
        });
    }
    Container {
        name: name.to_owned(),
        image: Some(app.image.to_string()),
        image_pull_policy: Some("IfNotPresent".into()),
        command: Some(vec!["/bin/sh".into(), "-c".into(), process.command.clone()]),
        env: Some(vec![
            EnvVar { name: "PORT".into(), value: Some(app.port.to_string()), ..Default::default() },
            // Many runtimes (npm, pip) write below $HOME; /tmp is the writable place.
            EnvVar { name: "HOME".into(), value: Some(TMP_DIR.into()), ..Default::default() },
        ]),
        env_from: (!env_from.is_empty()).then_some(env_from),
        ports: is_web.then(|| {
            vec![ContainerPort {
                name: Some(PORT_NAME.into()),
                container_port: i32::from(app.port),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]
        }),
        readiness_probe: is_web.then(|| probe(app, 0, 5)),
        liveness_probe: is_web.then(|| probe(app, 15, 10)),
        resources: Some(requirements(&process.resources)),
        security_context: Some(restricted::container_security()),
        volume_mounts: Some(vec![restricted::tmp_mount()]),
        ..Default::default()
    }
}

/// Limits are the environment's figures. The memory request equals the limit: the scheduler
/// reserves what the OOM killer enforces, as on the local target. The CPU request is a quarter
/// of the limit (at least [`Cpu::MIN_MILLIS`]): instances share cores and burst to their cap,
/// as on the local target, instead of each reserving a whole core it rarely uses.
fn requirements(resources: &Resources) -> ResourceRequirements {
    let memory = bytes_quantity(resources.memory.bytes());
    let cpu_request = Cpu::from_millis((resources.cpu.millis() / 4).max(Cpu::MIN_MILLIS));
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), cpu_quantity(cpu_request)),
            ("memory".to_owned(), memory.clone()),
        ])),
        limits: Some(BTreeMap::from([("cpu".to_owned(), cpu_quantity(resources.cpu)), ("memory".to_owned(), memory)])),
        ..Default::default()
    }
}

fn probe(app: &AppEnvironment, initial_delay: i32, period: i32) -> Probe {
    let port = IntOrString::String(PORT_NAME.into());
    let (http_get, tcp_socket) = match &app.health_check_path {
        Some(path) => (Some(HTTPGetAction { path: Some(path.clone()), port, ..Default::default() }), None),
        None => (None, Some(TCPSocketAction { port, host: None })),
    };
    Probe {
        http_get,
        tcp_socket,
        initial_delay_seconds: (initial_delay > 0).then_some(initial_delay),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Default::default()
    }
}

/// Validated earlier to fit: replica counts and percentages are small.
fn i32_of(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
