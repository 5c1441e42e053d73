//! A Generated client's credentials checked at the IdP with a request that can only
//! fail: an authorization-code exchange with a code that cannot exist. The IdP
//! authenticates the client before it looks at the code, so `invalid_grant` means the
//! credentials are right and `invalid_client` that they are not (seed: "invalid_client"
//! found only when the first user logs in). Nothing is created at the IdP.

use crate::reconcile::conditions::{ConditionReason, ConditionType, condition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::Value;

/// The `Registered` condition from the IdP's answer, quoting it.
pub(crate) async fn registered(
    http: &reqwest::Client,
    token_endpoint: &str,
    client_id: &str,
    secret: &str,
    secret_name: &str,
) -> Condition {
    let code = format!("portcullis-check-{}", crate::reconcile::mint_secret());
    let sent = http
        .post(token_endpoint)
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            (
                "redirect_uri",
                "https://portcullis.invalid/credential-check",
            ),
        ])
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            return unknown(format!(
                "could not ask the IdP ({token_endpoint}): {}",
                crate::oidc::transport_error(e)
            ));
        }
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let error = body["error"].as_str().unwrap_or_default().to_string();
    let said = crate::oidc::scrub(
        Some(match body["error_description"].as_str() {
            Some(d) => format!("{error}: {d}"),
            None => error.clone(),
        }),
        &[secret, &code],
    )
    .unwrap_or_default();
    match error.as_str() {
        "invalid_grant" | "unauthorized_client" | "unsupported_grant_type" => condition(
            ConditionType::Registered,
            Some(true),
            ConditionReason::VerifiedAtIdp,
            format!(
                "the IdP authenticated client {client_id:?} with the published secret (asked to redeem a code that cannot exist, it answered {said:?})"
            ),
        ),
        "invalid_client" => condition(
            ConditionType::Registered,
            Some(false),
            ConditionReason::InvalidClient,
            format!(
                "the IdP refused client {client_id:?} with the published secret: {said:?}; register this client id with the client-secret of Secret {secret_name} at the IdP"
            ),
        ),
        _ => unknown(format!(
            "the IdP's answer to a credential check tells nothing (HTTP {status} {said:?})"
        )),
    }
}

fn unknown(message: String) -> Condition {
    condition(
        ConditionType::Registered,
        None,
        ConditionReason::Manual,
        message,
    )
}
