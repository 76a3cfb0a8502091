//! Default tokens and the scope each action requires.

use token_authority::proto::v1::{self as pb, Action, DenialReason, Scope};

use crate::support::{assert_allowed, assert_denied, conformance_test, token_of};

/// Every action a request can ask for.
const ACTIONS: [Action; 8] = [
    Action::PostItem,
    Action::PostDeploy,
    Action::UploadSourceMap,
    Action::UploadProguardMapping,
    Action::UploadDsym,
    Action::UploadFlutterSymbols,
    Action::Read,
    Action::Write,
];

/// Item platforms to try: the five client-side ones, OS names, a capitalized client platform
/// and no platform at all.
const PLATFORMS: [&str; 9] = [
    "browser", "android", "ios", "flash", "client", "linux", "macos", "Browser", "",
];

/// Returns the name of the scope an action requires. Items whose platform is exactly one of
/// browser, android, ios, flash or client need post_client_item. Every other item, deploys and
/// symbol uploads need post_server_item. Reads need read, and writes need write.
fn expected_scope(action: Action, platform: &str) -> &'static str {
    match action {
        Action::PostItem => match platform {
            "browser" | "android" | "ios" | "flash" | "client" => "post_client_item",
            _ => "post_server_item",
        },
        Action::PostDeploy
        | Action::UploadSourceMap
        | Action::UploadProguardMapping
        | Action::UploadDsym
        | Action::UploadFlutterSymbols => "post_server_item",
        Action::Read => "read",
        Action::Write => "write",
        Action::Unspecified => panic!("ACTION_UNSPECIFIED requires no scope"),
    }
}

conformance_test!(default_tokens, |h| {
    let created = h.create_project("acct", "proj", "Project").await;

    let names: Vec<&str> = created
        .tokens
        .iter()
        .map(|issued| token_of(issued).name.as_str())
        .collect();
    assert_eq!(
        names,
        ["post_server_item", "post_client_item", "read", "write"],
        "default tokens, in scope enum order"
    );

    let scopes = [
        Scope::PostServerItem,
        Scope::PostClientItem,
        Scope::Read,
        Scope::Write,
    ];
    for (issued, scope) in created.tokens.iter().zip(scopes) {
        let token = token_of(issued);
        assert_eq!(token.scopes, [scope as i32], "scopes of {}", token.name);
        assert_eq!(token.status(), pb::TokenStatus::Enabled, "{}", token.name);
        assert_eq!(token.project_id, "proj", "project of {}", token.name);
        assert_eq!(token.rate_limit, None, "user limit of {}", token.name);
        assert_eq!(token.expires_at, None, "expiry of {}", token.name);

        let key = &issued.access_token;
        assert_eq!(key.len(), 32, "key length of {}", token.name);
        assert!(
            key.bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)),
            "key of {} is not lowercase hexadecimal",
            token.name
        );
        assert_eq!(token.key_hint, key[28..], "key hint of {}", token.name);
    }

    let mut keys: Vec<&str> = created
        .tokens
        .iter()
        .map(|issued| issued.access_token.as_str())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 4, "default tokens share a key");
});

conformance_test!(scope_table, |h| {
    let created = h.create_project("acct", "proj", "Project").await;

    for issued in &created.tokens {
        let token = token_of(issued);
        let held_scope = token.name.as_str();
        for action in ACTIONS {
            for platform in PLATFORMS {
                let case = format!("token {held_scope}, {action:?} on {platform:?}");
                let required = expected_scope(action, platform);
                let response = h.authorize(&issued.access_token, action, platform).await;

                assert_eq!(response.token_id, token.token_id, "{case}: token id");
                assert_eq!(response.project_id, "proj", "{case}: project id");
                assert_eq!(response.token_name, held_scope, "{case}: token name");
                assert_eq!(response.scopes, token.scopes, "{case}: scopes");
                if required == held_scope {
                    assert_allowed(&response);
                    assert!(
                        response.rate_limit.is_some(),
                        "{case}: no rate-limit figures"
                    );
                    continue;
                }
                assert_denied(&response, DenialReason::InsufficientScope, 403);
                assert!(
                    response
                        .message
                        .contains(&format!("{required} scope is required")),
                    "{case}: message {:?} does not name the required scope",
                    response.message
                );
                assert!(
                    response.message.contains(&format!("only has {held_scope}")),
                    "{case}: message {:?} does not name the held_scope scope",
                    response.message
                );
                assert!(
                    response.message.starts_with("insufficient privileges"),
                    "{case}: message {:?}",
                    response.message
                );
                assert_eq!(response.rate_limit, None, "{case}: rate-limit figures");
            }
        }
    }
});

conformance_test!(both_post_scopes, |h| {
    h.create_project("acct", "proj", "Project").await;
    let issued = h
        .create_scoped_token(
            "proj",
            "poster",
            &[
                Scope::PostClientItem,
                Scope::PostServerItem,
                Scope::PostClientItem,
            ],
        )
        .await;
    let key = &issued.access_token;

    assert_eq!(
        token_of(&issued).scopes,
        [Scope::PostServerItem as i32, Scope::PostClientItem as i32],
        "scopes are a set in enum order"
    );
    assert_allowed(&h.authorize(key, Action::PostItem, "browser").await);
    assert_allowed(&h.authorize(key, Action::PostItem, "linux").await);
    assert_allowed(&h.authorize(key, Action::PostDeploy, "").await);

    let read = h.authorize(key, Action::Read, "").await;
    assert_denied(&read, DenialReason::InsufficientScope, 403);
    assert!(
        read.message
            .contains("only has post_server_item, post_client_item"),
        "message {:?} does not list both held_scope scopes",
        read.message
    );
});
