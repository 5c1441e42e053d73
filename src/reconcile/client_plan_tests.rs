//! Unit tests of the whole client plan: minting, rotation, registration, what is written
//! and what is not.

use super::*;
use crate::api::*;
use crate::reconcile::client::{STATE_CLIENT_ID_KEY, state_secret_name, target_secret_name};
use crate::reconcile::conditions::{ConditionExt, ConditionReason, ConditionType};
use crate::reconcile::diff::secret_needs_apply;
use crate::reconcile::fixtures::{self as fx, meta};
use crate::reconcile::rotation::{PREVIOUS_KEY, ROTATE_ANNOTATION};

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

/// The provider `auth/idp`, its token endpoint discovered or not.
fn provider(token_endpoint: Option<&str>) -> OIDCProvider {
    let p = fx::provider("auth", "idp", "https://idp.example.com");
    match token_endpoint {
        Some(t) => fx::discovered(
            p,
            ProviderEndpoints {
                token: Some(t.into()),
                ..Default::default()
            },
        ),
        None => p,
    }
}

/// The client `auth/app` of the provider `auth/idp`.
fn client(mode: ClientMode) -> OAuthClient {
    fx::client("auth", "app", mode, "idp", Some("auth"))
}

fn counting_mint() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("minted-{n}")
    }
}

fn named<'a>(plan: &'a ClientPlan, name: &str) -> Option<&'a Secret> {
    plan.objects.iter().find_map(|o| match o {
        Desired::Secret(s) if s.metadata.name.as_deref() == Some(name) => Some(s),
        _ => None,
    })
}

fn observed<'a>(
    c: &'a OAuthClient,
    p: Option<&'a OIDCProvider>,
    state: Option<&'a Secret>,
    target: Option<&'a Secret>,
    now: i64,
) -> Observed<'a> {
    Observed {
        client: c,
        provider: p,
        needed_redirects: &[],
        cached_state: state,
        cached_target: target,
        credentials: None,
        registration: None,
        backchannel_logout_uri: None,
        now: at(now),
    }
}

#[test]
fn a_generated_client_mints_once_and_its_second_plan_writes_nothing() {
    let (c, p) = (client(ClientMode::Generated), provider(None));
    let mut mint = counting_mint();
    let first = desired(observed(&c, Some(&p), None, None, 1000), &mut mint);
    assert!(!first.rotated);
    let state = named(&first, &state_secret_name(&c))
        .expect("state Secret")
        .clone();
    let target = named(&first, &target_secret_name(&c))
        .expect("target Secret")
        .clone();
    let data = data_of(Some(&state));
    assert_eq!(data[STATE_SECRET_KEY], "minted-1");
    // The first write already carries the rotation bookkeeping: no second write.
    assert_eq!(data[ROTATED_AT_KEY], at(1000).to_string());
    assert_eq!(first.status.last_rotation_time, Some(at(1000).to_string()));

    // The caches now hold what was written: the next plan is identical and mints nothing.
    let second = desired(
        observed(&c, Some(&p), Some(&state), Some(&target), 5000),
        &mut mint,
    );
    for object in &second.objects {
        let Desired::Secret(s) = object else { continue };
        let cached = [&state, &target]
            .into_iter()
            .find(|c| c.metadata.name == s.metadata.name);
        assert!(
            !secret_needs_apply(s, cached),
            "{:?} would be written again",
            s.metadata.name
        );
    }
    assert_eq!(
        second.status.last_rotation_time,
        first.status.last_rotation_time
    );
    assert_eq!(mint(), "minted-2", "the second plan minted nothing");
}

#[test]
fn a_generated_client_adopts_the_value_its_application_already_reads() {
    let (c, p) = (client(ClientMode::Generated), provider(None));
    let mut target = Secret {
        metadata: meta("auth", &target_secret_name(&c)),
        ..Default::default()
    };
    target.data = Some(BTreeMap::from([(
        "client-secret".to_string(),
        ByteString(b"already-there".to_vec()),
    )]));
    let plan = desired(
        observed(&c, Some(&p), None, Some(&target), 1000),
        &mut counting_mint(),
    );
    let state = named(&plan, &state_secret_name(&c)).unwrap();
    assert_eq!(data_of(Some(state))[STATE_SECRET_KEY], "already-there");
}

#[test]
fn the_rotate_annotation_rotates_once_and_publishes_the_previous_secret() {
    let (mut c, p) = (client(ClientMode::Generated), provider(None));
    let mut mint = counting_mint();
    let first = desired(observed(&c, Some(&p), None, None, 1000), &mut mint);
    let state = named(&first, &state_secret_name(&c)).unwrap().clone();
    let target = named(&first, &target_secret_name(&c)).unwrap().clone();

    c.metadata.annotations = Some(BTreeMap::from([(
        ROTATE_ANNOTATION.to_string(),
        "now".to_string(),
    )]));
    let rotated = desired(
        observed(&c, Some(&p), Some(&state), Some(&target), 2000),
        &mut mint,
    );
    assert!(rotated.rotated);
    assert_eq!(
        rotated.rotation.why,
        Some("the portcullis.dev/rotate annotation changed")
    );
    let new_state = named(&rotated, &state_secret_name(&c)).unwrap().clone();
    let new_data = data_of(Some(&new_state));
    assert_eq!(new_data[STATE_SECRET_KEY], "minted-2");
    assert_eq!(new_data[PREVIOUS_KEY], "minted-1");
    let new_target = named(&rotated, &target_secret_name(&c)).unwrap().clone();
    let published = data_of(Some(&new_target));
    assert_eq!(published["client-secret"], "minted-2");
    assert_eq!(published[TARGET_PREVIOUS_KEY], "minted-1");
    assert_eq!(
        rotated.status.last_rotation_time,
        Some(at(2000).to_string())
    );
    let rotating = conditions::find(&rotated.status.conditions, ConditionType::Rotating).unwrap();
    assert_eq!(
        (rotating.status.as_str(), rotating.reason.as_str()),
        ("True", "GracePeriod")
    );
    assert!(
        !rotating.message.contains("minted-1"),
        "a secret never reaches status: {}",
        rotating.message
    );

    // The same annotation value again: no second rotation.
    let again = desired(
        observed(&c, Some(&p), Some(&new_state), Some(&new_target), 2100),
        &mut mint,
    );
    assert!(!again.rotated);
    assert_eq!(data_of(again.state.as_ref())[STATE_SECRET_KEY], "minted-2");
}

#[test]
fn a_plan_without_a_provider_rotates_nothing_and_keeps_the_cached_rotation_time() {
    let (mut c, p) = (client(ClientMode::Generated), provider(None));
    let mut mint = counting_mint();
    let first = desired(observed(&c, Some(&p), None, None, 1000), &mut mint);
    let state = named(&first, &state_secret_name(&c)).unwrap().clone();
    c.metadata.annotations = Some(BTreeMap::from([(
        ROTATE_ANNOTATION.to_string(),
        "now".to_string(),
    )]));
    // The provider is gone: `desired` writes no Secret, so nothing is rotated and the
    // status keeps the time the cached state records (not now: that would rewrite status
    // on every reconcile).
    let plan = desired(observed(&c, None, Some(&state), None, 9000), &mut mint);
    assert!(plan.objects.is_empty());
    assert!(!plan.rotated);
    assert_eq!(plan.status.last_rotation_time, Some(at(1000).to_string()));
}

#[test]
fn a_dynamic_registration_lands_in_the_state_secret_and_its_redirect_condition_in_status() {
    let (mut c, p) = (client(ClientMode::Dynamic), provider(None));
    c.spec.registration = Some(RegistrationSpec::default());
    let drift = condition(
        ConditionType::RedirectUrisInSync,
        Some(false),
        ConditionReason::MissingAtIdp,
        "the IdP's registration lacks [\"https://b/cb\"]",
    );
    let mut o = observed(&c, Some(&p), None, None, 1000);
    o.registration = Some(Ensured {
        state: BTreeMap::from([
            (STATE_CLIENT_ID_KEY.to_string(), "dyn-id".to_string()),
            (STATE_SECRET_KEY.to_string(), "dyn-secret".to_string()),
        ]),
        redirect_condition: drift.clone(),
        registration_client_uri: Some("https://idp.example.com/reg/dyn-id".into()),
    });
    let plan = desired(o, &mut counting_mint());
    let state = data_of(named(&plan, &state_secret_name(&c)));
    assert_eq!(state[STATE_CLIENT_ID_KEY], "dyn-id");
    assert_eq!(state[STATE_SECRET_KEY], "dyn-secret");
    assert_eq!(
        plan.status.registration_client_uri.as_deref(),
        Some("https://idp.example.com/reg/dyn-id")
    );
    let in_sync: Vec<_> = plan
        .status
        .conditions
        .iter()
        .filter(|x| x.is(ConditionType::RedirectUrisInSync))
        .collect();
    assert_eq!(in_sync, [&drift], "exactly one, the IdP's");
    assert!(
        !plan.rotated,
        "a Dynamic client is never rotated by the operator"
    );
}

#[test]
fn a_credential_check_needs_a_manual_registration_and_a_token_endpoint() {
    let c = client(ClientMode::Generated);
    let without = provider(None);
    let plan = desired(
        observed(&c, Some(&without), None, None, 1000),
        &mut counting_mint(),
    );
    assert!(credential_check(&c, Some(&without), &plan).is_none());

    let with = provider(Some("https://idp.example.com/token"));
    let mut plan = desired(
        observed(&c, Some(&with), None, None, 1000),
        &mut counting_mint(),
    );
    let check = credential_check(&c, Some(&with), &plan).expect("a check");
    assert_eq!(check.token_endpoint, "https://idp.example.com/token");
    assert_eq!(check.client_secret, "minted-1");
    assert_eq!(Some(check.client_id.clone()), plan.status.client_id);

    // The IdP knows it: Registered and Ready turn True.
    let verified = condition(
        ConditionType::Registered,
        Some(true),
        ConditionReason::VerifiedAtIdp,
        "the IdP accepted the credentials",
    );
    with_verification(&mut plan.status, verified);
    assert!(conditions::is_true(
        &plan.status.conditions,
        ConditionType::Registered
    ));
    assert!(conditions::is_true(
        &plan.status.conditions,
        ConditionType::Ready
    ));
    assert_eq!(
        plan.status
            .conditions
            .iter()
            .filter(|x| x.is(ConditionType::Ready))
            .count(),
        1
    );
    assert!(credential_check(&client(ClientMode::Static), Some(&with), &plan).is_none());
}

#[test]
fn requeue_follows_the_plan_and_the_idp_while_a_registration_is_pending() {
    let recheck = Duration::from_secs(300);
    let c = client(ClientMode::Generated);
    let p = provider(None);
    let plan = desired(
        observed(&c, Some(&p), None, None, 1000),
        &mut counting_mint(),
    );
    // Generated, not yet verified at the IdP: as often as the IdP is re-checked.
    assert_eq!(
        requeue_after(&c, &plan.rotation, &plan.status, recheck),
        recheck
    );
    let mut verified = plan.status.clone();
    with_verification(
        &mut verified,
        condition(
            ConditionType::Registered,
            Some(true),
            ConditionReason::VerifiedAtIdp,
            "ok",
        ),
    );
    assert_eq!(
        requeue_after(&c, &plan.rotation, &verified, recheck),
        RESYNC
    );
    let mut soon = plan.rotation.clone();
    soon.requeue_after = Some(Duration::from_secs(42));
    assert_eq!(
        requeue_after(&c, &soon, &verified, recheck),
        Duration::from_secs(42)
    );
    let dynamic = client(ClientMode::Dynamic);
    assert_eq!(
        requeue_after(&dynamic, &plan.rotation, &verified, recheck),
        recheck
    );
}
