//! The SCIM 2.0 service provider under `/scim/v2`: the team's IdP speaking with the team's
//! SCIM token. Everything here answers `application/scim+json`, errors as RFC 7644 3.12
//! bodies, never an HTML page. `wire` holds the plumbing (token, body, errors, call log);
//! `users` and `groups` the resources, `resource` what their handlers share.

mod groups;
mod resource;
mod users;
pub mod wire;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::scim::{discovery, Refusal};
use crate::state::AppState;
use crate::store::scim::{StoredGroup, StoredUser};
use wire::{scim_json, ScimCaller, ScimError};

/// The SCIM routes under `/scim/v2`, mounted by `web::configure`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2")
            .app_data(web::Data::new(wire::CallLog::default()))
            .wrap(actix_web::middleware::from_fn(wire::record_call))
            .service(
                web::resource("/Users")
                    .get(resource::list::<StoredUser>)
                    .post(users::create)
                    .default_service(web::to(wrong_method)),
            )
            .service(
                web::resource("/Users/{id}")
                    .get(resource::get::<StoredUser>)
                    .put(users::put)
                    .patch(resource::patch::<StoredUser>)
                    .delete(resource::delete::<StoredUser>)
                    .default_service(web::to(wrong_method)),
            )
            .service(
                web::resource("/Groups")
                    .get(resource::list::<StoredGroup>)
                    .post(groups::create)
                    .default_service(web::to(wrong_method)),
            )
            .service(
                web::resource("/Groups/{id}")
                    .get(resource::get::<StoredGroup>)
                    .put(groups::put)
                    .patch(resource::patch::<StoredGroup>)
                    .delete(resource::delete::<StoredGroup>)
                    .default_service(web::to(wrong_method)),
            )
            .service(
                web::resource("/ServiceProviderConfig")
                    .get(service_provider_config)
                    .default_service(web::to(wrong_method)),
            )
            .service(
                web::resource("/ResourceTypes")
                    .get(resource_types)
                    .default_service(web::to(wrong_method)),
            )
            .service(
                web::resource("/ResourceTypes/{name}")
                    .get(resource_type)
                    .default_service(web::to(wrong_method)),
            )
            .service(
                web::resource("/Schemas")
                    .get(schemas)
                    .default_service(web::to(wrong_method)),
            )
            .service(
                web::resource("/Schemas/{urn}")
                    .get(schema)
                    .default_service(web::to(wrong_method)),
            )
            .default_service(web::to(unknown)),
    );
}

/// `{public_url}/scim/v2`: what the admin pastes into Okta or Entra ID.
pub fn base_url(state: &AppState) -> String {
    format!("{}/scim/v2", state.settings.server.base())
}

async fn service_provider_config(
    state: web::Data<AppState>,
    _c: ScimCaller,
) -> Result<HttpResponse, ScimError> {
    Ok(scim_json(
        200,
        &discovery::service_provider_config(&base_url(&state)),
    ))
}

async fn resource_types(
    state: web::Data<AppState>,
    _c: ScimCaller,
) -> Result<HttpResponse, ScimError> {
    Ok(scim_json(
        200,
        &discovery::resource_types(&base_url(&state)),
    ))
}

async fn resource_type(
    state: web::Data<AppState>,
    _c: ScimCaller,
    name: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    match name.as_str() {
        "User" | "Group" => Ok(scim_json(
            200,
            &discovery::resource_type(&base_url(&state), &name),
        )),
        _ => Err(Refusal::not_found().into()),
    }
}

async fn schemas(state: web::Data<AppState>, _c: ScimCaller) -> Result<HttpResponse, ScimError> {
    Ok(scim_json(200, &discovery::schemas(&base_url(&state))))
}

async fn schema(
    state: web::Data<AppState>,
    _c: ScimCaller,
    urn: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let base = base_url(&state);
    match urn.as_str() {
        crate::scim::USER_URN => Ok(scim_json(200, &discovery::user_schema(&base))),
        crate::scim::GROUP_URN => Ok(scim_json(200, &discovery::group_schema(&base))),
        _ => Err(Refusal::not_found().into()),
    }
}

async fn wrong_method(req: HttpRequest) -> Result<HttpResponse, ScimError> {
    wire::caller_of(&req).await?;
    Err(Refusal::new(
        405,
        None,
        format!("{} is not supported on this SCIM resource.", req.method()),
    )
    .into())
}

async fn unknown(req: HttpRequest) -> Result<HttpResponse, ScimError> {
    // The token is checked first: without one, nothing about the tree is told.
    wire::caller_of(&req).await?;
    Err(Refusal::new(404, None, "No such SCIM endpoint.").into())
}
