//! A workspace's members: invite by username, change a role, remove.
//! Only admins and owners see the forms; the API decides either way.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde_json::json;
use slipway_core::api::Member;
use slipway_core::role::{Permission, Role};

use super::{field_errors, form_errors, see_other, FieldErrors};
use crate::api::seg;
use crate::errors::PageError;
use crate::extract::{Form, Session};
use crate::layout::{field_error, has_error, page, Chrome};
use crate::Portal;

const FIELDS: &[(&str, &str)] = &[
    ("USER_NOT_FOUND", "username"),
    ("INVALID_USERNAME", "username"),
    ("MEMBER_EXISTS", "username"),
    ("INVALID_ROLE", "role"),
];

pub async fn list(
    State(portal): State<Portal>,
    session: Session,
    Path(ws): Path<String>,
) -> Result<Response, PageError> {
    render(&portal, &session, &ws, StatusCode::OK, "", &Vec::new()).await
}

async fn render(
    portal: &Portal,
    session: &Session,
    ws: &str,
    status: StatusCode,
    username: &str,
    errors: &FieldErrors,
) -> Result<Response, PageError> {
    let chrome = Chrome::load(&portal.api, session, Some(ws)).await?;
    let ws = chrome.ws().to_owned();
    let members: Vec<Member> = portal.api.get(&format!("/v1/workspaces/{}/members", seg(&ws)), &session.token).await?;
    let admin = chrome.can(Permission::Administer);
    let body = html! {
        div.page-head { div { h1 { "Members" } p.muted { "Who can see and change " span.mono { (ws) } "." } } }
        (form_errors(errors))
        section.panel {
            div.table-wrap {
                table {
                    thead { tr { th { "User" } th { "Role" } th { span.visually-hidden { "Actions" } } } }
                    tbody {
                        @for member in &members {
                            tr data-member=(member.username) {
                                td { (member.username) }
                                td {
                                    @if admin {
                                        form.row method="post" action={"/w/" (ws) "/members/" (seg(member.username.as_str())) "/role"} {
                                            (chrome.csrf_field())
                                            label.visually-hidden for={"role-" (member.username)} { "Role of " (member.username) }
                                            select id={"role-" (member.username)} name="role" {
                                                @for role in Role::ALL {
                                                    option value=(role.as_str()) selected[role == member.role] { (role.as_str()) }
                                                }
                                            }
                                            button.small.secondary type="submit" { "Change" }
                                        }
                                    } @else { (member.role.as_str()) }
                                }
                                td {
                                    @if admin {
                                        form method="post" action={"/w/" (ws) "/members/" (seg(member.username.as_str())) "/remove"}
                                            data-confirm={"Remove " (member.username) " from " (ws) "?"} {
                                            (chrome.csrf_field())
                                            button.small.danger type="submit" aria-label={"Remove " (member.username)} { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if admin {
            section.panel {
                h2 { "Invite a member" }
                form method="post" action={"/w/" (ws) "/members"} novalidate {
                    (chrome.csrf_field())
                    div.row {
                        div.field {
                            label for="username" { "Username" }
                            input #username name="username" type="text" required value=(username)
                                aria-invalid=(has_error(errors, "username")) aria-describedby="username-error";
                            (field_error(errors, "username"))
                        }
                        div.field style="flex:0 1 160px" {
                            label for="role" { "Role" }
                            select #role name="role" {
                                @for role in Role::ALL { option value=(role.as_str()) selected[role == Role::Developer] { (role.as_str()) } }
                            }
                            (field_error(errors, "role"))
                        }
                        button type="submit" { "Invite" }
                    }
                }
            }
        }
    };
    Ok((status, page("Members", &chrome, body)).into_response())
}

async fn done(
    portal: &Portal,
    session: &Session,
    ws: &str,
    username: &str,
    result: Result<serde_json::Value, crate::api::ApiFailure>,
) -> Result<Response, PageError> {
    match result {
        Ok(_) => Ok(see_other(&format!("/w/{}/members", seg(ws)))),
        Err(failure) => {
            let errors = field_errors(failure, FIELDS)?;
            render(portal, session, ws, StatusCode::UNPROCESSABLE_ENTITY, username, &errors).await
        }
    }
}

pub async fn invite(State(portal): State<Portal>, Path(ws): Path<String>, form: Form) -> Result<Response, PageError> {
    let body = json!({ "username": form.get("username"), "role": form.get("role") });
    let path = format!("/v1/workspaces/{}/members", seg(&ws));
    let result = portal.api.call(Method::POST, &path, Some(&form.session.token), Some(&body)).await;
    done(&portal, &form.session, &ws, form.get("username"), result).await
}

pub async fn change_role(
    State(portal): State<Portal>,
    Path((ws, username)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PageError> {
    let body = json!({ "role": form.get("role") });
    let path = format!("/v1/workspaces/{}/members/{}", seg(&ws), seg(&username));
    let result = portal.api.call(Method::PATCH, &path, Some(&form.session.token), Some(&body)).await;
    done(&portal, &form.session, &ws, "", result).await
}

pub async fn remove(
    State(portal): State<Portal>,
    Path((ws, username)): Path<(String, String)>,
    form: Form,
) -> Result<Response, PageError> {
    let path = format!("/v1/workspaces/{}/members/{}", seg(&ws), seg(&username));
    let result = portal.api.call(Method::DELETE, &path, Some(&form.session.token), None).await;
    done(&portal, &form.session, &ws, "", result).await
}
