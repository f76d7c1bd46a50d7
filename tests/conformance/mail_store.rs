//! Store conformance of the email aggregate: settings (verification, opt-in mails) and
//! one-time mail tokens, on the embedded store and on CQL.

use std::sync::Arc;

use chrono::{Duration, Utc};
use questpath::ports::Store;
use questpath::ports::store::{MailPreferences, MailSettings, MailToken, MailTokenPurpose};
use uuid::Uuid;

crate::conformance!(
    embedded => crate::common::embedded_store(),
    cql => crate::common::scylla_store();
    [
        settings_default_to_unverified_and_nothing_wanted,
        verification_and_preferences_do_not_overwrite_each_other,
        a_token_is_taken_once_and_only_for_its_purpose,
        concurrent_takes_of_one_token_let_exactly_one_win,
        an_expired_token_is_refused_and_removed,
        a_new_token_replaces_the_users_earlier_one_of_that_purpose,
        deleting_mail_data_forgets_settings_and_tokens_of_that_user_only,
    ]
);

fn token(user_id: Uuid, purpose: MailTokenPurpose, minutes: i64) -> MailToken {
    let now = Utc::now();
    MailToken {
        token_hash: format!("{:064x}", Uuid::new_v4().as_u128()),
        purpose,
        user_id,
        email: "ann@example.org".into(),
        // Millisecond precision: what both stores keep.
        created_at: chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap(),
        expires_at: chrono::DateTime::from_timestamp_millis(
            (now + Duration::minutes(minutes)).timestamp_millis(),
        )
        .unwrap(),
    }
}

async fn settings_default_to_unverified_and_nothing_wanted(store: Arc<dyn Store>) {
    let settings = store.mail_settings(Uuid::new_v4()).await.unwrap();
    assert_eq!(settings, MailSettings::default());
    assert!(!settings.is_verified("ann@example.org"));
}

async fn verification_and_preferences_do_not_overwrite_each_other(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    let at = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    store
        .set_mail_preferences(
            user,
            MailPreferences {
                streak_reminders: true,
                weekly_summary: false,
            },
        )
        .await
        .unwrap();
    store
        .set_email_verified(user, "ann@example.org", at)
        .await
        .unwrap();
    let settings = store.mail_settings(user).await.unwrap();
    assert!(settings.streak_reminders && !settings.weekly_summary);
    assert_eq!(settings.verified_at, Some(at));
    assert!(settings.is_verified("Ann@Example.org"));
    assert!(!settings.is_verified("someone@example.org"));

    store
        .set_mail_preferences(
            user,
            MailPreferences {
                streak_reminders: false,
                weekly_summary: true,
            },
        )
        .await
        .unwrap();
    let settings = store.mail_settings(user).await.unwrap();
    assert!(!settings.streak_reminders && settings.weekly_summary);
    assert!(settings.is_verified("ann@example.org"), "verification kept");
}

async fn a_token_is_taken_once_and_only_for_its_purpose(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    let reset = token(user, MailTokenPurpose::ResetPassword, 30);
    store.save_mail_token(&reset).await.unwrap();
    let now = Utc::now();
    assert_eq!(
        store
            .take_mail_token(&reset.token_hash, MailTokenPurpose::VerifyEmail, now)
            .await
            .unwrap(),
        None,
        "a reset token does not verify"
    );
    assert_eq!(
        store
            .take_mail_token(&reset.token_hash, MailTokenPurpose::ResetPassword, now)
            .await
            .unwrap(),
        Some(reset.clone())
    );
    assert_eq!(
        store
            .take_mail_token(&reset.token_hash, MailTokenPurpose::ResetPassword, now)
            .await
            .unwrap(),
        None,
        "second use"
    );
    assert_eq!(
        store
            .take_mail_token(
                "0".repeat(64).as_str(),
                MailTokenPurpose::ResetPassword,
                now
            )
            .await
            .unwrap(),
        None
    );
}

async fn concurrent_takes_of_one_token_let_exactly_one_win(store: Arc<dyn Store>) {
    let t = token(Uuid::new_v4(), MailTokenPurpose::ResetPassword, 30);
    store.save_mail_token(&t).await.unwrap();
    let takes = (0..6).map(|_| {
        let store = store.clone();
        let hash = t.token_hash.clone();
        tokio::spawn(async move {
            store
                .take_mail_token(&hash, MailTokenPurpose::ResetPassword, Utc::now())
                .await
                .unwrap()
        })
    });
    let mut won = 0;
    for take in takes {
        if take.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

async fn an_expired_token_is_refused_and_removed(store: Arc<dyn Store>) {
    let t = token(Uuid::new_v4(), MailTokenPurpose::VerifyEmail, 1);
    store.save_mail_token(&t).await.unwrap();
    let later = Utc::now() + Duration::minutes(2);
    assert_eq!(
        store
            .take_mail_token(&t.token_hash, MailTokenPurpose::VerifyEmail, later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_mail_token(&t.token_hash, MailTokenPurpose::VerifyEmail, Utc::now())
            .await
            .unwrap(),
        None,
        "gone after the refused use"
    );
}

async fn a_new_token_replaces_the_users_earlier_one_of_that_purpose(store: Arc<dyn Store>) {
    let user = Uuid::new_v4();
    let first = token(user, MailTokenPurpose::ResetPassword, 30);
    let verify = token(user, MailTokenPurpose::VerifyEmail, 30);
    let second = token(user, MailTokenPurpose::ResetPassword, 30);
    for t in [&first, &verify, &second] {
        store.save_mail_token(t).await.unwrap();
    }
    let now = Utc::now();
    let take = |t: &MailToken| {
        let store = store.clone();
        let (hash, purpose) = (t.token_hash.clone(), t.purpose);
        async move { store.take_mail_token(&hash, purpose, now).await.unwrap() }
    };
    assert_eq!(take(&first).await, None, "replaced by the newer reset");
    assert_eq!(take(&second).await, Some(second.clone()));
    assert_eq!(
        take(&verify).await,
        Some(verify.clone()),
        "other purpose kept"
    );
}

async fn deleting_mail_data_forgets_settings_and_tokens_of_that_user_only(store: Arc<dyn Store>) {
    let (gone, kept) = (Uuid::new_v4(), Uuid::new_v4());
    let prefs = MailPreferences {
        streak_reminders: true,
        weekly_summary: true,
    };
    let mut tokens = Vec::new();
    for user in [gone, kept] {
        store.set_mail_preferences(user, prefs).await.unwrap();
        store
            .set_email_verified(user, "x@example.org", Utc::now())
            .await
            .unwrap();
        let t = token(user, MailTokenPurpose::VerifyEmail, 30);
        store.save_mail_token(&t).await.unwrap();
        tokens.push(t);
    }
    store.delete_mail_data(gone).await.unwrap();
    store.delete_mail_data(gone).await.unwrap(); // repeatable
    assert_eq!(
        store.mail_settings(gone).await.unwrap(),
        MailSettings::default()
    );
    let now = Utc::now();
    assert_eq!(
        store
            .take_mail_token(&tokens[0].token_hash, MailTokenPurpose::VerifyEmail, now)
            .await
            .unwrap(),
        None
    );
    assert!(store.mail_settings(kept).await.unwrap().weekly_summary);
    assert!(
        store
            .take_mail_token(&tokens[1].token_hash, MailTokenPurpose::VerifyEmail, now)
            .await
            .unwrap()
            .is_some()
    );
}
