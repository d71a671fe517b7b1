//! The page shell: head (CSS, JS, favicon), the top bar with the workspace
//! switcher and account links, and the main column. [`Chrome`] is what the
//! shell needs to know about the signed-in user, loaded through the API.

use axum::http::Method;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use slipway_core::api::{Page, User, Workspace};
use slipway_core::role::{Permission, Role};

use crate::api::Api;
use crate::csrf;
use crate::errors::PageError;
use crate::extract::Session;

/// The signed-in user and their workspaces, for the top bar.
pub struct Chrome {
    pub user: User,
    pub workspaces: Vec<Workspace>,
    /// The workspace the page belongs to, when it belongs to one.
    pub current: Option<Workspace>,
    pub csrf: String,
    /// The platform runs tenant code without a sandbox (`SLIPWAY_SANDBOX=off`): every page says so.
    pub unsandboxed: bool,
}

impl Chrome {
    /// Loads the user and their workspaces; `current` must be one of them
    /// (else the API's 404, exactly as for a workspace of another tenant).
    pub async fn load(api: &Api, session: &Session, current: Option<&str>) -> Result<Chrome, PageError> {
        let (user, workspaces, health) = tokio::join!(
            api.get::<User>("/v1/me", &session.token),
            api.call::<Page<Workspace>>(Method::GET, "/v1/workspaces?limit=200", Some(&session.token), None),
            api.call::<serde_json::Value>(Method::GET, "/healthz", None, None),
        );
        let (user, workspaces) = (user?, workspaces?.items);
        let unsandboxed = health.is_ok_and(|health| health["sandbox"] == "off");
        let current = match current {
            None => None,
            Some(slug) => match workspaces.iter().find(|w| w.slug.as_str() == slug) {
                Some(found) => Some(found.clone()),
                // A platform admin may reach workspaces they are not a member of: ask the API.
                None => Some(
                    api.get::<Workspace>(&format!("/v1/workspaces/{}", crate::api::seg(slug)), &session.token).await?,
                ),
            },
        };
        Ok(Chrome { user, workspaces, current, csrf: session.csrf.clone(), unsandboxed })
    }

    /// The user's role in the current workspace (platform admins act as owners).
    pub fn role(&self) -> Option<Role> {
        if self.user.is_admin {
            return Some(Role::Owner);
        }
        self.current.as_ref().and_then(|w| w.role)
    }

    pub fn can(&self, permission: Permission) -> bool {
        self.role().is_some_and(|role| role.allows(permission))
    }

    /// The hidden CSRF field every form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name=(csrf::FIELD) value=(self.csrf); }
    }

    pub fn ws(&self) -> &str {
        self.current.as_ref().map(|w| w.slug.as_str()).unwrap_or_default()
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Slipway" }
            link rel="icon" href="/favicon.svg" type="image/svg+xml";
            link rel="stylesheet" href="/_portal/portal.css";
            script src="/_portal/portal.js" defer {}
        }
    }
}

fn logo() -> Markup {
    html! {
        a.brand href="/" aria-label="Slipway home" {
            (PreEscaped(crate::assets::LOGO_SVG)) span { "Slipway" }
        }
    }
}

/// A full page for a signed-in user.
pub fn page(title: &str, chrome: &Chrome, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    (logo())
                    nav.switcher aria-label="Workspace" {
                        form method="get" action="/workspaces" data-switcher {
                            label.visually-hidden for="ws-switch" { "Workspace" }
                            select #ws-switch name="go" {
                                @for ws in &chrome.workspaces {
                                    option value=(ws.slug) selected[Some(ws.slug.as_str()) == chrome.current.as_ref().map(|c| c.slug.as_str())] { (ws.name) }
                                }
                                @if chrome.current.is_none() { option value="" selected { "Choose a workspace" } }
                            }
                            noscript { button.small type="submit" { "Go" } }
                        }
                    }
                    nav.links aria-label="Main" {
                        @if let Some(ws) = &chrome.current {
                            a href={"/w/" (ws.slug)} { "Projects" }
                            a href={"/w/" (ws.slug) "/members"} { "Members" }
                            @if chrome.can(Permission::Administer) { a href={"/w/" (ws.slug) "/audit"} { "Audit" } }
                        }
                        a href="/workspaces" { "Workspaces" }
                        a href="/tokens" { "Tokens" }
                        form.inline method="post" action="/logout" {
                            (chrome.csrf_field())
                            button.link type="submit" title={"Signed in as " (chrome.user.username)} { "Sign out" }
                        }
                    }
                }
                @if chrome.unsandboxed {
                    p.unsandboxed role="alert" {
                        strong { "Unsandboxed platform. " }
                        "SLIPWAY_SANDBOX=off: apps and builds run as the platform's own user, so any tenant can \
                         read every secret and every other tenant's files. Meant for one trusted user only."
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// A page without the user's navigation: sign-in and error pages.
pub fn bare(title: &str, signed_in: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                header.top {
                    (logo())
                    @if signed_in { nav.links { a href="/" { "Projects" } } }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// A status badge: colour and text, so it reads without colour too.
pub fn badge(status: Option<&str>) -> Markup {
    let text = status.unwrap_or("NO DEPLOYS");
    let class = match text {
        "QUEUED" => "queued",
        "BUILDING" | "DEPLOYING" => "working",
        "DEPLOYED" => "deployed",
        "FAILED" => "failed",
        _ => "idle",
    };
    html! { span class={"badge " (class)} data-status=(text) { (text) } }
}

/// An error message beside a form field.
pub fn field_error(errors: &[(String, String)], field: &str) -> Markup {
    html! {
        @for (name, message) in errors {
            @if name == field { p.field-error id={(field) "-error"} role="alert" { (message) } }
        }
    }
}

/// Whether `field` has an error (for `aria-invalid`).
pub fn has_error(errors: &[(String, String)], field: &str) -> bool {
    errors.iter().any(|(name, _)| name == field)
}
