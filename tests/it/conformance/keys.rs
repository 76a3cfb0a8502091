//! Keys as end users present them: missing, unknown, malformed, padded or in the wrong case.

use token_authority::proto::v1::DenialReason;

use crate::support::{assert_allowed, assert_denied, conformance_test};

conformance_test!(missing_key, |h| {
    h.create_project("acct", "proj", "Project").await;
    let before = h.snapshot().await;

    for key in ["", " ", "\t\r\n"] {
        let response = h.read(key).await;
        assert_denied(&response, DenialReason::MissingToken, 401);
        assert_eq!(response.message, "access token is missing", "key {key:?}");
        assert_eq!(response.token_id, "", "key {key:?}");
    }

    h.assert_unchanged(&before, "after missing keys").await;
});

conformance_test!(bad_keys_unknown, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    // An allowed request first, so that the store contains windows a bad key could disturb.
    assert_allowed(&h.read(created.key("read")).await);
    let before = h.snapshot().await;

    let bad_keys = [
        ("unknown", "0123456789abcdef0123456789abcdef".to_owned()),
        ("too short", created.key("read")[1..].to_owned()),
        ("too long", format!("{}0", created.key("read"))),
        (
            "not hexadecimal",
            "not-a-key-but-thirty-two-chars!!".to_owned(),
        ),
        ("10 KB", "a".repeat(10 * 1024)),
        ("non-ASCII", "ключ-доступа-ключ-доступа-ключ".to_owned()),
        (
            "inner space",
            format!(
                "{} {}",
                &created.key("read")[..16],
                &created.key("read")[16..]
            ),
        ),
    ];
    for (case, key) in &bad_keys {
        let response = h.read(key).await;
        assert_denied(&response, DenialReason::UnknownToken, 403);
        assert_eq!(response.message, "access token not found", "{case}");
        assert_eq!(response.token_id, "", "{case}: no token is named");
        assert_eq!(response.rate_limit, None, "{case}: no rate-limit figures");
    }

    h.assert_unchanged(&before, "after unknown and malformed keys")
        .await;
});

conformance_test!(surrounding_whitespace_ignored, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read");

    for padded in [
        format!("{key}\n"),
        format!("{key}\r\n"),
        format!("  {key}\t"),
    ] {
        let response = h.read(&padded).await;
        assert_allowed(&response);
        assert_eq!(
            response.token_id,
            created.token("read").token.as_ref().unwrap().token_id,
            "key {padded:?}"
        );
    }
});

conformance_test!(key_case_sensitive, |h| {
    let created = h.create_project("acct", "proj", "Project").await;
    let key = created.key("read");
    let before = h.snapshot().await;

    let upper = key.to_ascii_uppercase();
    assert_ne!(upper, key, "the key has letters");
    assert_denied(&h.read(&upper).await, DenialReason::UnknownToken, 403);

    // The key with only its first letter in upper case.
    let first_letter = key
        .find(|c: char| c.is_ascii_alphabetic())
        .expect("the key has a letter");
    let mut one_upper = key.to_owned();
    one_upper.replace_range(
        first_letter..=first_letter,
        &key[first_letter..=first_letter].to_ascii_uppercase(),
    );
    assert_denied(&h.read(&one_upper).await, DenialReason::UnknownToken, 403);

    h.assert_unchanged(&before, "after keys in the wrong case")
        .await;
    assert_allowed(&h.read(key).await);
});
