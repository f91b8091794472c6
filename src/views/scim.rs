//! The SCIM provisioning page: the base URL to paste, the team's SCIM token (shown once when
//! made), the steps in Okta and in Entra ID, and the last SCIM call.

use maud::{html, Markup};

use super::{copyable, count, csrf_field, when, Chrome};

pub struct ScimView<'a> {
    pub base_url: String,
    pub token_created_at: Option<i64>,
    /// The new token, on the one answer that made it.
    pub new_token: Option<&'a str>,
    /// When, what and with which status SCIM last called.
    pub last_call: Option<(i64, &'a str, u16)>,
    pub provisioned: i64,
    pub groups: i64,
    pub admin_groups: &'a [String],
}

pub fn page(c: &Chrome<'_>, v: &ScimView<'_>) -> Markup {
    super::page(
        "SCIM provisioning",
        Some(c),
        html! {
            h1 { "SCIM provisioning" }
            p { "Your identity provider creates, updates and deactivates members here as it does in your directory: when someone leaves and is deactivated, their sessions end and their personal API tokens stop at once." }
            section {
                h2 { "Connection" }
                dl.settings {
                    dt { "SCIM base URL" } dd { (copyable("scim-base-url", &v.base_url)) }
                    dt { "SCIM token" } dd #token-status {
                        @if let Some(token) = v.new_token {
                            (copyable("scim-token", token))
                            br; strong { "Copy it now: it is shown only once." } " The previous token, if any, has stopped working."
                        } @else if let Some(t) = v.token_created_at {
                            "Created " (when(Some(t))) ". It is not shown again; rotate it to get a new one."
                        } @else {
                            "None yet: create one to turn provisioning on."
                        }
                    }
                    dt { "Last called" } dd #last-call {
                        @if let Some((at, request, status)) = v.last_call {
                            (when(Some(at))) ": " code { (request) } " → " (status)
                            @if status >= 400 { " " span.badge { "failed" } }
                        } @else { "never" }
                    }
                    dt { "Provisioned" } dd { (count(v.provisioned, "member", "members")) ", " (count(v.groups, "group", "groups")) }
                    dt { "Admin groups" } dd {
                        @if v.admin_groups.is_empty() { "— (pushed groups grant no role)" }
                        @else { (v.admin_groups.join(", ")) " (a pushed group of this name makes its members admins)" }
                    }
                }
                // Creating the first token ends nothing, so it acts at once; rotating and
                // revoking end the token the identity provider uses, so they ask first.
                @if v.token_created_at.is_some() {
                    p.actions {
                        a.button #create-token data-confirm="Rotate the SCIM token? The current one stops working at once."
                            href="/settings/scim/token/confirm" { "Rotate token" }
                        " "
                        a.button.danger #revoke-token data-confirm="Revoke the SCIM token? SCIM requests answer 401 from then on."
                            href="/settings/scim/token/revoke/confirm" { "Revoke token" }
                    }
                } @else {
                    form method="post" action="/settings/scim/token" {
                        (csrf_field(c.csrf))
                        button #create-token type="submit" { "Create token" }
                    }
                }
            }
            section {
                h2 { "Okta" }
                ol {
                    li { "In the teamportal app integration, General tab → App Settings: enable " em { "SCIM provisioning" } "." }
                    li { "Provisioning tab → Integration: " em { "SCIM connector base URL" } " = the base URL above; " em { "Unique identifier field for users" } " = " code { "userName" } "." }
                    li { em { "Supported provisioning actions" } ": Push New Users, Push Profile Updates, Push Groups." }
                    li { em { "Authentication Mode" } ": HTTP Header; " em { "Authorization" } " = the SCIM token (Okta sends it as " code { "Bearer <token>" } "). Test the connector, save." }
                    li { "Provisioning tab → To App: enable Create Users, Update User Attributes and Deactivate Users." }
                }
            }
            section {
                h2 { "Microsoft Entra ID" }
                ol {
                    li { "Enterprise applications → teamportal → Provisioning → Provisioning Mode: " em { "Automatic" } "." }
                    li { em { "Tenant URL" } " = the base URL above; " em { "Secret Token" } " = the SCIM token. Test Connection, save." }
                    li { "Mappings: keep " code { "userPrincipalName" } " (or mail) → " code { "userName" } "; start provisioning." }
                }
            }
        },
    )
}
