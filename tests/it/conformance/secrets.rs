//! Keys are never stored in clear: after a busy scenario, no issued key appears anywhere in the
//! store, neither in key names nor in values.

use token_authority::proto::v1::{self as pb, regenerate_request::Target};

use crate::support::{conformance_test, reference, system_limit, token_of};

conformance_test!(no_key_stored, system_limit(3, 60), |h| {
    let mut issued_keys: Vec<String> = Vec::new();

    let shop = h.create_project("acct", "shop", "Web shop, \"EU\"").await;
    let api = h.create_project("acct", "api", "API").await;
    h.set_plan("acct", pb::AccountPlan::Paid).await;
    let limited = h
        .create_token(pb::CreateTokenOperation {
            project_id: "api".to_owned(),
            name: "limited".to_owned(),
            scopes: vec![pb::Scope::Read as i32],
            rate_limit: Some(pb::UserRateLimit {
                count: 2,
                window_seconds: 60,
            }),
            ..Default::default()
        })
        .await;
    for issued in shop.tokens.iter().chain(&api.tokens).chain([&limited]) {
        issued_keys.push(issued.access_token.clone());
    }

    // Allowed, denied by scope and rate-limited requests, so that windows are written.
    for _ in 0..4 {
        h.read(shop.key("read")).await;
        h.read(&limited.access_token).await;
        h.read(shop.key("write")).await;
    }

    let single = h
        .regenerate(Target::Token(reference(token_of(&limited))))
        .await
        .unwrap();
    h.expire_token(token_of(shop.token("write"))).await;
    let project = h
        .regenerate(Target::ProjectId("shop".to_owned()))
        .await
        .unwrap();
    h.expire_token(token_of(shop.token("read"))).await;
    h.expire_token(token_of(api.token("write"))).await;
    let account = h
        .regenerate(Target::AccountId("acct".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        account.tokens.len(),
        2,
        "tokens regenerated for the account"
    );
    assert!(!account.csv.is_empty(), "the account CSV");
    for response in [&single, &project, &account] {
        for issued in &response.tokens {
            issued_keys.push(issued.access_token.clone());
            h.read(&issued.access_token).await;
        }
    }

    let snapshot = h.snapshot().await;
    assert!(!snapshot.is_empty(), "the store holds nothing to inspect");
    assert_eq!(issued_keys.len(), 13, "keys issued in the scenario");
    for key in &issued_keys {
        snapshot.assert_never_contains(key);
    }
});
