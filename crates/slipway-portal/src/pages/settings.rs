//! The project page's settings: config vars (add, edit, delete; secret
//! values are never shown, only replaced) and custom domains.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use maud::{html, Markup};
use serde_json::json;
use slipway_core::api::ConfigVar;
use slipway_core::role::Permission;

use super::project::after;
use super::see_other;
use super::FieldErrors;
use crate::api::{env_path, seg};
use crate::errors::PageError;
use crate::extract::Form;
use crate::layout::{field_error, has_error, Chrome};
use crate::Portal;

const CONFIG_FIELDS: &[(&str, &str)] = &[
    ("INVALID_CONFIG_VAR_NAME", "config_name"),
    ("RESERVED_CONFIG_VAR_NAME", "config_name"),
    ("CONFIG_VAR_NOT_FOUND", "config_name"),
    ("INVALID_CONFIG_VAR_VALUE", "config_value"),
];
const DOMAIN_FIELDS: &[(&str, &str)] = &[
    ("INVALID_DOMAIN", "hostname"),
    ("INVALID_HOSTNAME", "hostname"),
    ("HOSTNAME_TAKEN", "hostname"),
    ("HOSTNAME_TOO_LONG", "hostname"),
    ("DOMAIN_NOT_FOUND", "hostname"),
];

pub fn config_section(chrome: &Chrome, base: &str, vars: &[ConfigVar], errors: &FieldErrors) -> Markup {
    let can_edit = chrome.can(Permission::Deploy);
    html! {
        section.panel #config aria-labelledby="config-title" {
            h2 #config-title { "Config vars" }
            p.muted { "Environment variables of production. Changes apply with the next deploy." }
            @if vars.is_empty() { p.muted { "No config vars." } } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Name" } th { "Value" } th { span.visually-hidden { "Actions" } } } }
                        tbody {
                            @for var in vars {
                                tr data-config=(var.name) {
                                    td.mono { (var.name) }
                                    td {
                                        @if can_edit {
                                            form.row method="post" action={(base) "/config"} {
                                                (chrome.csrf_field())
                                                input type="hidden" name="name" value=(var.name);
                                                @if var.secret { input type="hidden" name="secret" value="on"; }
                                                div.field {
                                                    label.visually-hidden for={"value-" (var.name)} { "Value of " (var.name) }
                                                    @if var.secret {
                                                        input id={"value-" (var.name)} name="value" type="password" placeholder="•••••• (secret; type to replace)" autocomplete="off";
                                                    } @else {
                                                        input id={"value-" (var.name)} name="value" type="text" value=(var.value.as_deref().unwrap_or_default());
                                                    }
                                                }
                                                button.small.secondary type="submit" { "Save" }
                                            }
                                        } @else {
                                            @if var.secret { span.secret-value { "••••••" } } @else { span.mono { (var.value.as_deref().unwrap_or_default()) } }
                                        }
                                    }
                                    td {
                                        @if can_edit {
                                            form method="post" action={(base) "/config/delete"} data-confirm={"Delete " (var.name) "?"} {
                                                (chrome.csrf_field())
                                                input type="hidden" name="name" value=(var.name);
                                                button.small.danger type="submit" aria-label={"Delete " (var.name)} { "Delete" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if can_edit {
                form method="post" action={(base) "/config"} novalidate style="margin-top:14px" {
                    (chrome.csrf_field())
                    div.row {
                        div.field {
                            label for="config_name" { "Name" }
                            input #config_name name="name" type="text" placeholder="GREETING" autocomplete="off"
                                aria-invalid=(has_error(errors, "config_name")) aria-describedby="config_name-error";
                            (field_error(errors, "config_name"))
                        }
                        div.field {
                            label for="config_value" { "Value" }
                            input #config_value name="value" type="text" autocomplete="off"
                                aria-invalid=(has_error(errors, "config_value")) aria-describedby="config_value-error";
                            (field_error(errors, "config_value"))
                        }
                        label.check { input type="checkbox" name="secret"; "Secret" }
                        button type="submit" { "Add" }
                    }
                }
            }
        }
    }
}

pub fn domains_section(chrome: &Chrome, base: &str, domains: &[String], errors: &FieldErrors) -> Markup {
    let can_edit = chrome.can(Permission::ManageProjects);
    html! {
        section.panel #domains aria-labelledby="domains-title" {
            h2 #domains-title { "Domains" }
            ul style="padding-left:18px" {
                @for domain in domains {
                    li.row style="align-items:center" {
                        span.mono { (domain) }
                        @if can_edit {
                            form method="post" action={(base) "/domains/delete"} data-confirm={"Remove " (domain) "?"} {
                                (chrome.csrf_field())
                                input type="hidden" name="hostname" value=(domain);
                                button.small.danger type="submit" aria-label={"Remove " (domain)} { "Remove" }
                            }
                        }
                    }
                }
            }
            @if can_edit {
                form method="post" action={(base) "/domains"} novalidate {
                    (chrome.csrf_field())
                    div.row {
                        div.field {
                            label for="hostname" { "Custom domain" }
                            input #hostname name="hostname" type="text" placeholder="www.example.com"
                                aria-invalid=(has_error(errors, "hostname")) aria-describedby="hostname-error";
                            (field_error(errors, "hostname"))
                        }
                        button type="submit" { "Add domain" }
                    }
                }
            }
        }
    }
}

pub async fn set_config(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((ws, project)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PageError> {
    let name = form.get("name");
    // A secret's field is shown empty ("type to replace"): left empty, it means no change, not
    // an empty value.
    if form.checked("secret") && form.raw("value").is_empty() {
        return Ok(see_other(&format!("/w/{}/p/{}#config", seg(&ws), seg(&project))));
    }
    let mut vars = serde_json::Map::new();
    vars.insert(name.to_owned(), json!(form.raw("value")));
    let body = json!({ "vars": vars, "secret": form.checked("secret") });
    let path = format!("{}/config", env_path(&ws, &project));
    let result = portal.api.call::<Vec<ConfigVar>>(Method::PUT, &path, Some(&form.session.token), Some(&body)).await;
    after(&portal, &form.session, &headers, &ws, &project, result.map(|_| ()), CONFIG_FIELDS, "config").await
}

pub async fn unset_config(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((ws, project)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PageError> {
    let path = format!("{}/config?names={}", env_path(&ws, &project), seg(form.get("name")));
    let result = portal.api.call::<Vec<ConfigVar>>(Method::DELETE, &path, Some(&form.session.token), None).await;
    after(&portal, &form.session, &headers, &ws, &project, result.map(|_| ()), CONFIG_FIELDS, "config").await
}

pub async fn add_domain(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((ws, project)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PageError> {
    let path = format!("{}/domains", env_path(&ws, &project));
    let body = json!({ "hostname": form.get("hostname") });
    let result =
        portal.api.call::<serde_json::Value>(Method::POST, &path, Some(&form.session.token), Some(&body)).await;
    after(&portal, &form.session, &headers, &ws, &project, result.map(|_| ()), DOMAIN_FIELDS, "domains").await
}

pub async fn remove_domain(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path((ws, project)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PageError> {
    let path = format!("{}/domains/{}", env_path(&ws, &project), seg(form.get("hostname")));
    let result = portal.api.call::<serde_json::Value>(Method::DELETE, &path, Some(&form.session.token), None).await;
    after(&portal, &form.session, &headers, &ws, &project, result.map(|_| ()), DOMAIN_FIELDS, "domains").await
}
